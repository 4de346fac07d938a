package recorder

import (
	"sync"
	"sync/atomic"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// FakeSource is a Source fed by its caller instead of by BPF: tests,
// benchmarks and sample generators push records built with bpf/layout's
// Marshal and the recorder handles them exactly as if they came from the
// ring. Unlike a ring that is detached, Read drains what was pushed before
// Close before it reports ErrClosed (the behaviour "stop, drain, trailer"
// wants from every Source).
//
// Records must be what BPF emits: in particular a piece BPF could not read
// carries ReadErr != 0, Len = the length it attempted and that many zero
// bytes of data (see records.h), which is what the recorder expects.
type FakeSource struct {
	ch       chan fakeItem
	done     chan struct{}
	once     sync.Once
	mode     string
	warnings []string
	fileHook string
	infos    []string

	mu       sync.Mutex
	counters []uint64
}

// RecyclingFakeSource is a FakeSource that is also a Recycler: every
// record handed back is overwritten with 0xAA at once (so a recorder that
// kept one would store garbage, which tests notice) and counted.
type RecyclingFakeSource struct {
	*FakeSource
	recycled atomic.Int64
}

// NewRecyclingFakeSource is NewFakeSource for a RecyclingFakeSource.
func NewRecyclingFakeSource(mode string, queue int, warnings ...string) *RecyclingFakeSource {
	return &RecyclingFakeSource{FakeSource: NewFakeSource(mode, queue, warnings...)}
}

func (f *RecyclingFakeSource) Recycle(rec []byte) {
	for i := range rec {
		rec[i] = 0xAA
	}
	f.recycled.Add(1)
}

// Recycled is how many records were handed back.
func (f *RecyclingFakeSource) Recycled() int64 { return f.recycled.Load() }

type fakeItem struct {
	rec []byte
	err error
}

// NewFakeSource returns a source reporting attach mode mode that queues up
// to queue records.
func NewFakeSource(mode string, queue int, warnings ...string) *FakeSource {
	return &FakeSource{
		ch: make(chan fakeItem, queue), done: make(chan struct{}), mode: mode, warnings: warnings,
		counters: make([]uint64, len(layout.CounterNames)),
	}
}

// Push queues one raw record, blocking while the queue is full. It reports
// false when the source was closed.
func (f *FakeSource) Push(rec []byte) bool { return f.push(fakeItem{rec: rec}) }

func (f *FakeSource) push(it fakeItem) bool {
	select {
	case <-f.done:
		return false
	default:
	}
	select {
	case f.ch <- it:
		return true
	case <-f.done:
		return false
	}
}

// SetCounter sets BPF counter i (an index into layout.CounterNames).
func (f *FakeSource) SetCounter(i int, v uint64) {
	f.mu.Lock()
	f.counters[i] = v
	f.mu.Unlock()
}

// FailRead queues an error: Read returns it after the records pushed
// before it, as a broken ring would.
func (f *FakeSource) FailRead(err error) { f.push(fakeItem{err: err}) }

func (f *FakeSource) Read() ([]byte, error) {
	select {
	case it := <-f.ch:
		return it.rec, it.err
	case <-f.done:
		select {
		case it := <-f.ch:
			return it.rec, it.err
		default:
			return nil, ErrClosed
		}
	}
}

func (f *FakeSource) Counters() ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.counters...), nil
}

func (f *FakeSource) Mode() string       { return f.mode }
func (f *FakeSource) Warnings() []string { return f.warnings }
func (f *FakeSource) FileHook() string   { return f.fileHook }
func (f *FakeSource) Infos() []string    { return f.infos }

// SetFileHook makes the source report the file hook path and the info
// notes a BPF source reports (call before recording starts).
func (f *FakeSource) SetFileHook(hook string, infos ...string) {
	f.fileHook, f.infos = hook, infos
}

func (f *FakeSource) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}
