package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The read-back part of a call's table: one row per segment of the image
// the kernel staged, with its verdict against the entry copy.

// isLoadedPayload says a payload is a read-back copy (shown in the loaded
// table, not among the call's other payloads).
func isLoadedPayload(p *Payload) bool { return p.Source == "kernel-pages" }

// differentLoaded lists the segments whose loaded copy differs.
func differentLoaded(c *Call) []int {
	var idx []int
	for _, l := range c.Loaded {
		if l.Verdict == VerdictDifferent {
			idx = append(idx, l.Index)
		}
	}
	return idx
}

// LoadedLine says in one line what the read-back found for a call ("" when
// nothing was read back): the DIFFERENT segments first.
func LoadedLine(c *Call) string {
	if len(c.Loaded) == 0 {
		return ""
	}
	counts := map[string]int{}
	for _, l := range c.Loaded {
		counts[l.Verdict]++
	}
	var parts []string
	if d := differentLoaded(c); len(d) > 0 {
		s := make([]string, len(d))
		for i, n := range d {
			s[i] = strconv.Itoa(n)
		}
		parts = append(parts, "DIFFERENT: segment "+strings.Join(s, ", "))
	}
	for _, v := range []string{VerdictSame, VerdictKernelBuilt, VerdictNotCompared, VerdictNotReadBack} {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	return strings.Join(parts, "; ")
}

// loadedVerdictCell is the verdict, then its reason and the differing
// pieces wrapped to short lines (the table wraps only its last column).
func loadedVerdictCell(l *LoadedSegment, wide bool) string {
	s := l.Verdict
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	if len(l.DiffersAt) > 0 {
		offs := make([]string, len(l.DiffersAt))
		for i, o := range l.DiffersAt {
			offs[i] = fmt.Sprintf("%#x", o)
		}
		s += " (pieces at " + strings.Join(offs, ", ") + ")"
	}
	s = sanitize(s)
	if wide {
		return s
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > 24 {
			lines = append(lines, line)
			line = ""
		}
		line = strings.TrimSpace(line + " " + word)
	}
	return strings.Join(append(lines, line), "\n")
}

func loadedTable(w io.Writer, c *Call, o TableOptions) error {
	if len(c.Loaded) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := &table{header: []string{"LOADED", "MEM/MEMSZ", "BUFSZ", "SHA256", "VERDICT", "WHAT"}}
	if o.Wide {
		t.header = []string{"LOADED", "IMAGE", "MEM", "MEMSZ", "BUFSZ", "SHA256", "TAIL", "VERDICT", "WHAT"}
	}
	for _, l := range c.Loaded {
		w := what(l.Payload)
		if tw := what(l.Tail); tw != "" {
			w = strings.TrimSpace(w + "; tail: " + tw)
		}
		tail := "-"
		if l.TailZero != nil {
			tail = "nonzero"
			if *l.TailZero {
				tail = "zero"
			}
		}
		if o.Wide {
			t.add(strconv.Itoa(l.Index), l.Image, fmt.Sprintf("%#x", l.Mem), strconv.FormatUint(l.MemSz, 10),
				strconv.FormatUint(l.BufSz, 10), o.hash(l.SHA256), tail, loadedVerdictCell(l, true), w)
		} else {
			t.add(strconv.Itoa(l.Index)+"\n"+l.Image, fmt.Sprintf("%#x\n%d", l.Mem, l.MemSz),
				strconv.FormatUint(l.BufSz, 10), o.hash(l.SHA256), loadedVerdictCell(l, false), w)
		}
	}
	return t.render(w, o)
}
