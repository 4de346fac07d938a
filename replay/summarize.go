package replay

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/ship"
)

// SummarizeOptions tune Summarize.
type SummarizeOptions struct {
	// Identify says what each payload is and checks purgatory digests
	// (reads payload bytes).
	Identify bool
	// PublicKey, when set, is the key signatures must verify against;
	// otherwise each file's signature is checked against the key it names.
	PublicKey ed25519.PublicKey
	// Stdin serves the path "-" (NewStdin).
	Stdin *Stdin
}

// SummaryReport is what `kexecrec summarize` reports (its JSON document):
// one summary per file and, when there are several, their TOTAL.
type SummaryReport struct {
	Files []*Summary `json:"files"`
	Total *Summary   `json:"total,omitempty"`
	// Fleet: one row per capture when an S3 prefix was given (see Fleet).
	Fleet []FleetRow `json:"fleet,omitempty"`
}

// Summarize reads each capture file once and summarizes it. The report
// always has a summary per file: a file that could not be read entirely
// gets what could be read, marked partial. The error joins, one per file,
// why files could not be read or are damaged.
func Summarize(paths []string, o SummarizeOptions) (*SummaryReport, error) {
	rep := &SummaryReport{}
	var errs []string
	for _, path := range paths {
		s, err := summarizeFile(path, OpenOptions{Salvage: true, Identify: o.Identify, PublicKey: o.PublicKey,
			Reuse: true, Pipelined: true, Stdin: o.Stdin})
		rep.Files = append(rep.Files, s)
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(rep.Files) > 1 {
		rep.Total = totalOf(rep.Files)
	}
	if len(errs) > 0 {
		return rep, errors.New(strings.Join(errs, "; "))
	}
	return rep, nil
}

// summarizeFile reads one capture. The summary is never nil: on error it
// holds what could be read, marked partial, and the error names the file.
func summarizeFile(path string, o OpenOptions) (*Summary, error) {
	s := newSummary()
	fi := FileInfo{Path: path}
	if path != StdinName && !ship.IsS3URL(path) {
		fi.Shipping = ship.LocalState(path) // what record --upload did with this part
	}
	defer func() { s.finish() }()
	fail := func(err error) (*Summary, error) {
		s.setFile(fi)
		s.setPartial(err)
		s.Damage = append(s.Damage, err.Error())
		return s, err
	}

	// The file's own hash, for case notes: a separate pass over the bytes,
	// so it covers the whole file even when decoding stops at damage.
	size, sum, err := hashFile(path, o.Stdin)
	if err != nil {
		return fail(err)
	}
	fi.Size, fi.SHA256 = size, sum
	fi.FormatVersion = fmt.Sprintf("%d", format.FormatMajor)

	c, err := Open(path, o)
	if err != nil {
		fi.FormatVersion = ""
		return fail(err)
	}
	defer c.Close()
	s.setFile(fi)
	readErr := summarizeCapture(s, c)
	if readErr != nil {
		return s, readErr
	}
	if len(s.Damage) > 0 {
		return s, fmt.Errorf("%s: damaged: %s", path, s.Damage[0])
	}
	return s, nil
}

// summarizeCapture adds everything an open capture holds to s (not
// finished): its header, every call, then the container's status, the
// recorder's counters and the capture's trouble. It returns the error that
// stopped reading the calls, if one did (s is then partial).
func summarizeCapture(s *Summary, c *Capture) error {
	s.setHeader(c.Header())
	s.Host.Notes = c.HeaderNotes()
	readErr := c.Calls(func(call *Call) error {
		s.addCall(call)
		return nil
	})
	s.setStatus(c.Status())
	s.setStats(c.Stats())
	s.setTrouble(c.Trouble())
	if readErr != nil {
		s.setPartial(readErr)
	}
	return readErr
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
