package recorder

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// evidenceScans decide, on a goroutine of their own, whether the parts of
// earlier recordings hold evidence (partHoldsEvidence): reading a large
// part's records takes a while, and the recording goroutine, which also
// reads the ring, must not pause for it at a rotation. Each part is queued
// when the bound first lists it, oldest first (the order --max-total
// removes in), so its answer is usually there before a removal needs it.
// A removal that needs an answer still being worked out waits for it: a
// guess either way could remove evidence (an unknown part counted as
// evidence lets the bound fall back to removing a part known to hold some)
// or remove parts in another order than the answers would give.
type evidenceScans struct {
	mu      sync.Mutex
	scans   map[string]*evidenceScan // by path
	queue   []*evidenceScan
	working bool          // a worker goroutine is draining the queue
	stop    chan struct{} // closed by close: what is left counts as evidence
	workers sync.WaitGroup
	// read answers one part (partHoldsEvidence; a test may hold it up).
	read func(path string, stop <-chan struct{}) bool
}

// evidenceScan is one part's question; holds is its answer once done is
// closed. size and mtime tell a part that changed since (asked again).
type evidenceScan struct {
	path  string
	size  int64
	mtime time.Time
	done  chan struct{}
	holds bool
}

func newEvidenceScans() *evidenceScans {
	return &evidenceScans{scans: map[string]*evidenceScan{}, stop: make(chan struct{}), read: partHoldsEvidence}
}

// ask returns p's scan, queueing a new one when p was not asked about or
// changed since.
func (s *evidenceScans) ask(p boundPart) *evidenceScan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.scans[p.path]; ok && sc.size == p.size && sc.mtime.Equal(p.mtime) {
		return sc
	}
	sc := &evidenceScan{path: p.path, size: p.size, mtime: p.mtime, done: make(chan struct{})}
	s.scans[p.path] = sc
	s.queue = append(s.queue, sc)
	if !s.working {
		s.working = true
		s.workers.Add(1)
		go s.work()
	}
	return sc
}

// holds waits for p's answer (asking first if need be).
func (s *evidenceScans) holds(p boundPart) bool {
	sc := s.ask(p)
	<-sc.done
	return sc.holds
}

// forget drops a removed part's answer.
func (s *evidenceScans) forget(path string) {
	s.mu.Lock()
	delete(s.scans, path)
	s.mu.Unlock()
}

// close stops the scans (a part being read counts as holding evidence)
// and waits for the worker to end.
func (s *evidenceScans) close() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	s.workers.Wait()
}

// work answers the queued scans in order until the queue is empty.
func (s *evidenceScans) work() {
	defer s.workers.Done()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.working = false
			s.mu.Unlock()
			return
		}
		sc := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.mu.Unlock()
		sc.holds = s.read(sc.path, s.stop)
		close(sc.done)
	}
}

// partHoldsEvidence reads a part of an earlier recording: does it hold a
// call whose return is not EPERM and whose payloads the unprivileged
// policy did not cut (or a call with no exit)? A file that
// cannot be read counts as holding one: it is kept longer, never sooner;
// so does a file whose reading was stopped.
func partHoldsEvidence(path string, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
	}
	f, err := os.Open(path)
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	return readerHoldsEvidence(f, stop)
}

func readerHoldsEvidence(in io.Reader, stop <-chan struct{}) bool {
	r, err := format.NewReader(in, format.ReaderOptions{Salvage: true, SkipBlobData: true,
		RecordTypes: []uint16{layout.RecEnter, layout.RecPayloadEnd, layout.RecExit}})
	if err != nil {
		return true
	}
	defer r.Close()
	var bo binary.ByteOrder = binary.LittleEndian
	if r.Header().ByteOrder == "big" {
		bo = binary.BigEndian
	}
	open := map[uint64]bool{}
	cut := map[uint64]bool{} // open calls a payload of which the unprivileged policy cut
	for {
		select {
		case <-stop:
			return true
		default:
		}
		rec, err := r.Next()
		if err != nil {
			// A file cut short may have lost a call's exit: its calls
			// still open count.
			return len(open) > 0 || err != io.EOF
		}
		h, err := layout.ParseHeader(rec.Data, bo)
		if err != nil {
			continue
		}
		switch rec.Type {
		case layout.RecEnter:
			if len(open) < maxOpenCalls {
				open[h.CallID] = true
			} else {
				return true // exits are lost: whose, cannot be told
			}
		case layout.RecPayloadEnd:
			if e, err := layout.ParsePayloadEnd(rec.Data, bo); err == nil && e.Flags&layout.PFPolicy != 0 && open[h.CallID] {
				cut[h.CallID] = true
			}
		case layout.RecExit:
			x, err := layout.ParseExit(rec.Data, bo)
			if err != nil || x.Ret != -int64(unix.EPERM) && !cut[h.CallID] {
				return true
			}
			delete(open, h.CallID)
			delete(cut, h.CallID)
		}
	}
}
