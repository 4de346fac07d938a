package recorder

import "errors"

// Source yields the raw records the BPF programs put in the ring buffer, in
// ring order. The BPF-backed implementation is bpfSource (bpfsource.go);
// tests use a fake that replays layout-encoded records.
type Source interface {
	// Read blocks until the next raw record is available: a copy the caller
	// may keep, unless the source is also a Recycler. After Close it
	// returns ErrClosed.
	Read() ([]byte, error)
	// Counters returns the per-CPU counters summed over CPUs, indexed like
	// layout.CounterNames.
	Counters() ([]uint64, error)
	// Mode is the attach mode in use: "fentry", "kprobe" or "raw".
	Mode() string
	// Warnings are one-line notes about hooks that could not be attached
	// (the recorder prints them and writes them into the capture).
	Warnings() []string
	// Close detaches everything and unblocks Read.
	Close() error
}

// infoSource is a Source with notes that are not limitations (how an
// ambiguous hook target was resolved); each part's header notes keep them
// as info.
type infoSource interface {
	Infos() []string
}

// ErrClosed is returned by Source.Read after Close.
var ErrClosed = errors.New("recorder: source closed")

// Recycler is a Source that reuses record memory: a record from Read is the
// caller's until it passes it to Recycle, and must not be used after that.
// Handing 256 KiB payload pieces back instead of allocating one per read
// keeps a large payload from growing the heap (and the recorder's RSS)
// faster than the garbage collector can follow.
type Recycler interface {
	Recycle(rec []byte)
}

// KnownReturner is a Source that may know every kexec call's return in
// advance: ret is KnownENOSYS on a kernel without kexec (why: the kernel
// evidence), "" when returns are observed at syscall exit. The recorder
// writes both into the capture header (KnownReturn, KnownReturnWhy).
type KnownReturner interface {
	KnownReturn() (ret, why string)
}
