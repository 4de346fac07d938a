package recorder

import (
	"fmt"
	"slices"
	"sort"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/content"
)

// Limits on what one payload may cost the recorder, whatever the ring
// delivers. Reaching one never stops the recording: the payload is cut
// there (captured stops, the rest is Missing with reason "recorder-limit")
// and the next calls are recorded as usual.
const (
	// maxZeroFill caps the zero bytes the recorder writes on its own into
	// one payload's holes: a single piece at a huge offset must not make it
	// write terabytes of zeros.
	maxZeroFill = 4 << 30
	// maxHoles caps the holes described per payload, so that its RecPayload
	// stays a small record whatever pattern of drops the ring produced.
	maxHoles = 4096
	// maxBlobPieces keeps a blob's piece list inside one format chunk
	// (8 MiB of 32-byte piece ids, with a margin): a larger blob could not
	// be closed.
	maxBlobPieces = 200_000
)

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

// Reasons a byte range of a payload is missing (the words layout.Payload uses).
const (
	reasonRingFull    = "ring-full"      // the ring had no room for the piece
	reasonReadError   = "read-error"     // BPF could not read the caller's or kernel's memory
	reasonLimit       = "recorder-limit" // the recorder stopped storing this payload (limits above, eviction)
	reasonLostEnd     = "lost-end"       // the PAYLOAD_END record never arrived
	reasonPolicy      = "policy"         // the unprivileged policy (snaplen, rate, ring share) cut it
	reasonUnexplained = "unknown"        // short, and nothing BPF said explains it
)

// payloadHole is a missing byte range and why it is missing. Holes below next are
// zero-filled in the blob; a hole from next on was never stored.
type payloadHole struct {
	off, len uint64
	reason   string
}

// assemblyStats are the recorder-wide counters every assembly feeds.
type assemblyStats struct {
	zeroFilled     uint64 // zeros written for pieces the ring lost
	readErrorBytes uint64 // zeros stored for pieces BPF could not read
	limited        uint64 // payloads cut at a recorder limit
	discarded      uint64 // pieces not stored (payload cut or given up)
	guarded        uint64 // payloads cut by the disk guard
}

// assembly streams the pieces of one payload into one blob. Only the blob's
// current piece is held in memory (by the capture writer), never the payload.
type assembly struct {
	key        payloadKey
	blob       *content.PayloadWriter
	st         *assemblyStats
	maxStored  uint64 // blob size limit (maxBlobPieces blob pieces)
	next       uint64 // bytes written to the blob so far (the payload offset reached)
	total      uint64 // original length, from the pieces
	haveTotal  bool
	holes      []payloadHole
	readErrors uint32
	pieces     uint32
	stored     uint64 // bytes stored from pieces (not zero fill)
	gapBytes   uint64 // zero bytes written for pieces that never arrived
	limited    bool   // cut: nothing is stored from next on
	cutReason  string // why: reasonLimit or reasonDiskGuard
	lastUse    uint64 // Recorder.useSeq when a piece last arrived
}

var zeros = make([]byte, 64<<10)

// cut stops storing the payload at next (see the limits above).
func (a *assembly) cut() {
	if !a.limited {
		a.limited, a.cutReason = true, reasonLimit
		a.st.limited++
	}
}

// guardCut stops storing the payload at next because the disk guard
// tripped.
func (a *assembly) guardCut() {
	if !a.limited {
		a.limited, a.cutReason = true, reasonDiskGuard
		a.st.guarded++
	}
}

// roomFor reports whether a hole at off with reason can be described.
func (a *assembly) roomFor(off uint64, reason string) bool {
	if l := len(a.holes); l > 0 && a.holes[l-1].off+a.holes[l-1].len == off && a.holes[l-1].reason == reason {
		return true // extends the last hole
	}
	return len(a.holes) < maxHoles
}

