package recorder

import (
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// maxHole caps the zero bytes written for one payload. Offsets and totals
// come from the BPF side and are trusted to be sane, but a broken record
// must not make the recorder write terabytes of zeros.
const maxHole = 4 << 30

// payloadKey names one payload of one call, as the contract keys blobs.
type payloadKey struct {
	callID uint64
	kind   uint16
	index  uint16
	source uint16
}

func (k payloadKey) less(o payloadKey) bool {
	if k.kind != o.kind {
		return k.kind < o.kind
	}
	if k.index != o.index {
		return k.index < o.index
	}
	return k.source < o.source
}

// assembly streams the pieces of one payload into one blob. Only the blob's
// current piece is held in memory (by format.BlobWriter), never the payload.
type assembly struct {
	key        payloadKey
	blob       *format.BlobWriter
	next       uint64 // bytes written to the blob so far (the payload offset reached)
	total      uint64 // original length, from the pieces
	haveTotal  bool
	missing    []layout.Range
	readErrors uint32
	pieces     uint32
	stored     uint64 // bytes stored from pieces (not zero fill)
	gapBytes   uint64 // zero bytes written for pieces that never arrived
	lastUse    uint64 // Recorder.useSeq when a piece last arrived
}

var zeros = make([]byte, 64<<10)

// fill writes zeros up to off and records [next, off) as missing.
func (a *assembly) fill(off uint64) error {
	if off <= a.next {
		return nil
	}
	if off > maxHole {
		return fmt.Errorf("payload offset %d over the %d-byte limit", off, uint64(maxHole))
	}
	a.addMissing(a.next, off-a.next)
	a.gapBytes += off - a.next
	for a.next < off {
		n := min(uint64(len(zeros)), off-a.next)
		if _, err := a.blob.Write(zeros[:n]); err != nil {
			return err
		}
		a.next += n
	}
	return nil
}

func (a *assembly) addMissing(off, n uint64) {
	if n == 0 {
		return
	}
	if l := len(a.missing); l > 0 && a.missing[l-1].Off+a.missing[l-1].Len == off {
		a.missing[l-1].Len += n
		return
	}
	a.missing = append(a.missing, layout.Range{Off: off, Len: n})
}

// errBadPiece marks a piece that contradicts its payload (the record is
// counted and skipped; the capture keeps going).
type errBadPiece struct{ msg string }

func (e *errBadPiece) Error() string { return e.msg }

// add streams one piece into the blob, zero-filling the hole before it.
func (a *assembly) add(p layout.Piece) error {
	if a.haveTotal && p.Total != a.total {
		return &errBadPiece{fmt.Sprintf("piece says payload total %d, earlier pieces said %d", p.Total, a.total)}
	}
	end := p.Offset + uint64(p.Len)
	if end < p.Offset || end > p.Total {
		return &errBadPiece{fmt.Sprintf("piece [%d,+%d) outside a %d-byte payload", p.Offset, p.Len, p.Total)}
	}
	a.total, a.haveTotal = p.Total, true
	if err := a.fill(p.Offset); err != nil {
		return err
	}
	data, off := p.Data, p.Offset
	if off < a.next { // overlap with what is already stored: keep the first copy
		skip := a.next - off
		if skip >= uint64(len(data)) {
			return nil
		}
		data, off = data[skip:], a.next
	}
	a.pieces++
	if p.ReadErr != 0 {
		// BPF zero-fills a piece it could not read; say so and write zeros
		// ourselves so the blob never holds stale bytes.
		a.readErrors++
		a.addMissing(off, uint64(len(data)))
		for len(data) > 0 {
			n := min(len(data), len(zeros))
			if _, err := a.blob.Write(zeros[:n]); err != nil {
				return err
			}
			data = data[n:]
			a.next += uint64(n)
		}
		return nil
	}
	if _, err := a.blob.Write(data); err != nil {
		return err
	}
	a.next += uint64(len(data))
	a.stored += uint64(len(data))
	return nil
}

// finish closes the blob after the payload's END and describes it. snaplen is
// the configured limit (0 = none), used to know where BPF meant to stop.
func (a *assembly) finish(end layout.PayloadEnd, snaplen uint64) (layout.Payload, error) {
	// Where did BPF mean to stop? Pieces it could not reserve at the tail
	// leave no trace but the END's counters: zero-fill up to that point so
	// Captured covers what was attempted and Missing says what was lost.
	target := end.Total
	if end.Flags&layout.PFSnaplen != 0 {
		target = a.next
		if snaplen > 0 {
			target = min(end.Total, snaplen)
		}
	}
	if end.Flags&(layout.PFNoPayload|layout.PFLoopLimit) != 0 {
		target = a.next // BPF stopped on purpose or gave up: nothing was attempted beyond
	}
	if target > a.next {
		// Only holes the dropped pieces can explain are filled.
		if tail := target - a.next; end.Dropped > 0 && tail <= uint64(end.Dropped)*layout.PieceMax {
			if err := a.fill(target); err != nil {
				return layout.Payload{}, err
			}
		}
	}
	ref, err := a.blob.Close()
	if err != nil {
		return layout.Payload{}, err
	}
	p := layout.Payload{
		CallID: a.key.callID, Kind: a.key.kind, Index: a.key.index, Source: a.key.source,
		Total: end.Total, Captured: a.next, SHA256: hex.EncodeToString(ref.SHA256[:]),
		Missing: a.missing, ReadErrors: max(end.ReadErrors, a.readErrors),
	}
	for _, f := range []struct {
		bit    uint32
		reason string
	}{
		{layout.PFSnaplen, "snaplen"}, {layout.PFNoPayload, "no-payload"}, {layout.PFRingFull, "ring-full"},
		{layout.PFReadError, "read-error"}, {layout.PFLoopLimit, "loop-limit"},
	} {
		if end.Flags&f.bit != 0 {
			p.Reasons = append(p.Reasons, f.reason)
		}
	}
	p.Reasons = explainMissing(p.Reasons, a.gapBytes, p.ReadErrors)
	p.Complete = p.Captured == p.Total && len(p.Missing) == 0 && p.ReadErrors == 0
	if p.Complete {
		p.Reasons = nil
	}
	return p, nil
}

// finishLost closes a payload whose END never arrived (lost to a full ring,
// or the recorder stopped first). What was received is kept; it is never
// complete since nothing says what BPF meant to emit.
func (a *assembly) finishLost() (layout.Payload, error) {
	ref, err := a.blob.Close()
	if err != nil {
		return layout.Payload{}, err
	}
	p := layout.Payload{
		CallID: a.key.callID, Kind: a.key.kind, Index: a.key.index, Source: a.key.source,
		Total: a.total, Captured: a.next, SHA256: hex.EncodeToString(ref.SHA256[:]),
		Missing: a.missing, ReadErrors: a.readErrors, Reasons: []string{"lost-end"},
	}
	p.Reasons = explainMissing(p.Reasons, a.gapBytes, p.ReadErrors)
	return p, nil
}

// explainMissing makes sure a payload with holes carries a reason for them:
// a hole that is not a failed read is a piece the ring could not take.
func explainMissing(reasons []string, gapBytes uint64, readErrors uint32) []string {
	has := func(r string) bool {
		for _, x := range reasons {
			if x == r {
				return true
			}
		}
		return false
	}
	if readErrors > 0 && !has("read-error") {
		reasons = append(reasons, "read-error")
	}
	if gapBytes > 0 && !has("ring-full") {
		reasons = append(reasons, "ring-full")
	}
	return reasons
}

// sortedKeys returns the payload keys of m in a stable order.
func sortedKeys(m map[payloadKey]*assembly) []payloadKey {
	keys := make([]payloadKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	return keys
}
