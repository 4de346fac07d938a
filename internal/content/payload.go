package content

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// PayloadWriter streams the captured bytes of one payload into its blob.
// Only the blob's current piece is held in memory, never the payload.
// Several may be open at once (payloads of concurrent calls).
type PayloadWriter struct {
	w    *Writer
	blob *format.BlobWriter
	sum  hash.Hash // Options.PayloadSHA256
}

// NewPayload starts the blob of one payload.
func (w *Writer) NewPayload() *PayloadWriter {
	p := &PayloadWriter{w: w, blob: w.fw.NewBlob()}
	if w.sha256 {
		p.sum = sha256.New()
	}
	return p
}

// Write appends bytes to the payload's blob, at the next payload offset:
// the blob holds the payload's first Captured bytes, ranges that never
// arrived zero-filled by the caller so that offsets stay true.
func (p *PayloadWriter) Write(b []byte) (int, error) {
	n, err := p.blob.Write(b)
	if p.sum != nil {
		p.sum.Write(b[:n])
	}
	return n, err
}

// Finish closes the blob (its last piece and its blob map go into the
// file now), then writes end, the PAYLOAD_END record as BPF emitted it (nil
// when it never arrived), and the PAYLOAD record d. d's Captured and Blob
// (format 1.1; SHA256 in 1.0, and in 1.1 with Options.PayloadSHA256) are
// set from the blob; the rest (payload key,
// total, missing ranges, reasons) is the caller's. It returns d as written.
func (p *PayloadWriter) Finish(end []byte, d layout.Payload) (layout.Payload, error) {
	ref, err := p.blob.Close()
	if err != nil {
		return d, err
	}
	d.Captured = ref.Size
	if ref.ListID {
		d.Blob = hex.EncodeToString(ref.ID[:])
		if p.sum != nil {
			d.SHA256 = hex.EncodeToString(p.sum.Sum(nil))
		}
	} else {
		d.SHA256 = hex.EncodeToString(ref.ID[:])
	}
	if end != nil {
		if err := p.w.WriteRaw(end); err != nil {
			return d, err
		}
	}
	return d, p.w.writeJSON(layout.RecPayload, d)
}

// WriteWholePayload writes a payload that BPF sent whole and the recorder
// stored complete, the way the recorder does: data as its blob, then the
// PAYLOAD_END record (Total and Emitted the length of data, Pieces the
// number of ring pieces BPF cuts it into) and a complete PAYLOAD record.
// end names the call, time and payload (kind, index, source); its other
// fields are set here. Sample and test captures use it.
func (w *Writer) WriteWholePayload(end layout.PayloadEnd, data []byte) error {
	pw := w.NewPayload()
	if _, err := pw.Write(data); err != nil {
		return err
	}
	n := uint64(len(data))
	end.Total, end.Emitted = n, n
	end.Pieces = uint32((n + layout.PieceMax - 1) / layout.PieceMax)
	end.Dropped, end.ReadErrors, end.Flags = 0, 0, 0
	_, err := pw.Finish(end.Marshal(w.bo), layout.Payload{CallID: end.CallID, Kind: end.Kind, Index: end.Index,
		Source: end.Source, Total: n, Complete: true})
	return err
}
