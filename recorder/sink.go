package recorder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A Sink gives the recorder somewhere to write each part of a capture set.
type Sink interface {
	// Create opens part n (0 first) for writing.
	Create(part uint32) (SinkFile, error)
	// Rotates reports whether the sink can hold more than one part.
	Rotates() bool
}

// SinkFile is one open part. Writer() is handed to the content writer (and
// on to format.NewWriter) as is, so that an *os.File gets fsync'ed per the
// writer's sync policy and a torn chunk can be cut off.
type SinkFile interface {
	Writer() io.Writer
	Name() string
	// Close finishes the part (the capture's trailer is already written).
	Close() error
	// TruncateTo drops everything after off (used after ENOSPC to cut a
	// half-written chunk); a sink that cannot returns an error.
	TruncateTo(off int64) error
}

// PartName is the name of part n of a capture set written to base:
// base itself for the first part, then base.1, base.2, ... (the number is
// the header's Part, so names sort and never get reused).
func PartName(base string, part uint32) string {
	if part == 0 {
		return base
	}
	return base + "." + strconv.FormatUint(uint64(part), 10)
}

// ErrOutputExists is returned when an output file is already there and
// overwriting was not asked for.
var ErrOutputExists = errors.New("output file exists (use --force to overwrite)")

// ExistingParts lists the files already at the names a capture set written
// to base would use (base, base.1, base.2, ...), in part order, without
// following symlinks. Only exact part names count: base.bak or base.07 are
// not parts.
func ExistingParts(base string) ([]string, error) {
	dir, file := filepath.Split(base)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // Create will say what is wrong with the directory
		}
		return nil, err
	}
	type part struct {
		n    uint64
		name string
	}
	var parts []part
	for _, e := range entries {
		name := e.Name()
		if name == file {
			parts = append(parts, part{0, base})
			continue
		}
		suffix, ok := strings.CutPrefix(name, file+".")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(suffix, 10, 32)
		if err != nil || n == 0 || PartName(file, uint32(n)) != name {
			continue
		}
		parts = append(parts, part{n, PartName(base, uint32(n))})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n < parts[j].n })
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.name
	}
	return names, nil
}

// FileSink writes parts to files named by PartName, created 0600 with
// O_EXCL|O_NOFOLLOW. With Force an existing entry at the name is unlinked
// first (never followed: a symlink planted at the output path is removed,
// its target left alone). With MaxFiles > 0 only the newest MaxFiles parts
// are kept: creating part n removes part n-MaxFiles (like tcpdump -W).
type FileSink struct {
	Base     string
	Force    bool
	MaxFiles int
}

func (s *FileSink) Rotates() bool { return true }

func (s *FileSink) Create(part uint32) (SinkFile, error) {
	name := PartName(s.Base, part)
	if s.Force {
		// unlink(2), not os.Remove: that would also rmdir an empty
		// directory planted at the name.
		if err := unix.Unlink(name); err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, &fs.PathError{Op: "remove", Path: name, Err: err}
		}
	}
	// O_EXCL also refuses a symlink (even a dangling one) re-planted between
	// the unlink and here; O_NOFOLLOW says so twice.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrOutputExists)
	}
	if err != nil {
		return nil, err
	}
	if s.MaxFiles > 0 && part >= uint32(s.MaxFiles) {
		old := PartName(s.Base, part-uint32(s.MaxFiles))
		if err := unix.Unlink(old); err != nil && !errors.Is(err, unix.ENOENT) {
			f.Close()
			return nil, fmt.Errorf("removing oldest part %s: %w", old, err)
		}
	}
	return &osSinkFile{f: f}, nil
}

type osSinkFile struct{ f *os.File }

func (o *osSinkFile) Writer() io.Writer          { return o.f }
func (o *osSinkFile) Name() string               { return o.f.Name() }
func (o *osSinkFile) Close() error               { return o.f.Close() }
func (o *osSinkFile) TruncateTo(off int64) error { return o.f.Truncate(off) }

// StreamSink writes one capture to a stream (stdout); it cannot rotate.
type StreamSink struct {
	W     io.Writer
	Label string // name to show, e.g. "<stdout>"
}

func (s *StreamSink) Rotates() bool { return false }

func (s *StreamSink) Create(part uint32) (SinkFile, error) {
	if part != 0 {
		return nil, errors.New("a stream output cannot rotate")
	}
	return &streamFile{s}, nil
}

type streamFile struct{ s *StreamSink }

func (f *streamFile) Writer() io.Writer { return f.s.W }
func (f *streamFile) Name() string {
	if f.s.Label != "" {
		return f.s.Label
	}
	return "<stream>"
}
func (f *streamFile) Close() error { return nil }
func (f *streamFile) TruncateTo(int64) error {
	return errors.New("cannot truncate a stream")
}
