// Package recorder turns the raw records of the BPF programs into a capture
// file: it streams payload pieces into blobs, adds what only user space can
// know (the caller's executable, argv and container, the host's identity),
// seals chunks often enough that a crash loses at most a second, and rotates
// files between calls.
package recorder

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// Rotation says when to start a new part of a capture set (tcpdump -C/-G).
// A part is only ever closed between calls, so no call spans two files.
type Rotation struct {
	Size  int64         // start a new part once the current one holds this many bytes (0: never)
	Every time.Duration // start a new part this long after the current one was opened (0: never)
}

// Config is what one recording needs.
type Config struct {
	Source Source
	Sink   Sink
	// Header carries host identity and options (see HostHeader). The
	// recorder sets AttachMode, SetID, Part and the clock pair of each part.
	Header format.Header
	Writer format.WriterOptions
	Rotate Rotation
	// Count stops the recording after this many completed calls (0: no limit).
	Count uint64
	// Snaplen is the per-payload limit given to BPF (0: none); it tells the
	// recorder where BPF meant to stop a payload it marked "snaplen".
	Snaplen uint64
	// ProcRoot is where caller details are read (default "/proc").
	ProcRoot string
	// TickInterval is how often pending records are checked for sealing
	// (default 200 ms); StatsInterval how often a STATS chunk is written
	// (default 5 s).
	TickInterval  time.Duration
	StatsInterval time.Duration
	// StaleAfter: a call that has sent nothing for this long (its EXIT was
	// probably lost) no longer holds back a due rotation (default 10 s).
	StaleAfter time.Duration
	// OnRecord, when set, sees every record written, in file order, on the
	// recording goroutine (record --json feeds its decoder from here). The
	// record's Data must not be kept after the call returns.
	OnRecord func(format.Record)
	// OnPart, when set, is called with the header of each part as it is
	// opened (before any of its records reach OnRecord).
	OnPart func(h format.Header, name string)
}

// Progress is a snapshot of a running recording, safe to read from any goroutine.
type Progress struct {
	CallsSeen      uint64 // ENTER records
	CallsCompleted uint64 // EXIT records
	PayloadBytes   uint64 // payload bytes received from BPF
	RingRecords    uint64 // records read from the ring
	Dropped        uint64 // records BPF could not reserve (summed *_dropped counters)
	File           string // current part
	Part           uint32
	Bytes          int64 // bytes written to the current part
}

// Summary is what a finished recording did.
type Summary struct {
	Progress
	Files []string     // parts written, in order (removed ones included)
	Stats format.Stats // the last STATS written
}

// DiskFullError says the disk filled up: the recording stopped and the file
// was cut back to its last sealed chunk.
type DiskFullError struct {
	File string
	Kept int64 // bytes kept in File
	Err  error
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("disk full writing %s: stopped; kept %d bytes, valid up to the last sealed chunk", e.File, e.Kept)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// Limits that keep memory bounded whatever the ring delivers.
const (
	maxOpenCalls = 1024 // calls with no EXIT yet
	// maxOpenPayloads bounds payloads being assembled at once (each holds
	// one blob piece, 1 MiB by default). Only many threads entering
	// kexec_load together open more than a few.
	maxOpenPayloads = 64
	maxEvicted      = 4096 // evicted payload keys remembered to discard their late pieces

	drainQuiet  = 100 * time.Millisecond
	drainMax    = time.Second
	maxBadNotes = 20 // malformed records described in notes; later ones are only counted
)

// Recorder runs one recording. Use New, then Run once.
type Recorder struct {
	cfg Config
	bo  binary.ByteOrder

	w         *format.Writer
	file      SinkFile
	part      uint32
	partStart time.Time
	setID     [16]byte
	files     []string
	rotateDue bool

	calls   map[uint64]*callState
	nOpen   int                 // payloads being assembled, over all calls
	useSeq  uint64              // orders payloads by last use, for eviction
	evicted map[payloadKey]bool // payloads given up before their END
	asm     assemblyStats       // fed by every payload assembly
	// maxStored caps one payload's blob (see maxBlobPieces).
	maxStored uint64

	counters      []uint64
	countersErr   bool
	lastCounters  time.Time
	lastStats     time.Time
	statsWritten  format.Stats
	callsSeen     uint64
	completed     uint64
	abandoned     uint64
	recordsOut    uint64
	payloadBytes  uint64
	ringRecords   uint64
	pieces        uint64
	payloads      uint64
	incomplete    uint64
	badRecords    uint64
	dropped       uint64
	progressMu    sync.Mutex
	progressState Progress
}

type callState struct {
	id       uint64
	last     time.Time
	payloads map[payloadKey]*assembly
	entered  bool     // its ENTER was seen (callerinfo.go)
	early    [][]byte // CALLER/ARGS records held until the ENTER
}

// New returns a recorder for cfg.
func New(cfg Config) *Recorder {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 200 * time.Millisecond
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 5 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Second
	}
	pieceSize := uint64(cfg.Writer.PieceSize)
	if pieceSize == 0 {
		pieceSize = 1 << 20 // format's default
	}
	return &Recorder{cfg: cfg, bo: binary.NativeEndian, calls: make(map[uint64]*callState), evicted: make(map[payloadKey]bool),
		maxStored: pieceSize * maxBlobPieces}
}

