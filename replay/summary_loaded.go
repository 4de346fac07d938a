package replay

import (
	"fmt"
	"strings"
	"time"
)

// LoadedSummary counts the read-back segments of a capture's calls by
// verdict and keeps the DIFFERENT ones (at most MaxExamples): they are a
// summary's first finding.
type LoadedSummary struct {
	Segments    int                `json:"segments"` // read-back records over all calls
	Same        int                `json:"same"`
	Different   int                `json:"different"`
	NotReadBack int                `json:"not_read_back"`
	NotCompared int                `json:"not_compared"`
	KernelBuilt int                `json:"kernel_built"`
	Differences []LoadedDifference `json:"differences,omitempty"`
}

// LoadedDifference is one segment whose staged bytes differ from its
// entry copy.
type LoadedDifference struct {
	CallID    uint64    `json:"call_id"`
	Time      time.Time `json:"time"`
	Index     int       `json:"index"`
	Reason    string    `json:"reason"`
	DiffersAt []uint64  `json:"differs_at,omitempty"`
}

// addLoaded counts c's read-back segments (none: the summary keeps no
// Loaded block, as for captures from before the read-back).
func (s *Summary) addLoaded(c *Call) {
	if len(c.Loaded) == 0 {
		return
	}
	if s.Loaded == nil {
		s.Loaded = &LoadedSummary{}
	}
	l := s.Loaded
	for _, seg := range c.Loaded {
		l.Segments++
		switch seg.Verdict {
		case VerdictSame:
			l.Same++
		case VerdictDifferent:
			l.Different++
			l.Differences = addExamples(l.Differences, LoadedDifference{CallID: c.ID, Time: c.Time, Index: seg.Index,
				Reason: seg.Reason, DiffersAt: seg.DiffersAt})
		case VerdictNotCompared:
			l.NotCompared++
		case VerdictKernelBuilt:
			l.KernelBuilt++
		default:
			l.NotReadBack++
		}
	}
}

// mergeLoaded adds s's counts to the TOTAL t.
func (t *Summary) mergeLoaded(s *Summary) {
	if s.Loaded == nil {
		return
	}
	if t.Loaded == nil {
		t.Loaded = &LoadedSummary{}
	}
	a, b := t.Loaded, s.Loaded
	a.Segments += b.Segments
	a.Same += b.Same
	a.Different += b.Different
	a.NotReadBack += b.NotReadBack
	a.NotCompared += b.NotCompared
	a.KernelBuilt += b.KernelBuilt
	a.Differences = addExamples(a.Differences, b.Differences...)
}

// loadedFinding prints the DIFFERENT read-backs, first of all.
func (w *textWriter) loadedFinding(s *Summary) {
	l := s.Loaded
	if l == nil || l.Different == 0 {
		return
	}
	w.line("!! LOADED SEGMENT DIFFERENT in %d of %d read-back segments:", l.Different, l.Segments)
	w.line("!! the kernel staged other bytes than the capture's entry copy shows")
	w.line("!! (the caller's buffers changed during the call: a race or tampering).")
	for _, d := range l.Differences {
		at := ""
		if len(d.DiffersAt) > 0 {
			at = fmt.Sprintf(" (pieces at %#x)", d.DiffersAt)
		}
		w.cutLine(fmt.Sprintf("!!   call %d segment %d at %s: %s%s", d.CallID, d.Index, textTime(d.Time), d.Reason, at))
	}
	if l.Different > len(l.Differences) {
		w.line("!!   ... and %d more", l.Different-len(l.Differences))
	}
}

// loadedLine is the read-back's count line.
func (w *textWriter) loadedLine(s *Summary) {
	l := s.Loaded
	if l == nil {
		return
	}
	parts := []string{fmt.Sprintf("Read back: %d segments", l.Segments)}
	for _, c := range []struct {
		n    int
		what string
	}{{l.Same, "same"}, {l.Different, "DIFFERENT"}, {l.NotReadBack, "not read back"}, {l.NotCompared, "not compared"}, {l.KernelBuilt, "kernel-built"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	w.cutLine(strings.Join(parts, ", "))
}
