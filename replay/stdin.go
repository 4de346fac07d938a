package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// StdinName is how a capture on standard input is named on the command line.
const StdinName = "-"

// DefaultStdinLimit bounds the private copy kept of standard input.
const DefaultStdinLimit int64 = 4 << 30

// ErrStdinLimit is returned when standard input is larger than the copy
// kept of it may grow.
var ErrStdinLimit = errors.New("standard input is larger than the limit for keeping a copy of it")

// Stdin is standard input as a capture source ("-"). Streams read it as it
// arrives (a recorder writing to a pipe is decoded live) and keep a copy in
// a private temporary file, which serves what needs random access: payload
// bytes, a second pass over the capture, the file's size and hash. The copy
// is created 0600 and unlinked at once, so nothing is left behind however
// the process ends; it stops growing at the limit (ErrStdinLimit).
type Stdin struct {
	in    io.Reader
	limit int64

	rmu  sync.Mutex // held while reading in
	mu   sync.Mutex // guards the fields below
	f    *os.File   // the copy; nil until first read
	n    int64      // bytes in the copy
	done bool       // in has ended (EOF, error or limit)
	err  error      // why it ended, when not EOF: sticky
}

// NewStdin wraps in; limit <= 0 means DefaultStdinLimit.
func NewStdin(in io.Reader, limit int64) *Stdin {
	if limit <= 0 {
		limit = DefaultStdinLimit
	}
	return &Stdin{in: in, limit: limit}
}

// Close drops the copy.
func (s *Stdin) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	s.done, s.err = true, errors.New("standard input: closed")
	return err
}

// Err is why reading standard input stopped early (nil: not stopped, or EOF).
func (s *Stdin) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// file creates the copy on first use. s.mu is held.
func (s *Stdin) file() (*os.File, error) {
	if s.f != nil {
		return s.f, nil
	}
	if s.in == nil {
		return nil, errors.New("standard input: not available")
	}
	// os.CreateTemp creates the file 0600; unlinked right away, only this
	// process can reach it and it disappears with the descriptor.
	f, err := os.CreateTemp("", "kexecrec-stdin-*")
	if err != nil {
		return nil, fmt.Errorf("standard input: cannot keep a copy: %w", err)
	}
	os.Remove(f.Name())
	s.f = f
	return f, nil
}

// fill reads the next block of standard input into the copy: io.EOF once
// the input has ended. Only one fill reads the input at a time (rmu); the
// copy (mu) stays readable meanwhile, so payload bytes already read are
// served while a stream waits for more input.
func (s *Stdin) fill(buf []byte) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		s.mu.Lock()
		done, err := s.done, s.err
		if !done {
			_, err = s.file()
		}
		s.mu.Unlock()
		if done {
			if err != nil {
				return err
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
		n, rerr := s.in.Read(buf)
		s.mu.Lock()
		err = s.add(buf[:n], rerr)
		s.mu.Unlock()
		if err != nil || n > 0 {
			return err
		}
	}
}

// add appends what one read of the input gave. s.mu is held.
func (s *Stdin) add(b []byte, rerr error) error {
	if len(b) > 0 {
		if s.n+int64(len(b)) > s.limit {
			s.done = true
			s.err = fmt.Errorf("%w (%s): save it to a file and name the file instead", ErrStdinLimit, sizeText(s.limit))
			return s.err
		}
		if _, err := s.f.WriteAt(b, s.n); err != nil {
			s.done = true
			s.err = fmt.Errorf("standard input: keeping a copy: %w", err)
			return s.err
		}
		s.n += int64(len(b))
	}
	switch {
	case rerr == io.EOF:
		s.done = true
	case rerr != nil:
		s.done, s.err = true, fmt.Errorf("standard input: %w", rerr)
		if len(b) == 0 {
			return s.err
		}
	}
	return nil
}

// Stream returns a reader of the whole input from its first byte: the copy
// first, then what is still unread, copied as it is read.
func (s *Stdin) Stream() io.Reader { return &stdinStream{s: s} }

// ReaderAt reads the copy (what streams have read so far).
func (s *Stdin) ReaderAt() io.ReaderAt { return stdinAt{s} }

// Size is the number of bytes in the copy so far.
func (s *Stdin) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// All reads the rest of standard input into the copy and returns random
// access to all of it and its size.
func (s *Stdin) All() (io.ReaderAt, int64, error) {
	buf := make([]byte, 256<<10)
	for {
		if err := s.fill(buf); err == io.EOF {
			break
		} else if err != nil {
			return nil, s.Size(), err
		}
	}
	s.mu.Lock()
	_, err := s.file()
	s.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return stdinAt{s}, s.Size(), nil
}

