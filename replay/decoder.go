package replay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// MaxOpenCalls bounds the calls a Decoder keeps waiting for their exit.
// Beyond it the oldest open call is given up as "unfinished" (with a
// problem saying so), so a capture full of lost exits cannot exhaust memory.
const MaxOpenCalls = 4096

// maxProblems bounds the capture-level problem list; the rest are counted.
const maxProblems = 200

// maxNotes bounds the recorder notes kept in memory; the rest are counted.
const maxNotes = 1000

// DecodeStats counts what the decoder saw. Every record is accounted for:
// decoded, skipped as unknown, malformed or orphaned.
type DecodeStats struct {
	Records    int            `json:"records"`           // records fed to Add
	ByType     map[string]int `json:"by_type"`           // decoded records per type name
	Unknown    map[uint16]int `json:"unknown,omitempty"` // unknown record types, skipped
	Malformed  int            `json:"malformed"`         // records that could not be parsed
	Orphans    int            `json:"orphans"`           // records for call ids with no entry seen
	Late       int            `json:"late"`              // records for calls already finished
	Calls      int            `json:"calls"`             // calls returned (complete + unfinished)
	Unfinished int            `json:"unfinished"`        // calls returned without an exit
	Evicted    int            `json:"evicted"`           // calls given up because MaxOpenCalls was reached
	Notes      int            `json:"notes"`             // recorder notes seen
	Problems   int            `json:"problems"`          // capture-level problems (all, even past the kept list)
	FirstBoot  uint64         `json:"first_boot_ns,omitempty"`
	LastBoot   uint64         `json:"last_boot_ns,omitempty"`
}

// ErrLayout is returned by Add when the capture's record layout or byte
// order is one this decoder cannot read at all.
var ErrLayout = errors.New("unsupported record layout")

// Decoder turns records (in file order) into calls. It is not safe for
// concurrent use. Damage never makes it fail: problems are attached to the
// call they concern (Call.Problems) or, when no call can be named, kept as
// capture-level problems (Problems) and counted in Stats.
type Decoder struct {
	h       format.Header
	bo      binary.ByteOrder
	fatal   error
	open    map[uint64]*callState
	openQ   []openRef           // in opening order, for eviction (may name finished ones)
	done    map[uint64]struct{} // ids of finished calls, for "late record" accounting
	doneQ   []uint64
	seq     uint64
	stats   DecodeStats
	probs   []string
	notes   []layout.Note
	arch    string
	hasWall bool

	// Repeated strings (executables, argv, hashes) and flag decodings are
	// shared between calls instead of allocated per call. Calls only ever
	// read them.
	strs   map[string]string
	flagc  map[flagKey]flagNames
	intern func([]byte) string // d.internBytes, made once
	free   []*callBox          // boxes of released calls (Release)
	recent [256]string         // internBytes' cache in front of strs
}

// NewDecoder returns a decoder for records of a file with header h.
func NewDecoder(h format.Header) *Decoder {
	d := &Decoder{
		h:     h,
		open:  make(map[uint64]*callState),
		done:  make(map[uint64]struct{}),
		arch:  h.Arch,
		strs:  make(map[string]string),
		flagc: make(map[flagKey]flagNames),
	}
	d.stats.ByType = make(map[string]int)
	d.intern = d.internBytes
	switch h.ByteOrder {
	case "little", "":
		d.bo = binary.LittleEndian
		if h.ByteOrder == "" {
			d.problem("header names no byte order: assuming little-endian")
		}
	case "big":
		d.bo = binary.BigEndian
	default:
		d.fatal = fmt.Errorf("%w: byte order %q", ErrLayout, h.ByteOrder)
	}
	if h.RecordLayout != layout.Version && d.fatal == nil {
		d.fatal = fmt.Errorf("%w: record layout %d (this decoder reads %d)", ErrLayout, h.RecordLayout, layout.Version)
	}
	d.hasWall = !h.WallStart.IsZero() && h.BootStartNS != 0
	return d
}

// Stats returns what the decoder counted so far.
func (d *Decoder) Stats() DecodeStats {
	s := d.stats
	s.ByType = make(map[string]int, len(d.stats.ByType))
	for k, v := range d.stats.ByType {
		s.ByType[k] = v
	}
	return s
}

// Problems returns capture-level problems (at most 200 kept; Stats().Problems counts all).
func (d *Decoder) Problems() []string { return d.probs }

// Notes returns the recorder's notes (RecNote) seen so far (at most 1000 kept).
func (d *Decoder) Notes() []layout.Note { return d.notes }

func (d *Decoder) problem(format string, a ...any) {
	d.stats.Problems++
	if len(d.probs) < maxProblems {
		d.probs = append(d.probs, fmt.Sprintf(format, a...))
	}
}

