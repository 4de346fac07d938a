package replay

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/ship"
)

// One read of a capture serves everything a command reports about it: the
// file's size and SHA-256 (hashed as the stream reads it), the summary, the
// calls for the caller to keep, and verify's checks (from the same format
// reader). Only what needs random access reads the file again: payload
// bytes for identification, and verify's pass over the blobs.

// PassOptions tune ReadPass.
type PassOptions struct {
	// Identify says what each payload is and checks purgatory digests.
	Identify bool
	// PublicKey, when set, is the key signatures must verify against;
	// otherwise each file's signature is checked against the key it names.
	PublicKey ed25519.PublicKey
	// Stdin serves the path "-" (NewStdin).
	Stdin *Stdin
	// Verify: verify the capture too (format.Verify's checks).
	Verify bool
	// Each gets every call, after the summary counted it, on the goroutine
	// that called ReadPass; the call is Each's to keep. Without Each calls
	// are decoded in reused memory.
	Each func(*Call) error
}

// Pass is what one read of a capture gave.
type Pass struct {
	// Summary is never nil: on error it holds what could be read, marked
	// partial.
	Summary *Summary
	// Verify is verify's report (PassOptions.Verify); nil when the file
	// could not be opened as a capture.
	Verify *format.VerifyReport
	// ReadErr is why the capture could not be opened or its calls not all
	// read (nil: every call was read); it names the file.
	ReadErr error
}

// ReadPass reads one capture once. The error is Summarize's for the file:
// why it could not be read, or that it is damaged.
func ReadPass(path string, o PassOptions) (*Pass, error) {
	p := &Pass{Summary: newSummary()}
	s := p.Summary
	fi := FileInfo{Path: path}
	if path != StdinName && !ship.IsS3URL(path) {
		fi.Shipping = ship.LocalState(path) // what record --upload did with this part
	}
	defer func() { s.finish() }()
	fail := func(err error) (*Pass, error) {
		s.setFile(fi)
		s.setPartial(err)
		s.Damage = append(s.Damage, err.Error())
		return p, err
	}

	// The file's own hash, for case notes, covers the whole file even when
	// decoding stops at damage. Standard input's private copy is hashed
	// on its own, before it is read.
	oo := OpenOptions{Salvage: true, Identify: o.Identify, PublicKey: o.PublicKey,
		Reuse: o.Each == nil, Pipelined: true, Stdin: o.Stdin, HashFile: path != StdinName}
	if !oo.HashFile {
		size, sum, err := hashFile(path, o.Stdin)
		if err != nil {
			p.ReadErr = err
			return fail(err)
		}
		fi.Size, fi.SHA256 = size, sum
	}
	c, err := Open(path, oo)
	if err != nil {
		p.ReadErr = err
		if oo.HashFile {
			// The summary still says what the file is, as far as it can be read.
			size, sum, herr := hashFile(path, o.Stdin)
			if herr != nil {
				return fail(herr)
			}
			fi.Size, fi.SHA256 = size, sum
		}
		return fail(err)
	}
	defer c.Close()
	fi.FormatVersion = fmt.Sprintf("%d", format.FormatMajor)
	s.setFile(fi)
	readErr := summarizeCapture(s, c, o.Each)
	p.ReadErr = readErr
	var streamErr error
	if o.Verify {
		streamErr = c.finishStream()
	}
	if c.fileHash != nil {
		size, sum, err := c.FileSum()
		if err != nil {
			return fail(err)
		}
		s.File.Size, s.File.SHA256 = size, sum
	}
	if o.Verify {
		size, err := c.size()
		if err != nil {
			size = c.fileHash.n
		}
		p.Verify = format.VerifyRead(c.r, streamErr, c.ra, size, format.VerifyOptions{PublicKey: o.PublicKey})
		p.Verify.File = path
	}
	if readErr != nil {
		return p, readErr
	}
	if len(s.Damage) > 0 {
		return p, fmt.Errorf("%s: damaged: %s", path, s.Damage[0])
	}
	return p, nil
}

// finishStream reads the records the format reader has not returned yet
// (Calls stopped before the end: its callback stopped it, or a record could
// not be decoded), so that the reader's status covers the whole file, and
// closes the reader. It returns the error that ended the stream early (nil
// at its end).
func (c *Capture) finishStream() error {
	for !c.streamDone {
		c.next()
	}
	c.r.Close()
	return c.streamErr
}

// FileSum is the file's size and hex SHA-256 (OpenOptions.HashFile): the
// bytes the stream read, then the rest of the file. It ends the stream:
// call it once Calls has returned.
func (c *Capture) FileSum() (int64, string, error) {
	if c.fileHash == nil {
		return 0, "", fmt.Errorf("%s: not opened with HashFile", c.path)
	}
	c.r.Close() // its read-ahead stops before the rest is read here
	if _, err := io.Copy(io.Discard, c.fileHash); err != nil {
		return c.fileHash.n, "", fmt.Errorf("%s: %w", c.path, err)
	}
	return c.fileHash.n, hex.EncodeToString(c.fileHash.h.Sum(nil)), nil
}

// hashingReader hashes and counts the bytes read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

// hashFile returns a file's size and hex SHA-256.
func hashFile(path string, stdin *Stdin) (int64, string, error) {
	in, err := OpenInput(path, stdin)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return n, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