type stdinStream struct {
	s   *Stdin
	off int64
	buf []byte
}

func (r *stdinStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.off >= r.s.Size() {
		if r.buf == nil {
			r.buf = make([]byte, 256<<10)
		}
		if err := r.s.fill(r.buf); err != nil {
			if err == io.EOF && r.off < r.s.Size() {
				break // another stream read the last bytes
			}
			return 0, err
		}
	}
	k, err := stdinAt{r.s}.ReadAt(p, r.off)
	r.off += int64(k)
	if err == io.EOF && k > 0 {
		err = nil
	}
	return k, err
}

type stdinAt struct{ s *Stdin }

func (a stdinAt) ReadAt(p []byte, off int64) (int, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	f, n := a.s.f, a.s.n
	if f == nil || off >= n {
		return 0, io.EOF
	}
	if rest := n - off; int64(len(p)) > rest {
		k, err := f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return k, err
	}
	return f.ReadAt(p, off)
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// openStdin opens the capture on o.Stdin. The stream is read as it comes
// (no reading ahead: a live pipe is decoded as soon as a chunk is whole);
// payload bytes come from the copy, which holds everything the stream has
// passed.
func openStdin(o OpenOptions) (*Capture, error) {
	s := o.Stdin
	if s == nil {
		return nil, errors.New("-: standard input is not available to this command")
	}
	src := s.Stream()
	if o.Follow && o.Context != nil {
		// A pipe needs no polling, but a wait for input that never comes
		// must still end when the follower is stopped.
		src = &ctxReader{ctx: o.Context, r: src}
	}
	r, err := format.NewReader(src, format.ReaderOptions{Salvage: o.Salvage, PublicKey: o.PublicKey, IndexPieces: true})
	if err != nil {
		if serr := s.Err(); serr != nil {
			return nil, serr
		}
		return nil, fmt.Errorf("standard input: %w", err)
	}
	return &Capture{
		path:     StdinName,
		ra:       s.ReaderAt(),
		size:     func() (int64, error) { return s.Size(), nil },
		stdin:    s,
		opts:     o,
		r:        r,
		dec:      NewDecoder(r.Header()),
		live:     r.Index(s.ReaderAt()),
		purCache: make(map[string]*identify.PurgatoryVerdict),
	}, nil
}

// Input is a capture named on the command line, a file or "-", for a
// command that reads its bytes itself (verify, the file hash of summarize):
// read it once from the start, then ask for random access to all of it.
type Input struct {
	r       io.Reader
	f       CaptureFile
	stdin   *Stdin
	regular bool
}

// OpenInput opens path, or standard input for "-" (stdin may be nil where
// the command offers none).
func OpenInput(path string, stdin *Stdin) (*Input, error) {
	if path == StdinName {
		if stdin == nil {
			return nil, errors.New("-: standard input is not available to this command")
		}
		return &Input{r: stdin.Stream(), stdin: stdin, regular: true}, nil
	}
	f, err := OpenFile(path) // a file, or an object in S3 (s3://BUCKET/KEY)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	return &Input{r: f, f: f, regular: st.Mode().IsRegular()}, nil
}

// Read reads the input from its first byte.
func (in *Input) Read(p []byte) (int, error) { return in.r.Read(p) }

// Regular reports whether the input can be read again at random: a regular
// file, or standard input through its copy.
func (in *Input) Regular() bool { return in.regular }

// All returns random access to the whole input and its size (standard
// input: whatever is still unread is read into the copy first).
func (in *Input) All() (io.ReaderAt, int64, error) {
	if in.stdin != nil {
		return in.stdin.All()
	}
	st, err := in.f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return in.f, st.Size(), nil
}

// Close closes the file (standard input's copy stays for another pass).
func (in *Input) Close() error {
	if in.f != nil {
		return in.f.Close()
	}
	return nil
}

// ctxReader ends a read with io.EOF once ctx is done, even while the
// underlying Read still blocks (that read is left to finish on its own
// goroutine; nothing reads its result).
type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	pending chan readResult // the read in flight, if any
}

type readResult struct {
	b   []byte
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.pending == nil {
		ch := make(chan readResult, 1)
		buf := make([]byte, len(p))
		go func() {
			n, err := c.r.Read(buf)
			ch <- readResult{buf[:n], err}
		}()
		c.pending = ch
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		n := copy(p, res.b)
		if n < len(res.b) {
			// p shrank since the read started: keep the rest for next time.
			rest := make(chan readResult, 1)
			rest <- readResult{res.b[n:], res.err}
			c.pending = rest
			return n, nil
		}
		return n, res.err
	case <-c.ctx.Done():
		return 0, io.EOF
	}
}
