package replay

import (
	"bytes"
	"io"
	"strconv"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// locateDifferences finds, for each DIFFERENT loaded segment whose entry
// and loaded copies are both in the capture, the offsets of the first
// differing pieces (BPF's piece size, the unit both copies were read in).
func (c *Capture) locateDifferences(call *Call) {
	for _, l := range call.Loaded {
		if l.Verdict != VerdictDifferent || l.Payload == nil || len(l.DiffersAt) > 0 {
			continue
		}
		var entry *Payload
		for i := range call.Segments {
			if call.Segments[i].Index == l.Index {
				entry = call.Segments[i].Payload
			}
		}
		if entry == nil || entry.Blob == "" || l.Payload.Blob == "" || entry.SHA256 == l.Payload.SHA256 {
			continue
		}
		offs, err := c.differingPieces(entry.Blob, l.Payload.Blob)
		if err != nil {
			call.Problems = append(call.Problems, "loaded segment "+strconv.Itoa(l.Index)+": "+err.Error())
			continue
		}
		l.DiffersAt = offs
	}
}

// differingPieces compares two payloads piece by piece and returns the
// offsets of the first maxDiffersAt pieces that differ (a piece present in
// one only counts as differing).
func (c *Capture) differingPieces(a, b string) ([]uint64, error) {
	ra, err := c.Payload(a)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	rb, err := c.Payload(b)
	if err != nil {
		return nil, err
	}
	defer rb.Close()
	pa, pb := make([]byte, layout.PieceMax), make([]byte, layout.PieceMax)
	var offs []uint64
	for off := uint64(0); len(offs) < maxDiffersAt; off += layout.PieceMax {
		na, ea := io.ReadFull(ra, pa)
		nb, eb := io.ReadFull(rb, pb)
		if na == 0 && nb == 0 {
			break
		}
		if !bytes.Equal(pa[:na], pb[:nb]) {
			offs = append(offs, off)
		}
		if ea != nil && ea != io.ErrUnexpectedEOF && ea != io.EOF {
			return offs, ea
		}
		if eb != nil && eb != io.ErrUnexpectedEOF && eb != io.EOF {
			return offs, eb
		}
		if ea != nil && eb != nil {
			break
		}
	}
	return offs, nil
}