// addHole records [off, off+n) as missing for reason. Adjacent holes with
// the same reason merge; holes with different reasons stay apart so that
// every range has one cause.
func (a *assembly) addHole(off, n uint64, reason string) {
	if n == 0 {
		return
	}
	if l := len(a.holes); l > 0 && a.holes[l-1].off+a.holes[l-1].len == off && a.holes[l-1].reason == reason {
		a.holes[l-1].len += n
		return
	}
	a.holes = append(a.holes, payloadHole{off, n, reason})
}

func (a *assembly) writeZeros(n uint64) error {
	for n > 0 {
		k := min(uint64(len(zeros)), n)
		if _, err := a.blob.Write(zeros[:k]); err != nil {
			return err
		}
		a.next += k
		n -= k
	}
	return nil
}

// fill writes zeros up to off for pieces the ring lost and records
// [next, off) as missing. It reports false, writing nothing, when that
// would cross a limit: the payload is then cut at next.
func (a *assembly) fill(off uint64) (bool, error) {
	if a.limited {
		return false, nil
	}
	if off <= a.next {
		return true, nil
	}
	n := off - a.next
	if a.gapBytes+n > maxZeroFill || off > a.maxStored || !a.roomFor(a.next, reasonRingFull) {
		a.cut()
		return false, nil
	}
	a.addHole(a.next, n, reasonRingFull)
	a.gapBytes += n
	a.st.zeroFilled += n
	return true, a.writeZeros(n)
}

// errBadPiece marks a piece that contradicts its payload (the record is
// counted and skipped; the capture keeps going).
type errBadPiece struct{ msg string }

func (e *errBadPiece) Error() string { return e.msg }

