package recorder

import "errors"

// Source yields the raw records the BPF programs put in the ring buffer, in
// ring order. The BPF-backed implementation lives in attach.go; tests use a
// fake that replays layout-encoded records.
type Source interface {
	// Read blocks until the next raw record (a copy the caller may keep) is
	// available. After Close it returns ErrClosed.
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

// ErrClosed is returned by Source.Read after Close.
var ErrClosed = errors.New("recorder: source closed")
