package identify

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	defaultMaxDecompressed = 256 << 20
	defaultMaxFiles        = 100000
	defaultTimeout         = 15 * time.Second

	// maxPathLen is the kernel's PATH_MAX: init/initramfs.c refuses longer
	// cpio names, and so do we (before allocating them).
	maxPathLen = 4096
)

// errCap and errDeadline end a decompression that would go past the
// configured bounds. They are reported as warnings, never followed.
var (
	errCap      = errors.New("decompressed size cap reached")
	errDeadline = errors.New("decompression time limit reached")
)

func (o Options) withDefaults() Options {
	if o.MaxDecompressed <= 0 {
		o.MaxDecompressed = defaultMaxDecompressed
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	return o
}

// boundedReader stops a decompressed stream at max bytes or at the deadline,
// whichever comes first. Reaching exactly max bytes at the true end of the
// stream is not a cap: one more byte is probed before errCap is returned.
type boundedReader struct {
	r        io.Reader
	n, max   int64
	deadline time.Time
	probed   bool
}

func newBounded(r io.Reader, max int64, deadline time.Time) *boundedReader {
	return &boundedReader{r: r, max: max, deadline: deadline}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if time.Now().After(b.deadline) {
		return 0, errDeadline
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.n >= b.max {
		if !b.probed {
			b.probed = true
			var one [1]byte
			k, err := io.ReadFull(b.r, one[:])
			if k == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return 0, io.EOF
			}
		}
		return 0, errCap
	}
	if rest := b.max - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	return k, err
}

// countingReader is a buffered io.ByteReader over a section of the payload
// that knows how many bytes its consumers took. Decompressors that read
// through an io.ByteReader (flate, our xz container reader) do not read
// ahead, so N is exactly where their stream ended.
type countingReader struct {
	br       *bufio.Reader
	n        int64
	deadline time.Time
}

func newCountingReader(r io.Reader, deadline time.Time) *countingReader {
	return &countingReader{br: bufio.NewReaderSize(r, 64<<10), deadline: deadline}
}

func (c *countingReader) Read(p []byte) (int, error) {
	if time.Now().After(c.deadline) {
		return 0, errDeadline
	}
	k, err := c.br.Read(p)
	c.n += int64(k)
	return k, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n++
		// Checking the clock on every byte would dominate; every 64 KiB is
		// enough to bound a stall.
		if c.n&0xffff == 0 && time.Now().After(c.deadline) {
			return 0, errDeadline
		}
	}
	return b, err
}

// readAtMost reads up to n bytes at off, never more than the payload holds.
func readAtMost(ra io.ReaderAt, size, off int64, n int) []byte {
	if off < 0 || off >= size || n <= 0 {
		return nil
	}
	if rest := size - off; int64(n) > rest {
		n = int(rest)
	}
	buf := make([]byte, n)
	k, err := ra.ReadAt(buf, off)
	if k < n && err != nil {
		return buf[:k]
	}
	return buf
}

// boundWarning turns a decompression error into a warning line, naming the
// bound that stopped it.
func boundWarning(what string, err error, o Options) string {
	switch {
	case errors.Is(err, errCap):
		return fmt.Sprintf("%s: stopped at the %d-byte decompression cap (possible decompression bomb); not followed further", what, o.MaxDecompressed)
	case errors.Is(err, errDeadline):
		return fmt.Sprintf("%s: stopped at the %s decompression time limit; not followed further", what, o.Timeout)
	default:
		return fmt.Sprintf("%s: %v", what, err)
	}
}
