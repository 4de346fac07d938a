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

// recentSlot picks a slot of Decoder.recent from the length and the first
// and last 8 bytes (hashes differ there, paths in their tails).
func recentSlot(b []byte) uint8 {
	var x uint64
	if n := len(b); n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0x9e3779b97f4a7c15
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	x ^= uint64(len(b))
	return uint8((x * 0x9e3779b97f4a7c15) >> 56)
}

type callState struct {
	seq  uint64
	call *Call
	// box holds the call and the values its pointer fields point at.
	box  *callBox
	full bool // tooMany said so
	// ends: BPF's accounting per payload, to notice payloads never assembled.
	ends []endEntry
	// payloads by key, to link segments and files.
	payloads []payEntry
}

// openRef names an opened call; seq tells it from a later call with the
// same id (or a later call in the same, reused, memory).
type openRef struct {
	id, seq uint64
}

// isOpen reports whether the call r names is still open.
func (d *Decoder) isOpen(r openRef) (*callState, bool) {
	cs, ok := d.open[r.id]
	return cs, ok && cs.seq == r.seq
}

// callBox is one call's memory: the state, the call and the targets of its
// optional (pointer) fields, in one allocation instead of a dozen; on large
// captures allocation and garbage collection were most of the decoding time.
type callBox struct {
	state callState
	call  Call
	u64   [4]uint64
	i32   [2]int32
	ret   int64
	// Room for the usual number of segments and payloads (kexec-tools
	// passes 3 to 6 segments); more spill to the heap.
	segs [8]Segment
	pays [8]*Payload
	pay  [8]Payload
	npay int
	ends [8]endEntry
	keys [8]payEntry
}

// newPayload returns room for one more payload of the call.
func (b *callBox) newPayload() *Payload {
	if b.npay < len(b.pay) {
		b.npay++
		return &b.pay[b.npay-1]
	}
	return new(Payload)
}

// Release gives a call's memory back for reuse by later calls: the caller
// must not touch the call (or its segments and payloads) afterwards. Calls
// never released are simply garbage collected.
func (d *Decoder) Release(c *Call) {
	if c == nil || c.box == nil || &c.box.call != c || len(d.free) >= maxFreeBoxes {
		return
	}
	b := c.box
	c.box = nil // a second Release of the same call is a no-op
	d.free = append(d.free, b)
}

// maxFreeBoxes bounds the boxes kept for reuse.
const maxFreeBoxes = 1024

// Bounds of the decoder's caches of repeated strings and flag names.
const (
	maxInterned  = 4096
	maxInternLen = 4096
	maxFlagCache = 256
)

type flagKey struct {
	syscall string
	flags   uint64
}

type flagNames struct {
	names []string
	arch  string
}

// A call has a few payloads (segments, kernel, initrd, command line, each
// from one or two sources): small slices searched in order beat maps, and
// keep the order records came in. maxPayloadKeys bounds what a damaged or
// hostile capture can make one call hold.
const maxPayloadKeys = 64

type endEntry struct {
	k payloadKey
	e layout.PayloadEnd
}

type payEntry struct {
	k payloadKey
	p *Payload
}

func (cs *callState) end(k payloadKey) (layout.PayloadEnd, bool) {
	for _, e := range cs.ends {
		if e.k == k {
			return e.e, true
		}
	}
	return layout.PayloadEnd{}, false
}

func (cs *callState) payload(k payloadKey) (*Payload, bool) {
	for _, e := range cs.payloads {
		if e.k == k {
			return e.p, true
		}
	}
	return nil, false
}

// tooMany says (once per call, as a problem) that a record was dropped
// because the call already holds maxPayloadKeys payloads.
func (cs *callState) tooMany(what string) bool {
	if len(cs.ends) < maxPayloadKeys && len(cs.payloads) < maxPayloadKeys {
		return false
	}
	if !cs.full {
		cs.full = true
		cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("more than %d payloads for one call: later %s records ignored", maxPayloadKeys, what))
	}
	return true
}

