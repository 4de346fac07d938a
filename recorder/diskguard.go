package recorder

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DiskGuard is record --min-free: below MinFree bytes free on the output's
// filesystem, payload bytes are no longer written (the payloads say
// "disk-guard") while every call's records still are; below half of it the
// recording stops, the part closed with a note saying why before its
// trailer (a *DiskGuardError). Free space is what an unprivileged writer
// may still use (statfs f_bavail).
type DiskGuard struct {
	MinFree int64
	// Dir is a directory on the output's filesystem.
	Dir string
	// Warn gets a one-line message when payloads stop and when they resume.
	Warn func(line string)
}

// reasonDiskGuard: the payload's bytes from there on were not written
// because the disk guard had tripped.
const reasonDiskGuard = "disk-guard"

// guardEvery is how many payload bytes may arrive between two looks at the
// free space (besides one look per tick).
const guardEvery = 1 << 20

// DiskGuardError says the recording stopped because free space fell below
// half of --min-free. The part was closed cleanly.
type DiskGuardError struct {
	File          string
	Free, MinFree int64
}

func (e *DiskGuardError) Error() string {
	return fmt.Sprintf("disk guard: %d bytes free, below half of --min-free %d: stopped; %s is closed with its trailer", e.Free, e.MinFree, e.File)
}

type guardState struct {
	cfg       DiskGuard
	tripped   bool
	lastBytes uint64 // payloadBytes at the last look
	statfs    func(dir string) (int64, error)
}

func newGuardState(cfg DiskGuard) *guardState {
	return &guardState{cfg: cfg, statfs: freeBytes}
}

// freeBytes is the space an unprivileged writer may still use in dir's
// filesystem.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// checkGuard looks at the free space when a tick comes or guardEvery
// payload bytes arrived since the last look (force: now).
func (r *Recorder) checkGuard(force bool) error {
	g := r.guard
	if g == nil || r.w == nil || !force && r.payloadBytes-g.lastBytes < guardEvery {
		return nil
	}
	g.lastBytes = r.payloadBytes
	free, err := g.statfs(g.cfg.Dir)
	if err != nil {
		return nil // the write that fails will say what is wrong
	}
	switch {
	case free < g.cfg.MinFree/2:
		msg := fmt.Sprintf("disk guard: %d bytes free, below half of --min-free %d: recording stopped", free, g.cfg.MinFree)
		if err := r.note("error", msg); err != nil {
			return err
		}
		return &DiskGuardError{File: r.file.Name(), Free: free, MinFree: g.cfg.MinFree}
	case free < g.cfg.MinFree && !g.tripped:
		g.tripped = true
		msg := fmt.Sprintf("disk guard: %d bytes free, below --min-free %d: payload bytes are no longer written (marked %s); calls are still recorded",
			free, g.cfg.MinFree, reasonDiskGuard)
		g.warn(msg)
		return r.note("warn", msg)
	case free >= g.cfg.MinFree && g.tripped:
		g.tripped = false
		msg := fmt.Sprintf("disk guard: %d bytes free again, at least --min-free %d: payload bytes are written again", free, g.cfg.MinFree)
		g.warn(msg)
		return r.note("info", msg)
	}
	return nil
}

func (g *guardState) warn(msg string) {
	if g.cfg.Warn != nil {
		g.cfg.Warn(msg)
	}
}

// guarding reports whether payload bytes are held back now.
func (r *Recorder) guarding() bool { return r.guard != nil && r.guard.tripped }