// WallTime converts a boot-time stamp into wall-clock time using the
// header's time pair (zero when the header has none).
func (d *Decoder) WallTime(bootNS uint64) time.Time {
	if !d.hasWall {
		return time.Time{}
	}
	return d.h.WallStart.Add(time.Duration(int64(bootNS - d.h.BootStartNS))).UTC()
}

func typeName(t uint16) string { return recordTypeNames.name(t) }

var recordTypeNames = newEnumNames("type", map[uint16]string{
	layout.RecEnter: "enter", layout.RecSegments: "segments", layout.RecPiece: "piece",
	layout.RecPayloadEnd: "payload_end", layout.RecExit: "exit", layout.RecFile: "file", layout.RecLoaded: "loaded",
	layout.RecCaller: "caller", layout.RecArgs: "args", layout.RecPayload: "payload",
	layout.RecProcess: "process", layout.RecNote: "note"})

// Add feeds one record; it returns the calls this record completed (usually
// none or one; more when open calls had to be given up). The error is
// non-nil only when the capture cannot be decoded at all (ErrLayout); every
// other problem is recorded and decoding goes on.
func (d *Decoder) Add(r format.Record) ([]*Call, error) {
	if d.fatal != nil {
		return nil, d.fatal
	}
	d.stats.Records++
	switch r.Type {
	case layout.RecEnter:
		return d.enter(r.Data), nil
	case layout.RecSegments, layout.RecPayloadEnd, layout.RecFile:
		return d.rawPart(r.Type, r.Data), nil
	case layout.RecExit:
		return d.exit(r.Data), nil
	case layout.RecLoaded:
		return d.loadedRec(r.Data), nil
	case layout.RecCaller:
		return d.callerRec(r.Data), nil
	case layout.RecArgs:
		return d.argsRec(r.Data), nil
	case layout.RecPiece:
		// The recorder never stores pieces (they become blobs); one here is
		// a recorder bug, counted but not decoded.
		d.stats.ByType[typeName(r.Type)]++
		d.problem("piece record stored in the capture (pieces belong in blobs): skipped")
		return nil, nil
	case layout.RecPayload:
		return d.payload(r.Data), nil
	case layout.RecProcess:
		return d.process(r.Data), nil
	case layout.RecNote:
		var n layout.Note
		if err := json.Unmarshal(r.Data, &n); err != nil {
			d.malformed(r.Type, err)
			return nil, nil
		}
		d.stats.ByType[typeName(r.Type)]++
		d.stats.Notes++
		if len(d.notes) < maxNotes {
			d.notes = append(d.notes, n)
		}
		return nil, nil
	}
	if d.stats.Unknown == nil {
		d.stats.Unknown = make(map[uint16]int)
	}
	if d.stats.Unknown[r.Type] == 0 {
		d.problem("unknown record type %d skipped (a newer recorder?)", r.Type)
	}
	d.stats.Unknown[r.Type]++
	return nil, nil
}

func (d *Decoder) malformed(t uint16, err error) {
	d.stats.Malformed++
	d.problem("malformed %s record: %v", typeName(t), err)
}

func (d *Decoder) seeTime(ts uint64) {
	if ts == 0 {
		return
	}
	if d.stats.FirstBoot == 0 || ts < d.stats.FirstBoot {
		d.stats.FirstBoot = ts
	}
	if ts > d.stats.LastBoot {
		d.stats.LastBoot = ts
	}
}

// lookup finds the open call a record belongs to. A record for a call whose
// entry was never seen opens a call anyway (so its data is not lost) with a
// problem saying the entry is missing.
func (d *Decoder) lookup(id uint64, t uint16) (*callState, []*Call, bool) {
	if cs, ok := d.open[id]; ok {
		return cs, nil, true
	}
	if _, ok := d.done[id]; ok {
		d.stats.Late++
		d.problem("%s record for call %d after its exit: ignored", typeName(t), id)
		return nil, nil, false
	}
	d.stats.Orphans++
	cs, out := d.newCall(id)
	cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("entry record lost: call first seen in a %s record", typeName(t)))
	return cs, out, true
}

// guessABI is the ABI of a call whose entry was lost: the native ABI of
// the header's architecture, except on arm64 for the AArch32 numbers (the
// two ABIs' kexec numbers are disjoint: bpf/arch.h).
func (d *Decoder) guessABI(nr uint32) uint32 {
	switch d.arch {
	case "arm64", "aarch64":
		if SyscallName(layout.ABIAArch32, nr) != "" {
			return layout.ABIAArch32
		}
		return layout.ABIARM64
	}
	return layout.ABIX64
}

// Flush returns the calls still open (no exit seen), marked "unfinished",
// in the order they were opened.
func (d *Decoder) Flush() []*Call {
	states := make([]*callState, 0, len(d.open))
	for _, cs := range d.open {
		states = append(states, cs)
	}
	sort.Slice(states, func(i, j int) bool { return states[i].seq < states[j].seq })
	out := make([]*Call, 0, len(states))
	for _, cs := range states {
		out = append(out, d.finish(cs, false))
	}
	return out
}
