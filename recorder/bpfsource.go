package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/kexecrec/kexecrec/bpf"
	"github.com/kexecrec/kexecrec/bpf/layout"
)

// bpfSource is the Source backed by the loaded BPF programs: it reads their
// ring buffer and per-CPU counters, and frees them once the ring is drained.
type bpfSource struct {
	mode     string
	fileHook string   // FileHookFentry, ...: where kexec_file_load's files are read
	infos    []string // how hook targets were resolved (fentry on ambiguous BTF)
	warnings []string
	limits   []Limitation     // the start-up warnings, also in plain words
	coll     *ebpf.Collection // the programs of the chosen mode
	maps     bpf.KexecrecMaps
	links    []link.Link
	reader   *ringbuf.Reader
	// knownReturn is KnownENOSYS when the kernel has no kexec (only
	// sys_enter attached), with the evidence in knownReturnWhy.
	knownReturn, knownReturnWhy string

	closeOnce   sync.Once
	closeErr    error
	draining    atomic.Bool
	releaseOnce sync.Once
	countersMu  sync.Mutex
	final       []uint64 // counters as they were when the map was freed
	warnMu      sync.Mutex
	lostAtStop  int         // bytes still in the ring when releaseTimeout freed it
	spare       chan []byte // record buffers handed back (Recycle)
}

// releaseTimeout bounds how long the ring and programs stay allocated after
// Close when nobody reads the ring to its end. Normally Read frees them as
// soon as it has handed out the last record; this timer only covers a
// caller that stopped reading, and it is long so that a slow recorder still
// draining a full ring is never cut short. Whatever is still in the ring
// when it fires is reported (Warnings: lost_at_stop_bytes).
const releaseTimeout = 30 * time.Second

// recycleBuffers bounds the record buffers kept for reuse: enough for the
// records in flight between the reading goroutine and the recorder.
const recycleBuffers = 16

// Read returns the next ring record, trimmed to its header's size, in a
// buffer handed back through Recycle when possible.
func (s *bpfSource) Read() ([]byte, error) {
	var rec ringbuf.Record
	select {
	case rec.RawSample = <-s.spare:
	default:
	}
	err := s.reader.ReadInto(&rec)
	for errors.Is(err, ringbuf.ErrFlushed) && !s.draining.Load() {
		err = s.reader.ReadInto(&rec) // only Close flushes; be safe anyway
	}
	if err != nil {
		if errors.Is(err, ringbuf.ErrFlushed) {
			// Close detached the hooks and flushed: every record that was
			// in the ring has been handed out, so the stop lost nothing.
			s.release()
			return nil, ErrClosed
		}
		if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	b := rec.RawSample
	if len(b) >= layout.HeaderSize {
		// Piece records are reserved in fixed sizes; the header says how
		// much of the reservation is the record.
		if n := binary.NativeEndian.Uint32(b[4:8]); int(n) >= layout.HeaderSize && int(n) <= len(b) {
			b = b[:n]
		}
	}
	return b, nil
}

// Recycle takes back a record Read returned.
func (s *bpfSource) Recycle(rec []byte) {
	if cap(rec) == 0 {
		return
	}
	select {
	case s.spare <- rec[:cap(rec)]:
	default:
	}
}

// Counters sums the per-CPU counters.
func (s *bpfSource) Counters() ([]uint64, error) {
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	if s.final != nil {
		// Released: the map is gone, its last values were kept for the
		// capture's final statistics chunk.
		return append([]uint64(nil), s.final...), nil
	}
	return s.readCounters()
}

func (s *bpfSource) readCounters() ([]uint64, error) {
	out := make([]uint64, len(layout.CounterNames))
	for i := range out {
		var perCPU []uint64
		if err := s.maps.Counters.Lookup(uint32(i), &perCPU); err != nil {
			return nil, fmt.Errorf("recorder: read counter %s: %w", layout.CounterNames[i], err)
		}
		for _, v := range perCPU {
			out[i] += v
		}
	}
	return out, nil
}

func (s *bpfSource) Mode() string { return s.mode }

func (s *bpfSource) FileHook() string { return s.fileHook }

// Infos are how hook targets were resolved, one line each.
func (s *bpfSource) Infos() []string { return append([]string(nil), s.infos...) }

// Limitations are the start-up warnings in plain words.
func (s *bpfSource) Limitations() []Limitation { return append([]Limitation(nil), s.limits...) }

func (s *bpfSource) KnownReturn() (ret, why string) { return s.knownReturn, s.knownReturnWhy }

func (s *bpfSource) Warnings() []string {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	return append([]string(nil), s.warnings...)
}

// LostAtStop is the number of record bytes that were still in the ring
// when it was freed without having been read (0 when the reader drained
// it, which is the normal stop).
func (s *bpfSource) LostAtStop() int {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	return s.lostAtStop
}

// Close detaches the hooks, unblocks Read and frees the BPF objects. It may
// be called from another goroutine (a signal handler) while Read blocks.
func (s *bpfSource) Close() error {
	s.closeOnce.Do(func() {
		// Detach first so nothing new arrives, then flush: Read hands out
		// what is still in the ring (a call that returned just before the
		// stop) and only then reports ErrClosed and frees the ring. The
		// timer frees it anyway if nobody reads to the end.
		var errs []error
		for _, l := range s.links {
			errs = append(errs, l.Close())
		}
		s.draining.Store(true)
		if s.reader != nil {
			errs = append(errs, s.reader.Flush())
		}
		if s.reader == nil {
			s.release() // Attach failed before the ring was opened: nothing to drain
		} else {
			time.AfterFunc(releaseTimeout, s.releaseUnread)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// releaseUnread frees the ring after releaseTimeout when Read did not
// drain it, reporting what was still in it as lost.
func (s *bpfSource) releaseUnread() {
	s.releaseOnce.Do(func() {
		if s.reader != nil {
			if n := s.reader.AvailableBytes(); n > 0 {
				s.warnMu.Lock()
				s.lostAtStop = n
				s.warnings = append(s.warnings, fmt.Sprintf("lost_at_stop_bytes %d: the ring still held %d bytes of records when it was freed %v after the stop (they were not read)", n, n, releaseTimeout))
				s.warnMu.Unlock()
			}
		}
		s.free()
	})
}

// release frees the ring reader and the BPF objects, once.
func (s *bpfSource) release() { s.releaseOnce.Do(s.free) }

// free keeps the last counter values, then frees the ring reader and the
// BPF objects (called once, through releaseOnce).
func (s *bpfSource) free() {
	s.countersMu.Lock()
	if c, err := s.readCounters(); err == nil {
		s.final = c
	} else {
		s.final = make([]uint64, len(layout.CounterNames))
	}
	s.countersMu.Unlock()
	if s.reader != nil {
		s.reader.Close()
	}
	s.maps.Close()
	s.coll.Close()
}