type payloadKey struct {
	kind, index, source uint16
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

func typeName(t uint16) string {
	switch t {
	case layout.RecEnter:
		return "enter"
	case layout.RecSegments:
		return "segments"
	case layout.RecPiece:
		return "piece"
	case layout.RecPayloadEnd:
		return "payload_end"
	case layout.RecExit:
		return "exit"
	case layout.RecFile:
		return "file"
	case layout.RecPayload:
		return "payload"
	case layout.RecProcess:
		return "process"
	case layout.RecNote:
		return "note"
	}
	return fmt.Sprintf("type-%d", t)
}

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

// newCall opens a call; the caller fills it.
func (d *Decoder) newCall(id uint64) (*callState, []*Call) {
	var out []*Call
	if len(d.open) >= MaxOpenCalls {
		out = append(out, d.evictOldest())
	}
	d.seq++
	var box *callBox
	if n := len(d.free); n > 0 {
		box = d.free[n-1]
		d.free = d.free[:n-1]
		*box = callBox{}
	} else {
		box = &callBox{}
	}
	box.call = Call{ID: id, Outcome: "unfinished", box: box}
	box.call.Args.FlagNames = []string{}
	cs := &box.state
	cs.seq, cs.call, cs.box = d.seq, &box.call, box
	cs.ends, cs.payloads = box.ends[:0], box.keys[:0]
	d.open[id] = cs
	d.openQ = append(d.openQ, openRef{id, cs.seq})
	if len(d.openQ) > 4*MaxOpenCalls && len(d.openQ) > 4*len(d.open) {
		// Drop finished entries so the queue stays proportional to open calls.
		q := d.openQ[:0]
		for _, r := range d.openQ {
			if _, ok := d.isOpen(r); ok {
				q = append(q, r)
			}
		}
		d.openQ = q
	}
	return cs, out
}

func (d *Decoder) evictOldest() *Call {
	var oldest *callState
	for oldest == nil {
		r := d.openQ[0]
		d.openQ = d.openQ[1:]
		if cs, ok := d.isOpen(r); ok {
			oldest = cs
		}
	}
	d.stats.Evicted++
	oldest.call.Problems = append(oldest.call.Problems,
		fmt.Sprintf("given up: more than %d calls open at once (exit never seen)", MaxOpenCalls))
	return d.finish(oldest, false)
}

// finish closes a call: links payloads, checks what is missing, forgets it.
func (d *Decoder) finish(cs *callState, exited bool) *Call {
	c := cs.call
	delete(d.open, c.ID)
	d.done[c.ID] = struct{}{}
	d.doneQ = append(d.doneQ, c.ID)
	if len(d.doneQ) > 2*MaxOpenCalls {
		// Keep the late-record memory bounded too.
		for _, id := range d.doneQ[:MaxOpenCalls] {
			delete(d.done, id)
		}
		d.doneQ = append(d.doneQ[:0], d.doneQ[MaxOpenCalls:]...)
	}
	if !exited {
		c.Outcome = "unfinished"
		c.Problems = append(c.Problems, "no exit record: the recorder stopped or the record was lost")
		d.stats.Unfinished++
	}
	// Payloads whose BPF accounting arrived but whose blob record never did.
	var keys []payloadKey
	for _, e := range cs.ends {
		if _, ok := cs.payload(e.k); !ok {
			keys = append(keys, e.k)
		}
	}
	sortKeys(keys)
	for _, k := range keys {
		e, _ := cs.end(k)
		c.Problems = append(c.Problems, fmt.Sprintf("%s %d (%s): BPF ended it (%d of %d bytes) but the capture holds no payload record",
			KindName(uint32(k.kind)), k.index, SourceName(k.source), e.Emitted, e.Total))
	}
	for i := range c.Segments {
		s := &c.Segments[i]
		if s.Payload == nil && s.BufSz > 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("segment %d: no payload in the capture", s.Index))
		}
	}
	d.stats.Calls++
	return c
}

