package content

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// CheckResult counts what Check looked at, so that a caller can tell a
// check that passed from one that had nothing to check.
type CheckResult struct {
	Records  int // records read
	Payloads int // PAYLOAD records whose blob was checked
	EndPairs int // PAYLOAD_END records directly followed by their PAYLOAD
}

// Check reads a whole capture and returns the first place where its content
// breaks what CONTENT.md promises for an undamaged file:
//   - the header names this record layout and a byte order;
//   - every raw record is a whole record of its header's type and size,
//     and none is a PIECE;
//   - the JSON records decode; a PROCESS directly follows its call's ENTER;
//   - a PAYLOAD's blob is complete in the file (size Captured) when the
//     PAYLOAD is read, and already when the PAYLOAD_END directly before it
//     (same call and payload) was read;
//   - a PAYLOAD says complete only when it is, and names as missing every
//     byte from Captured to Total.
//
// It is meant for tests and small captures: it keeps every blob id seen.
func Check(r *format.Reader) (CheckResult, error) {
	var res CheckResult
	h := r.Header()
	var bo ByteOrder
	switch h.ByteOrder {
	case "little":
		bo = binary.LittleEndian
	case "big":
		bo = binary.BigEndian
	default:
		return res, fmt.Errorf("header byte order %q", h.ByteOrder)
	}
	if h.RecordLayout != layout.Version {
		return res, fmt.Errorf("header record layout %d, want %d", h.RecordLayout, layout.Version)
	}
	// firstSeen[blob] is the index of the first record read once the blob
	// was complete in the file.
	firstSeen := map[[32]byte]int{}
	var prev format.Record
	var prevHdr layout.Header
	for i := 0; ; i++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.Records++
		if blobs := r.Blobs(); len(blobs) != len(firstSeen) {
			for id, info := range blobs {
				if _, ok := firstSeen[id]; !ok && info.Present {
					firstSeen[id] = i
				}
			}
		}
		at := func(msg string, a ...any) error {
			return fmt.Errorf("record %d (type %d): %s", i, rec.Type, fmt.Sprintf(msg, a...))
		}
		var hd layout.Header
		switch {
		case rec.Type == layout.RecPiece:
			return res, at("a PIECE record is stored (pieces belong in blobs)")
		case rec.Type < layout.RecPayload:
			hd, err = layout.ParseHeader(rec.Data, bo)
			if err != nil || hd.Type != rec.Type || int(hd.Size) != len(rec.Data) {
				return res, at("raw record header %+v for %d bytes (%v)", hd, len(rec.Data), err)
			}
		case rec.Type == layout.RecProcess:
			var p layout.Process
			if err := json.Unmarshal(rec.Data, &p); err != nil {
				return res, at("%v", err)
			}
			if prev.Type != layout.RecEnter || prevHdr.CallID != p.CallID {
				return res, at("PROCESS of call %d after a type %d record of call %d", p.CallID, prev.Type, prevHdr.CallID)
			}
		case rec.Type == layout.RecPayload:
			var p layout.Payload
			if err := json.Unmarshal(rec.Data, &p); err != nil {
				return res, at("%v", err)
			}
			if err := checkPayload(p, r.Blobs()); err != nil {
				return res, at("%v", err)
			}
			res.Payloads++
			if prev.Type == layout.RecPayloadEnd {
				end, err := layout.ParsePayloadEnd(prev.Data, bo)
				if err == nil && end.CallID == p.CallID && end.Kind == p.Kind && end.Index == p.Index && end.Source == p.Source {
					var id [32]byte
					hex.Decode(id[:], []byte(p.BlobID()))
					if firstSeen[id] >= i { // the END was record i-1
						return res, at("the blob of the payload was not complete in the file when its PAYLOAD_END was read")
					}
					res.EndPairs++
				}
			}
		case rec.Type == layout.RecNote:
			var n layout.Note
			if err := json.Unmarshal(rec.Data, &n); err != nil {
				return res, at("%v", err)
			}
		}
		prev, prevHdr = format.Record{Type: rec.Type, Data: slices.Clone(rec.Data)}, hd
	}
}

// checkPayload checks one PAYLOAD record against itself and its blob.
func checkPayload(p layout.Payload, blobs map[[32]byte]format.BlobInfo) error {
	var id [32]byte
	if p.Blob == "" && p.SHA256 == "" {
		return fmt.Errorf("payload names no blob")
	}
	if n, err := hex.Decode(id[:], []byte(p.BlobID())); err != nil || n != len(id) {
		return fmt.Errorf("payload blob %q", p.BlobID())
	}
	info, ok := blobs[id]
	if !ok || !info.Present || info.Ref.Size != p.Captured {
		return fmt.Errorf("blob %s of %d bytes is not complete in the file (%+v)", p.BlobID(), p.Captured, info.Ref)
	}
	if info.Ref.ListID != (p.Blob != "") {
		return fmt.Errorf("payload names blob %s by %s, but its map names it the other way", p.BlobID(),
			map[bool]string{true: "its piece list (blob)", false: "its SHA-256 (sha256)"}[p.Blob != ""])
	}
	if p.Captured > p.Total {
		return fmt.Errorf("captured %d of a %d-byte payload", p.Captured, p.Total)
	}
	if p.Complete && (p.Captured != p.Total || len(p.Missing) > 0 || p.ReadErrors > 0) {
		return fmt.Errorf("complete, but captured %d of %d with %d missing ranges and %d read errors",
			p.Captured, p.Total, len(p.Missing), p.ReadErrors)
	}
	// Every byte of [Captured, Total) must be in a missing range.
	ms := slices.Clone(p.Missing)
	slices.SortFunc(ms, func(a, b layout.Range) int { return cmp.Compare(a.Off, b.Off) })
	covered := p.Captured
	for _, m := range ms {
		if m.Off+m.Len > covered && m.Off <= covered {
			covered = m.Off + m.Len
		}
	}
	if covered < p.Total {
		return fmt.Errorf("bytes from %d to the total %d neither captured nor named missing", covered, p.Total)
	}
	return nil
}
