package recorder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// OutputConfig says where a recording to files goes.
type OutputConfig struct {
	// Base is the file name (the first part of a rotated set).
	Base string
	// Force replaces existing capture files at the set's names.
	Force bool
	// MaxFiles keeps only the newest N parts (FileSink.MaxFiles).
	MaxFiles int
	// Rotating: the set may have parts Base.1, Base.2, ...
	Rotating bool
}

// Output is a FileSink whose first file already exists. A recording opens
// its output before anything is loaded into the kernel: a missing directory,
// a name it may not create, an earlier capture it must not overwrite, or a
// --force target that is not a capture file (a device, a directory, a /proc
// file) fails before any BPF program exists, and nothing claims to be
// recording while nothing is written.
type Output struct {
	sink *FileSink

	mu    sync.Mutex
	first SinkFile // nil once the recorder took it (or it was abandoned)
	// Replaced are the existing files --force replaces: the first is gone
	// already, each later part when the new set reaches its number.
	Replaced []string
}

// OpenOutput checks the names a recording to c.Base will use and creates
// its first file (0600, O_EXCL, never through a symlink).
func OpenOutput(c OutputConfig) (*Output, error) {
	// Rotating, every part of an earlier set collides (a set left by
	// --max-files may start at FILE.7: checking FILE.1 is not enough, the
	// new set would die on that name hours later).
	var existing []string
	if c.Rotating {
		parts, err := ExistingParts(c.Base)
		if err != nil {
			return nil, err
		}
		existing = parts
	} else if _, err := os.Lstat(c.Base); err == nil {
		existing = []string{c.Base}
	}
	if len(existing) > 0 && !c.Force {
		return nil, fmt.Errorf("%s: %w", ListNames(existing), ErrOutputExists)
	}
	for _, name := range existing {
		if err := replaceable(name); err != nil {
			return nil, err
		}
	}
	sink := &FileSink{Base: c.Base, Force: c.Force, MaxFiles: c.MaxFiles}
	first, err := sink.Create(0)
	if err != nil {
		return nil, err
	}
	return &Output{sink: sink, first: first, Replaced: existing}, nil
}

// replaceable refuses to have --force unlink anything but a regular file or
// a symlink (which is removed, never followed): a device node, a directory,
// a socket or a file of /proc or /sys is not a capture to replace.
func replaceable(name string) error {
	fi, err := os.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	if fi.Mode().IsRegular() {
		var st unix.Statfs_t
		if unix.Statfs(name, &st) == nil && (st.Type == unix.PROC_SUPER_MAGIC || st.Type == unix.SYSFS_MAGIC) {
			return fmt.Errorf("%s: a kernel interface file, not a capture: --force replaces only regular files", name)
		}
		return nil
	}
	what := "not a regular file"
	switch {
	case fi.IsDir():
		what = "a directory"
	case fi.Mode()&fs.ModeDevice != 0:
		what = "a device"
	case fi.Mode()&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case fi.Mode()&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s: %s, not a capture: --force replaces only regular files", name, what)
}

// Rotates reports that the set may have several parts.
func (o *Output) Rotates() bool { return true }

// Create returns the file opened by OpenOutput for part 0, then creates
// the later parts.
func (o *Output) Create(part uint32) (SinkFile, error) {
	if part == 0 {
		o.mu.Lock()
		defer o.mu.Unlock()
		f := o.first
		o.first = nil
		if f == nil {
			return nil, errors.New("output: first file already used")
		}
		return f, nil
	}
	return o.sink.Create(part)
}

// Abandon removes the first file when the recording never took it (it
// failed to start): no empty capture is left behind. Once the recorder
// has it, Abandon does nothing.
func (o *Output) Abandon() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == nil {
		return
	}
	o.first.Close()
	unix.Unlink(o.first.Name())
	o.first = nil
}

// ListNames names a few files and counts the rest, for a one-line message.
func ListNames(names []string) string {
	const show = 4
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
