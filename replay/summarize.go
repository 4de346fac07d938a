package replay

import (
	"crypto/ed25519"
	"errors"
	"strings"
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
		p, err := ReadPass(path, PassOptions{Identify: o.Identify, PublicKey: o.PublicKey, Stdin: o.Stdin})
		rep.Files = append(rep.Files, p.Summary)
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

// summarizeCapture adds everything an open capture holds to s (not
// finished): its header, every call, then the container's status, the
// recorder's counters and the capture's trouble. It returns the error that
// stopped reading the calls, if one did (s is then partial). each, when
// set, gets every call after s counted it.
func summarizeCapture(s *Summary, c *Capture, each func(*Call) error) error {
	s.setHeader(c.Header())
	s.Host.Notes = c.HeaderNotes()
	readErr := c.Calls(func(call *Call) error {
		s.addCall(call)
		if each != nil {
			return each(call)
		}
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