// add streams one piece into the blob, zero-filling the hole before it.
// Only a failed write is an error (besides errBadPiece): a piece the
// recorder will not store cuts the payload and is counted.
func (a *assembly) add(p layout.Piece) error {
	if a.haveTotal && p.Total != a.total {
		return &errBadPiece{fmt.Sprintf("piece says payload total %d, earlier pieces said %d", p.Total, a.total)}
	}
	end := p.Offset + uint64(p.Len)
	if end < p.Offset || end > p.Total {
		return &errBadPiece{fmt.Sprintf("piece [%d,+%d) outside a %d-byte payload", p.Offset, p.Len, p.Total)}
	}
	a.total, a.haveTotal = p.Total, true
	a.pieces++
	if p.ReadErr != 0 {
		a.readErrors++ // whether stored or not: BPF could not read it
	}
	if ok, err := a.fill(p.Offset); err != nil || !ok {
		if !ok {
			a.st.discarded++
		}
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
	n := uint64(len(data))
	if a.next+n > a.maxStored || p.ReadErr != 0 && !a.roomFor(off, reasonReadError) {
		a.cut()
		a.st.discarded++
		return nil
	}
	if p.ReadErr != 0 {
		// BPF ships a piece it could not read as the attempted length of
		// zeros; write zeros ourselves so the blob never holds stale bytes,
		// and name the range: this is not ring loss.
		a.addHole(off, n, reasonReadError)
		a.st.readErrorBytes += n
		return a.writeZeros(n)
	}
	if _, err := a.blob.Write(data); err != nil {
		return err
	}
	a.next += n
	a.stored += n
	return nil
}

// finish closes the payload on its END: the blob, then the END record as BPF
// emitted it (endRaw) and the PAYLOAD record describing the payload go into
// the capture. snaplen is the configured limit (0 = none), used to know
// where BPF meant to stop. Whatever the cause, a payload shorter than its
// total says where and why: the Missing ranges cover every byte of
// [0, total) that was not captured.
func (a *assembly) finish(endRaw []byte, end layout.PayloadEnd, snaplen uint64) (layout.Payload, error) {
	// Where did BPF mean to stop, and why not at the total? Only settings
	// decide that (no-payload, snaplen); what kept BPF from reaching its stop
	// (a limit, unreadable memory, a full ring) is shortReason's to say.
	stop, why := end.Total, ""
	switch {
	case end.Flags&layout.PFNoPayload != 0:
		stop, why = a.next, "no-payload" // nothing was attempted beyond what arrived
	case end.Flags&layout.PFPolicy != 0:
		// The unprivileged policy: BPF meant to stop where it stopped
		// (its cut depends on the uid's bucket and the ring at the time).
		stop, why = a.next, reasonPolicy
	case end.Flags&layout.PFSnaplen != 0:
		stop, why = a.next, "snaplen"
		if snaplen > 0 {
			stop = max(min(end.Total, snaplen), a.next)
		}
	}
	// Pieces BPF could not reserve at the tail are not zero-filled: the blob
	// stops at the last byte that arrived and the tail is stated as Missing.
	// (Filling it would only store zeros, up to the payload's full length,
	// and a caller can make that length as large as it likes.)
	if a.next < stop { // meant to be sent, never stored
		a.addHole(a.next, stop-a.next, a.shortReason(end))
	}
	if from := max(stop, a.next); from < end.Total { // never meant to be sent
		a.addHole(from, end.Total-from, why)
	}
	p := layout.Payload{
		CallID: a.key.callID, Kind: a.key.kind, Index: a.key.index, Source: a.key.source,
		Total: end.Total, Captured: a.next, Missing: a.ranges(), ReadErrors: max(end.ReadErrors, a.readErrors),
	}
	for _, f := range []struct {
		bit    uint32
		reason string
	}{
		{layout.PFSnaplen, "snaplen"}, {layout.PFNoPayload, "no-payload"}, {layout.PFRingFull, reasonRingFull},
		{layout.PFReadError, reasonReadError}, {layout.PFLoopLimit, "loop-limit"},
		{layout.PFPolicy, reasonPolicy},
	} {
		if end.Flags&f.bit != 0 {
			p.Reasons = append(p.Reasons, f.reason)
		}
	}
	p.Reasons = a.explain(p.Reasons, p.ReadErrors)
	p.Complete = p.Captured == p.Total && len(p.Missing) == 0 && p.ReadErrors == 0
	if p.Complete {
		p.Reasons = nil
	}
	return a.blob.Finish(endRaw, p)
}

// shortReason says why bytes BPF meant to send up to its stop were not
// stored.
func (a *assembly) shortReason(end layout.PayloadEnd) string {
	switch {
	case a.limited:
		return a.cutReason
	case end.Flags&layout.PFLoopLimit != 0:
		// BPF's time or iteration limit ended the payload.
		return "loop-limit"
	case end.Flags&layout.PFReadError != 0:
		// BPF gives up after several unreadable pieces in a row.
		return reasonReadError
	case end.Flags&layout.PFRingFull != 0 || end.Dropped > 0:
		return reasonRingFull
	}
	return reasonUnexplained
}

// finishLost closes a payload whose END never came: lost to a full ring or
// the recorder stopped first (reason "lost-end"), or given up by the
// recorder ("recorder-limit"). The blob and the PAYLOAD record go into the
// capture. What was received is kept; it is never complete since nothing
// says what BPF meant to emit, and everything from the last byte received
// to the total is Missing.
func (a *assembly) finishLost(reason string) (layout.Payload, error) {
	if a.next < a.total {
		tail := reason
		if a.limited {
			tail = a.cutReason
		}
		a.addHole(a.next, a.total-a.next, tail)
	}
	p := layout.Payload{
		CallID: a.key.callID, Kind: a.key.kind, Index: a.key.index, Source: a.key.source,
		Total: a.total, Captured: a.next, Missing: a.ranges(), ReadErrors: a.readErrors, Reasons: []string{reason},
	}
	p.Reasons = a.explain(p.Reasons, p.ReadErrors)
	return a.blob.Finish(nil, p)
}

// ranges are the holes as the RecPayload record states them.
func (a *assembly) ranges() []layout.Range {
	var rs []layout.Range
	for _, h := range a.holes {
		rs = append(rs, layout.Range{Off: h.off, Len: h.len})
	}
	return rs
}

// explain adds to reasons the cause of every hole (and of read errors
// BPF counted) not named yet, so a payload with holes always says why.
func (a *assembly) explain(reasons []string, readErrors uint32) []string {
	add := func(r string) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	if readErrors > 0 {
		add(reasonReadError)
	}
	for _, h := range a.holes {
		add(h.reason)
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