// Progress returns a snapshot of the recording so far.
func (r *Recorder) Progress() Progress {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	return r.progressState
}

type ringItem struct {
	rec []byte
	err error
}

// Run records until ctx is done, the source fails, Count calls completed or a
// write fails. It always closes the source, and on a clean stop leaves every
// part with a trailer. A full disk returns a *DiskFullError.
func (r *Recorder) Run(ctx context.Context) (Summary, error) {
	src := r.cfg.Source
	if _, err := rand.Read(r.setID[:]); err != nil {
		src.Close()
		return Summary{}, err
	}
	if err := r.openPart(0); err != nil {
		src.Close()
		return r.summary(), r.writeFailed(err)
	}

	// One goroutine blocks in Read; this one owns the Writer, so sealing,
	// stats and rotation happen on the same goroutine as record handling.
	items := make(chan ringItem, 8)
	done := make(chan struct{})
	go func() {
		for {
			rec, err := src.Read()
			select {
			case items <- ringItem{rec, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer close(done)

	recycle := func([]byte) {}
	if rc, ok := src.(Recycler); ok {
		recycle = rc.Recycle
	}
	closing := false
	stop := func() {
		if !closing {
			closing = true
			src.Close()
		}
	}
	defer stop()

	ticker := time.NewTicker(r.cfg.TickInterval)
	defer ticker.Stop()
	ctxDone := ctx.Done()
	// Stopping drains first: records already in the ring (a call that just
	// returned) are read until the ring has been quiet for drainQuiet, at
	// most drainMax, and only then is the source closed.
	var quiet <-chan time.Time
	var quietTimer *time.Timer
	var drainEnd time.Time
	var readErr, writeErr error
loop:
	for {
		select {
		case <-quiet:
			quiet = nil
			stop()
		case it := <-items:
			if quiet != nil {
				if time.Now().After(drainEnd) {
					quiet = nil
					stop()
				} else {
					quietTimer.Reset(drainQuiet)
				}
			}
			if it.err != nil {
				if !errors.Is(it.err, ErrClosed) {
					readErr = fmt.Errorf("reading the ring buffer: %w", it.err)
				}
				break loop
			}
			if r.countReached() {
				recycle(it.rec)
				continue // draining after --count: the rest is not wanted
			}
			err := r.handle(it.rec)
			recycle(it.rec) // handle copied what it keeps
			if err != nil {
				writeErr = err
				break loop
			}
			if r.countReached() {
				stop()
			}
		case <-ticker.C:
			if err := r.tick(time.Now()); err != nil {
				writeErr = err
				break loop
			}
		case <-ctxDone:
			ctxDone = nil
			quietTimer = time.NewTimer(drainQuiet)
			defer quietTimer.Stop()
			quiet, drainEnd = quietTimer.C, time.Now().Add(drainMax)
		}
	}
	stop()
	if writeErr == nil {
		writeErr = r.finishRun()
	}
	if writeErr != nil {
		return r.summary(), r.writeFailed(writeErr)
	}
	return r.summary(), readErr
}

func (r *Recorder) countReached() bool {
	return r.cfg.Count > 0 && r.completed >= r.cfg.Count
}

// handle files one raw record from the ring. Malformed records are counted
// and noted, payloads over a recorder limit are cut and noted: neither is
// fatal (anyone can make a kexec call the recorder sees). Only write errors
// are returned.
func (r *Recorder) handle(rec []byte) error {
	r.ringRecords++
	h, err := layout.ParseHeader(rec, r.bo)
	if err != nil {
		return r.bad(fmt.Sprintf("ring record %d: %v", r.ringRecords, err))
	}
	raw := rec[:h.Size] // trimmed to its own size, stored as BPF emitted it
	cs, err := r.call(h.CallID)
	if err != nil {
		return err
	}
	switch h.Type {
	case layout.RecPiece:
		p, err := layout.ParsePiece(raw, r.bo)
		if err != nil {
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		key := payloadKey{h.CallID, p.Kind, p.Index, p.Source}
		if r.evicted[key] {
			r.asm.discarded++
			return nil
		}
		a := cs.payloads[key]
		if a == nil {
			if r.nOpen >= maxOpenPayloads {
				if err := r.evictPayload(); err != nil {
					return err
				}
			}
			a = r.newAssembly(key)
			cs.payloads[key] = a
			r.nOpen++
		}
		r.useSeq++
		a.lastUse = r.useSeq
		wasLimited := a.limited
		if err := a.add(p); err != nil {
			var bp *errBadPiece
			if errors.As(err, &bp) {
				return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
			}
			return err
		}
		if !wasLimited && a.limited {
			if err := r.noteLimited(a, p.Offset); err != nil {
				return err
			}
		}
		r.pieces++
		if p.ReadErr == 0 {
			r.payloadBytes += uint64(p.Len)
		}
		return nil

	case layout.RecEnter:
		if err := r.write(h.Type, raw); err != nil {
			return err
		}
		e, err := layout.ParseEnter(raw, r.bo)
		if err != nil {
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		r.callsSeen++
		return r.enterCaller(cs, e.PID)

	case layout.RecCaller, layout.RecArgs:
		return r.holdEarly(cs, raw)

	case layout.RecPayloadEnd:
		if err := r.write(h.Type, raw); err != nil {
			return err
		}
		end, err := layout.ParsePayloadEnd(raw, r.bo)
		if err != nil {
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		key := payloadKey{h.CallID, end.Kind, end.Index, end.Source}
		if r.evicted[key] { // its RecPayload was written when it was given up
			delete(r.evicted, key)
			return nil
		}
		a := cs.payloads[key]
		if a == nil { // no piece arrived: --no-payload, empty, or all dropped
			a = r.newAssembly(key)
		} else {
			delete(cs.payloads, key)
			r.nOpen--
		}
		wasLimited := a.limited
		p, err := a.finish(end, r.cfg.Snaplen)
		if err != nil {
			return err
		}
		if !wasLimited && a.limited {
			if err := r.noteLimited(a, end.Total); err != nil {
				return err
			}
		}
		return r.writePayload(p)

	case layout.RecExit:
		// Everything of a call precedes its exit: payloads whose END was
		// lost are closed first.
		if err := r.closePayloads(cs); err != nil {
			return err
		}
		if err := r.write(h.Type, raw); err != nil {
			return err
		}
		delete(r.calls, cs.id)
		r.completed++
		// kexec calls are rare and each one matters: seal it now rather
		// than up to SealInterval later, so a crash right after a call
		// cannot lose it.
		if err := r.w.Seal(); err != nil {
			return err
		}
		r.publish()
		if r.cfg.Rotate.Size > 0 && r.w.Written() >= r.cfg.Rotate.Size {
			r.rotateDue = true
		}
		if r.rotateDue {
			return r.maybeRotate(time.Now())
		}
		return nil

	case layout.RecSegments, layout.RecFile:
		return r.write(h.Type, raw)

	default:
		if h.Type >= layout.RecPayload {
			return r.bad(fmt.Sprintf("call %d: BPF record with user-space type %d", h.CallID, h.Type))
		}
		// A type from a newer BPF object: keep it, a newer reader may know it.
		return r.write(h.Type, raw)
	}
}

func (r *Recorder) newAssembly(key payloadKey) *assembly {
	return &assembly{key: key, blob: r.w.NewBlob(), st: &r.asm, maxStored: r.maxStored}
}

// noteLimited says in the capture that a payload was cut at a recorder
// limit when a piece (or the end) reached offset upTo.
func (r *Recorder) noteLimited(a *assembly, upTo uint64) error {
	return r.note("warn", fmt.Sprintf("call %d: payload kind %d index %d cut at %d bytes (recorder limit: zero fill over %d bytes, "+
		"blob over %d bytes or over %d holes, reached at offset %d); the rest is missing as \"recorder-limit\"",
		a.key.callID, a.key.kind, a.key.index, a.next, uint64(maxZeroFill), a.maxStored, maxHoles, upTo))
}

// call returns the state of a call, creating it on its first record.
func (r *Recorder) call(id uint64) (*callState, error) {
	now := time.Now()
	if cs := r.calls[id]; cs != nil {
		cs.last = now
		return cs, nil
	}
	if len(r.calls) >= maxOpenCalls {
		// Exits are being lost: give up on the quietest call.
		var oldest *callState
		for _, c := range r.calls {
			if oldest == nil || c.last.Before(oldest.last) {
				oldest = c
			}
		}
		if err := r.abandon(oldest, "too many calls without an exit"); err != nil {
			return nil, err
		}
	}
	cs := &callState{id: id, last: now, payloads: make(map[payloadKey]*assembly)}
	r.calls[id] = cs
	return cs, nil
}

// closePayloads writes a "lost-end" RecPayload for every open payload of cs
// (and stores entry records still held because the ENTER was lost).
func (r *Recorder) closePayloads(cs *callState) error {
	if _, err := r.flushEarly(cs); err != nil {
		return err
	}
	for _, k := range sortedKeys(cs.payloads) {
		p, err := cs.payloads[k].finishLost(reasonLostEnd)
		if err != nil {
			return err
		}
		delete(cs.payloads, k)
		r.nOpen--
		if err := r.writePayload(p); err != nil {
			return err
		}
	}
	return nil
}

// evictPayload gives up the least recently fed payload to bound memory: what
// it received is kept (reason "recorder-limit", the rest Missing), its
// later pieces are discarded and counted.
func (r *Recorder) evictPayload() error {
	var victim *assembly
	var owner *callState
	for _, cs := range r.calls {
		for _, a := range cs.payloads {
			if victim == nil || a.lastUse < victim.lastUse {
				victim, owner = a, cs
			}
		}
	}
	if victim == nil {
		return nil
	}
	victim.cut() // counted with the payloads cut at a size limit
	p, err := victim.finishLost(reasonLimit)
	if err != nil {
		return err
	}
	delete(owner.payloads, victim.key)
	r.nOpen--
	if len(r.evicted) >= maxEvicted {
		clear(r.evicted)
	}
	r.evicted[victim.key] = true
	if err := r.note("warn", fmt.Sprintf("call %d: more than %d payloads in flight: payload kind %d index %d given up at %d bytes",
		victim.key.callID, maxOpenPayloads, victim.key.kind, victim.key.index, victim.next)); err != nil {
		return err
	}
	return r.writePayload(p)
}

// abandon stops tracking a call whose exit has not come, keeping what it sent.
func (r *Recorder) abandon(cs *callState, why string) error {
	if err := r.closePayloads(cs); err != nil {
		return err
	}
	delete(r.calls, cs.id)
	r.abandoned++
	return r.note("warn", fmt.Sprintf("call %d: %s; its later records (if any) stand alone", cs.id, why))
}

func (r *Recorder) writePayload(p layout.Payload) error {
	r.payloads++
	if !p.Complete {
		r.incomplete++
	}
	return r.writeJSON(layout.RecPayload, p)
}

func (r *Recorder) write(typ uint16, data []byte) error {
	rec := format.Record{Type: typ, Data: data}
	if err := r.w.WriteRecord(rec); err != nil {
		return err
	}
	r.recordsOut++
	if r.cfg.OnRecord != nil {
		r.cfg.OnRecord(rec)
	}
	return nil
}

func (r *Recorder) writeJSON(typ uint16, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.write(typ, b)
}

func (r *Recorder) note(level, msg string) error {
	return r.writeJSON(layout.RecNote, layout.Note{Level: level, Message: msg})
}

// bad counts a malformed record and describes the first few in notes.
func (r *Recorder) bad(msg string) error {
	r.badRecords++
	if r.badRecords > maxBadNotes {
		return nil
	}
	if r.badRecords == maxBadNotes {
		msg += " (further malformed records are only counted in bad_records)"
	}
	return r.note("warn", "malformed record skipped: "+msg)
}

// tick seals what is due, refreshes counters, writes periodic stats and
// rotates when it is time.
func (r *Recorder) tick(now time.Time) error {
	if err := r.w.Tick(); err != nil {
		return err
	}
	if now.Sub(r.lastCounters) >= time.Second {
		r.readCounters(now)
	}
	if now.Sub(r.lastStats) >= r.cfg.StatsInterval {
		if err := r.writeStats(now); err != nil {
			return err
		}
	}
	if r.cfg.Rotate.Every > 0 && now.Sub(r.partStart) >= r.cfg.Rotate.Every ||
		r.cfg.Rotate.Size > 0 && r.w.Written() >= r.cfg.Rotate.Size {
		r.rotateDue = true
	}
	if r.rotateDue {
		if err := r.maybeRotate(now); err != nil {
			return err
		}
	}
	r.publish()
	return nil
}

func (r *Recorder) readCounters(now time.Time) {
	r.lastCounters = now
	c, err := r.cfg.Source.Counters()
	if err != nil {
		if !r.countersErr {
			r.countersErr = true
			r.note("warn", "cannot read the BPF counters: "+err.Error())
		}
		return
	}
	r.counters = c
	var d uint64
	for i, name := range layout.CounterNames {
		if i < len(c) && strings.HasSuffix(name, "_dropped") && name != "piece_bytes_dropped" {
			d += c[i]
		}
	}
	r.dropped = d
}

// stats are the BPF counters summed over CPUs plus the recorder's own,
// cumulative over the whole run (all parts).
func (r *Recorder) stats() format.Stats {
	s := format.Stats{}
	for i, name := range layout.CounterNames {
		if i < len(r.counters) {
			s[name] = r.counters[i]
		}
	}
	s["calls_recorded"] = r.callsSeen
	s["calls_completed"] = r.completed
	s["calls_abandoned"] = r.abandoned
	s["records_written"] = r.recordsOut
	s["ring_records"] = r.ringRecords
	s["pieces"] = r.pieces
	s["payload_bytes"] = r.payloadBytes
	s["payloads"] = r.payloads
	s["payloads_incomplete"] = r.incomplete
	s["zero_filled_bytes"] = r.asm.zeroFilled // ring loss only
	s["read_error_bytes"] = r.asm.readErrorBytes
	s["payloads_limited"] = r.asm.limited
	s["bad_records"] = r.badRecords
	s["pieces_discarded"] = r.asm.discarded
	s["parts"] = uint64(r.part) + 1
	return s
}

func (r *Recorder) writeStats(now time.Time) error {
	r.readCounters(now)
	r.lastStats = now
	s := r.stats()
	if err := r.w.WriteStats(s); err != nil {
		return err
	}
	r.statsWritten = s
	return nil
}

// maybeRotate starts the next part if no call is in flight. Calls that have
// been silent for StaleAfter (lost exits) do not hold it back forever.
func (r *Recorder) maybeRotate(now time.Time) error {
	if !r.cfg.Sink.Rotates() {
		r.rotateDue = false
		return nil
	}
	for _, cs := range r.calls {
		if now.Sub(cs.last) < r.cfg.StaleAfter {
			return nil // rotate when this call is done
		}
	}
	for _, cs := range r.calls {
		if err := r.abandon(cs, fmt.Sprintf("no exit seen for %s when the file rotated", r.cfg.StaleAfter)); err != nil {
			return err
		}
	}
	if err := r.closePart(); err != nil {
		return err
	}
	r.rotateDue = false
	return r.openPart(r.part + 1)
}

func (r *Recorder) openPart(part uint32) error {
	f, err := r.cfg.Sink.Create(part)
	if err != nil {
		// The previous part (if any) is closed: the error names the new
		// one (the sink's errors carry its name), not the old.
		r.file, r.w = nil, nil
		return err
	}
	h := r.cfg.Header
	h.FileID = [16]byte{}
	h.SetID = r.setID
	h.Part = part
	h.AttachMode = r.cfg.Source.Mode()
	h.WallStart, h.BootStartNS = ClockPair()
	r.w = nil
	w, err := format.NewWriter(f.Writer(), h, r.cfg.Writer)
	r.file, r.part, r.partStart = f, part, time.Now()
	r.files = append(r.files, f.Name())
	if err != nil {
		return err
	}
	r.w = w
	r.lastStats = time.Time{}
	if r.cfg.OnPart != nil {
		r.cfg.OnPart(h, f.Name())
	}
	for _, msg := range r.cfg.Source.Warnings() {
		if err := r.note("warn", msg); err != nil {
			return err
		}
	}
	if part > 0 {
		if err := r.note("info", fmt.Sprintf("part %d of a rotated set; the previous part is %s", part, r.files[len(r.files)-2])); err != nil {
			return err
		}
	}
	r.publish()
	return nil
}

// closePart writes the last stats and the trailer of the current part.
func (r *Recorder) closePart() error {
	if err := r.writeStats(time.Now()); err != nil {
		return err
	}
	if err := r.w.Close(); err != nil {
		return err
	}
	return r.file.Close()
}

// finishRun ends a clean stop: calls still in flight keep what they sent
// (their payloads marked lost-end), then stats and trailer.
func (r *Recorder) finishRun() error {
	if n := len(r.calls); n > 0 {
		if err := r.note("info", fmt.Sprintf("recording stopped with %d call(s) unfinished", n)); err != nil {
			return err
		}
		ids := make([]uint64, 0, n)
		for id := range r.calls {
			ids = append(ids, id)
		}
		for _, id := range ids {
			if err := r.closePayloads(r.calls[id]); err != nil {
				return err
			}
		}
	}
	err := r.closePart()
	r.publish()
	return err
}

// writeFailed turns a write error into what the caller reports. On a full
// disk the half-written chunk is cut off so the file ends on a sealed one.
func (r *Recorder) writeFailed(err error) error {
	if r.file == nil {
		return err
	}
	name := r.file.Name()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		var kept int64
		if r.w != nil {
			kept = r.w.Written()
			r.file.TruncateTo(kept)
		}
		r.file.Close()
		return &DiskFullError{File: name, Kept: kept, Err: err}
	}
	r.file.Close()
	return fmt.Errorf("writing %s: %w", name, err)
}

func (r *Recorder) publish() {
	p := Progress{
		CallsSeen: r.callsSeen, CallsCompleted: r.completed, PayloadBytes: r.payloadBytes,
		RingRecords: r.ringRecords, Dropped: r.dropped, Part: r.part,
	}
	if r.file != nil {
		p.File = r.file.Name()
	}
	if r.w != nil {
		p.Bytes = r.w.Written()
	}
	r.progressMu.Lock()
	r.progressState = p
	r.progressMu.Unlock()
}

func (r *Recorder) summary() Summary {
	r.publish()
	return Summary{Progress: r.Progress(), Files: append([]string(nil), r.files...), Stats: r.statsWritten}
}
