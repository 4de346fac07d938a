// Package report turns what the reading commands found in one or more
// captures (verify's checks, summarize's summary, the decoded calls and an
// optional diff against a baseline) into an incident report: one
// self-contained HTML file or GitHub-flavoured Markdown for a ticket.
//
// The package decodes nothing itself: the caller gathers an Evidence with
// the replay package (the command line does it in cmd/kexecrec) and the
// renderers only present it. Every string that comes from a capture (comm,
// argv, exe, cmdline, file names, identification summaries) is made
// printable here and escaped for its output by the renderer, so it can
// neither drive a terminal nor inject markup.
package report

import (
	"time"

	"github.com/kexecrec/kexecrec/replay"
)

// Evidence is everything a report shows.
type Evidence struct {
	// Tool names the program that made the report ("kexecrec dev (...)").
	Tool string
	// Generated is when the report was made; zero leaves it out (golden
	// files and reproducible reports).
	Generated time.Time
	Captures  []*Capture
	// Baseline, when set, adds the comparison against a known-good capture.
	Baseline *Baseline
}

// Capture is one capture file as read.
type Capture struct {
	Path   string
	Size   int64
	SHA256 string // of the file's bytes, as sha256sum prints it
	// Verify is the result of the same checks `kexecrec verify` runs.
	Verify Verification
	// Summary is what `kexecrec summarize` says about the file (never nil
	// once gathered; partial when the file is damaged).
	Summary *replay.Summary
	// Calls are the decoded calls, at most MaxCalls of them, identified.
	Calls []*replay.Call
	// CallsOmitted counts calls read but not kept (beyond MaxCalls).
	CallsOmitted int
	// ReadError says why reading the calls stopped early ("" when it did not).
	ReadError string
}

// MaxCalls bounds the calls a report keeps in full per capture: a report is
// for people; a capture of a million calls is summarized, and its first
// calls shown, with the count of the rest.
const MaxCalls = 500

// Verification is verify's verdict on one file.
type Verification struct {
	Verified bool
	// Error: the file could not be read at all.
	Error  string
	Checks []Check
}

// Check is one of verify's checks.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Baseline is the comparison with a known-good capture.
type Baseline struct {
	Path string
	// Diff is replay.Diff(baseline calls, calls of every capture); nil when
	// the baseline could not be read (Error says why).
	Diff  *replay.DiffResult
	Error string
	// KernelSHA256 are the SHA-256 of every kernel payload in the baseline.
	KernelSHA256 map[string]bool
}

// Verified reports whether every capture verified.
func (e *Evidence) Verified() bool {
	if len(e.Captures) == 0 {
		return false
	}
	for _, c := range e.Captures {
		if !c.Verify.Verified {
			return false
		}
	}
	return true
}

// KernelTypes are the identify types of payloads that are a kernel.
var KernelTypes = map[string]bool{"kernel": true, "bzimage": true, "arm64-image": true, "efi-zboot": true}

// IsKernel reports whether a payload is a kernel image (by kind or by what
// identify found in it).
func IsKernel(p *replay.Payload) bool {
	if p == nil {
		return false
	}
	if p.Kind == "kernel" {
		return true
	}
	return p.Identity != nil && (KernelTypes[p.Identity.Type] || p.Identity.KernelVersion != "")
}
