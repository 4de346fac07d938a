package replay

import (
	"errors"
	"fmt"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The records about a call's payloads (segment table, files the kernel
// read, payload end accounting, payload references) and how each payload
// is assembled and linked to its segment or file.

// rawPart handles SEGMENTS, PAYLOAD_END and FILE records.
func (d *Decoder) rawPart(t uint16, b []byte) []*Call {
	var (
		id  uint64
		ts  uint64
		err error
		seg layout.Segments
		end layout.PayloadEnd
		fil layout.File
	)
	switch t {
	case layout.RecSegments:
		seg, err = layout.ParseSegments(b, d.bo)
		id, ts = seg.CallID, seg.TimeNS
	case layout.RecPayloadEnd:
		end, err = layout.ParsePayloadEnd(b, d.bo)
		id, ts = end.CallID, end.TimeNS
	case layout.RecFile:
		fil, err = layout.ParseFile(b, d.bo)
		id, ts = fil.CallID, fil.TimeNS
	}
	if err != nil {
		d.malformed(t, err)
		// The header may still name the call: say so there too.
		if h, herr := layout.ParseHeader(b, d.bo); herr == nil || errors.Is(herr, layout.ErrShort) && len(b) >= layout.HeaderSize {
			if cs, ok := d.open[h.CallID]; ok {
				cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("malformed %s record: %v", typeName(t), err))
			}
		}
		return nil
	}
	d.stats.ByType[typeName(t)]++
	d.seeTime(ts)
	cs, out, ok := d.lookup(id, t)
	if !ok {
		return out
	}
	c := cs.call
	switch t {
	case layout.RecSegments:
		if c.Segments == nil {
			c.Segments = cs.box.segs[:0]
		}
		c.Segments = c.Segments[:0]
		for i, s := range seg.Segs {
			c.Segments = append(c.Segments, Segment{Index: i, Buf: s.Buf, BufSz: s.BufSz, Mem: s.Mem, MemSz: s.MemSz})
		}
		if seg.ReadErr != 0 {
			c.SegmentTableError = ErrnoName(-int64(seg.ReadErr))
		}
		if seg.Flags&layout.SFTooMany != 0 || seg.NrPassed > uint64(len(seg.Segs)) && seg.ReadErr == 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("segment table: %d passed, %d read", seg.NrPassed, len(seg.Segs)))
		}
		// Link payloads that arrived before the table.
		for _, e := range cs.payloads {
			linkPayload(c, e.k, e.p)
		}
	case layout.RecPayloadEnd:
		k := payloadKey{end.Kind, end.Index, end.Source}
		for i := range cs.ends {
			if cs.ends[i].k == k {
				cs.ends[i].e = end // the later one counts
				return out
			}
		}
		if !cs.tooMany("payload_end") {
			cs.ends = append(cs.ends, endEntry{k, end})
		}
	case layout.RecFile:
		f := File{
			Kind:  KindName(fil.Kind),
			Path:  fil.Path,
			Dev:   fmt.Sprintf("%d:%d", fil.Dev>>20, fil.Dev&(1<<20-1)),
			Ino:   fil.Ino,
			Size:  fil.Size,
			ISize: fil.ISize,
		}
		if fil.Size != fil.ISize {
			c.Problems = append(c.Problems, fmt.Sprintf("%s file: kernel read %d bytes of a %d-byte inode", f.Kind, fil.Size, fil.ISize))
		}
		c.Files = append(c.Files, f)
		for _, e := range cs.payloads {
			linkPayload(c, e.k, e.p)
		}
	}
	return out
}

// linkPayload points a segment or file at its payload.
func linkPayload(c *Call, k payloadKey, p *Payload) {
	switch k.kind {
	case layout.KindSegment:
		for i := range c.Segments {
			if c.Segments[i].Index == int(k.index) && c.Segments[i].Payload == nil {
				c.Segments[i].Payload = p
			}
		}
	case layout.KindKernel, layout.KindInitrd:
		for i := range c.Files {
			if c.Files[i].Kind == KindName(uint32(k.kind)) && (c.Files[i].Payload == nil || p.Source == "kernel-read") {
				c.Files[i].Payload = p
			}
		}
	}
}

func (d *Decoder) payload(b []byte) []*Call {
	lp, err := decodePayload(b, d.intern)
	if err != nil {
		d.malformed(layout.RecPayload, err)
		return nil
	}
	d.stats.ByType["payload"]++
	cs, out, ok := d.lookup(lp.CallID, layout.RecPayload)
	if !ok {
		return out
	}
	p := cs.box.newPayload()
	*p = Payload{
		Kind:     KindName(uint32(lp.Kind)),
		Index:    int(lp.Index),
		Source:   SourceName(lp.Source),
		Total:    lp.Total,
		Captured: lp.Captured,
		SHA256:   lp.SHA256,
		Blob:     lp.BlobID(),
		listed:   lp.Blob != "",
		Complete: lp.Complete,
		Reasons:  lp.Reasons,
	}
	for _, m := range lp.Missing {
		p.Missing = append(p.Missing, Range{Off: m.Off, Len: m.Len})
	}
	// The recorder's word is checked, not trusted: complete means every byte.
	if p.Complete && (p.Captured != p.Total || len(p.Missing) > 0) {
		p.Complete = false
		p.Reasons = append(p.Reasons, "inconsistent")
		cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("%s %d: marked complete but captured %d of %d bytes, %d holes",
			p.Kind, p.Index, p.Captured, p.Total, len(p.Missing)))
	}
	if !p.Complete && len(p.Reasons) == 0 {
		p.Reasons = []string{"unknown"}
	}
	k := payloadKey{lp.Kind, lp.Index, lp.Source}
	old, dup := cs.payload(k)
	if !dup && cs.tooMany("payload") {
		return out
	}
	if dup {
		cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("%s %d (%s): payload recorded twice, the later one kept", p.Kind, p.Index, p.Source))
		for i, q := range cs.call.Payloads {
			if q == old {
				cs.call.Payloads = append(cs.call.Payloads[:i], cs.call.Payloads[i+1:]...)
				break
			}
		}
		for i := range cs.call.Segments {
			if cs.call.Segments[i].Payload == old {
				cs.call.Segments[i].Payload = nil
			}
		}
		for i := range cs.call.Files {
			if cs.call.Files[i].Payload == old {
				cs.call.Files[i].Payload = nil
			}
		}
	}
	if dup {
		for i := range cs.payloads {
			if cs.payloads[i].k == k {
				cs.payloads[i].p = p
			}
		}
	} else {
		cs.payloads = append(cs.payloads, payEntry{k, p})
	}
	if cs.call.Payloads == nil {
		cs.call.Payloads = cs.box.pays[:0]
	}
	cs.call.Payloads = append(cs.call.Payloads, p)
	linkPayload(cs.call, k, p)
	return out
}