func sortKeys(k []payloadKey) {
	sort.Slice(k, func(i, j int) bool {
		if k[i].kind != k[j].kind {
			return k[i].kind < k[j].kind
		}
		if k[i].index != k[j].index {
			return k[i].index < k[j].index
		}
		return k[i].source < k[j].source
	})
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

func (d *Decoder) enter(b []byte) []*Call {
	e, err := layout.ParseEnter(b, d.bo)
	if err != nil {
		d.malformed(layout.RecEnter, err)
		return nil
	}
	d.stats.ByType["enter"]++
	d.seeTime(e.TimeNS)
	var out []*Call
	cs, ok := d.open[e.CallID]
	switch {
	case ok && cs.call.Syscall != "":
		// A second entry with the same id: the first call is over for us.
		cs.call.Problems = append(cs.call.Problems, "a second entry record with the same call id followed")
		out = append(out, d.finish(cs, false))
		var more []*Call
		cs, more = d.newCall(e.CallID)
		out = append(out, more...)
	case ok:
		// Opened by an orphan record that arrived before its entry.
	default:
		if _, late := d.done[e.CallID]; late {
			d.problem("entry record for call %d after that call ended: decoded as a new call", e.CallID)
		}
		var more []*Call
		cs, more = d.newCall(e.CallID)
		out = append(out, more...)
	}
	c := cs.call
	c.SyscallNr = e.SyscallNr
	c.ABI = ABIName(e.ABI)
	c.Syscall = SyscallName(e.ABI, e.SyscallNr)
	if c.Syscall == "" {
		c.Syscall = fmt.Sprintf("syscall-%d", e.SyscallNr)
		c.Problems = append(c.Problems, fmt.Sprintf("syscall %d is not a kexec syscall on %s", e.SyscallNr, c.ABI))
	}
	c.Hook = HookName(e.Hook)
	c.BootNS = e.TimeNS
	c.Time = d.WallTime(e.TimeNS)
	c.CPU = e.CPU
	c.Caller.PID, c.Caller.TID, c.Caller.PPID = e.PID, e.TID, e.PPID
	c.Caller.UID, c.Caller.GID, c.Caller.EUID, c.Caller.EGID = e.UID, e.GID, e.EUID, e.EGID
	c.Caller.LoginUID, c.Caller.SessionID = e.LoginUID, e.SessionID
	c.Caller.Comm = e.Comm
	c.Caller.CgroupID = e.CgroupID
	c.Caller.MntNS, c.Caller.PidNS = e.MntNS, e.PidNS
	c.Args.Raw = e.Args
	d.decodeArgs(cs.box)
	return out
}

// decodeArgs fills Args from Raw according to the syscall; the optional
// fields point into the call's box.
func (d *Decoder) decodeArgs(box *callBox) {
	c := &box.call
	a := &c.Args
	u, i := &box.u64, &box.i32
	switch c.Syscall {
	case "kexec_load":
		u[0], u[1], u[2] = a.Raw[0], a.Raw[1], a.Raw[2]
		a.Entry, a.NrSegments, a.SegmentsPtr = &u[0], &u[1], &u[2]
		a.Flags = a.Raw[3]
	case "kexec_file_load":
		i[0], i[1] = int32(a.Raw[0]), int32(a.Raw[1])
		u[0], u[1] = a.Raw[2], a.Raw[3]
		a.KernelFD, a.InitrdFD = &i[0], &i[1]
		a.CmdlineLen, a.CmdlinePtr = &u[0], &u[1]
		a.Flags = a.Raw[4]
	default:
		a.FlagNames = []string{}
		return
	}
	a.FlagNames, a.Arch = d.flagNames(c.Syscall, a.Flags)
}

// flagNames decodes flags once per distinct (syscall, flags) value.
func (d *Decoder) flagNames(syscall string, flags uint64) ([]string, string) {
	k := flagKey{syscall, flags}
	if v, ok := d.flagc[k]; ok {
		return v.names, v.arch
	}
	var v flagNames
	if syscall == "kexec_load" {
		v.names, v.arch = KexecLoadFlags(flags)
	} else {
		v.names = KexecFileLoadFlags(flags)
	}
	if len(d.flagc) >= maxFlagCache {
		clear(d.flagc)
	}
	d.flagc[k] = v
	return v.names, v.arch
}

// internBytes returns b as a string from the decoder's set of repeated
// strings, adding it (the lookup itself allocates nothing). A small
// direct-mapped cache of recent strings answers most lookups before the map
// (hashing a 64-character SHA-256 for a map costs more than comparing it).
func (d *Decoder) internBytes(b []byte) string {
	if len(b) > maxInternLen {
		return string(b) // neither cache keeps long strings
	}
	slot := &d.recent[recentSlot(b)]
	if *slot == string(b) {
		return *slot
	}
	if v, ok := d.strs[string(b)]; ok {
		*slot = v
		return v
	}
	s := string(b)
	*slot = s
	if len(d.strs) >= maxInterned {
		clear(d.strs)
	}
	d.strs[s] = s
	return s
}

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

func (d *Decoder) process(b []byte) []*Call {
	pr, err := decodeProcess(b, d.intern)
	if err != nil {
		d.malformed(layout.RecProcess, err)
		return nil
	}
	d.stats.ByType["process"]++
	cs, out, ok := d.lookup(pr.CallID, layout.RecProcess)
	if !ok {
		return out
	}
	c := cs.call
	if c.Caller.PID != 0 && pr.PID != 0 && pr.PID != c.Caller.PID {
		c.Problems = append(c.Problems, fmt.Sprintf("process record names pid %d, entry pid %d", pr.PID, c.Caller.PID))
	}
	if c.Caller.PID == 0 {
		c.Caller.PID = pr.PID
	}
	c.Caller.Exe = pr.Exe
	c.Caller.Argv = pr.Argv
	c.Caller.CgroupPath = pr.CgroupPath
	c.Caller.ContainerID = pr.ContainerID
	c.Caller.Raced = pr.Raced
	for _, m := range pr.Missing {
		c.Problems = append(c.Problems, "caller "+m+": could not be read from /proc")
	}
	return out
}

func (d *Decoder) exit(b []byte) []*Call {
	x, err := layout.ParseExit(b, d.bo)
	if err != nil {
		d.malformed(layout.RecExit, err)
		return nil
	}
	d.stats.ByType["exit"]++
	d.seeTime(x.TimeNS)
	cs, out, ok := d.lookup(x.CallID, layout.RecExit)
	if !ok {
		return out
	}
	c := cs.call
	if c.Syscall == "" {
		// Entry lost: name what the exit tells.
		c.SyscallNr = x.SyscallNr
		c.Hook = HookName(x.Hook)
		c.Caller.TID = x.TID
		abi := d.guessABI()
		if n := SyscallName(abi, x.SyscallNr); n != "" {
			c.Syscall = n
			c.ABI = ABIName(abi) + "?"
		} else {
			c.Syscall = fmt.Sprintf("syscall-%d", x.SyscallNr)
		}
		if x.DurationNS <= x.TimeNS {
			c.BootNS = x.TimeNS - x.DurationNS
			if x.DurationNS > 0 {
				c.Time = d.WallTime(c.BootNS)
			}
		}
	} else if x.SyscallNr != c.SyscallNr {
		c.Problems = append(c.Problems, fmt.Sprintf("exit names syscall %d, entry %d", x.SyscallNr, c.SyscallNr))
	}
	cs.box.ret = x.Ret
	c.Ret = &cs.box.ret
	ret := x.Ret
	c.DurationNS = x.DurationNS
	c.RetKnownInAdvance = x.Flags&layout.XFRetKnownENOSYS != 0
	if ret < 0 && ret >= -4095 {
		c.Outcome = "error"
		c.Errno = ErrnoName(-ret)
	} else {
		c.Outcome = "ok"
	}
	return append(out, d.finish(cs, true))
}

// guessABI is the native ABI of the header's architecture.
func (d *Decoder) guessABI() uint32 {
	switch d.arch {
	case "arm64", "aarch64":
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
