package replay

import (
	"strconv"
	"strings"
	"time"
)

// Helpers shared by every text renderer of this package (calls, summaries,
// diffs), so that a hash, a size, a time or a cut line reads the same in
// every command's output.

// shortHashLen is how much of a SHA-256 narrow output shows: 12 hex digits
// (48 bits) tell the payloads of one capture apart, like git's short ids.
const shortHashLen = 12

// shortHash cuts a hex SHA-256 to shortHashLen digits unless wide.
func shortHash(s string, wide bool) string {
	if wide || len(s) <= shortHashLen {
		return s
	}
	return s[:shortHashLen]
}

// timeLayout is how text output writes a wall-clock time (always UTC).
const timeLayout = "2006-01-02 15:04:05.000000 UTC"

// textTime writes t in timeLayout, "-" when unknown.
func textTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// HumanBytes writes a byte count compactly for tables and status lines:
// "512", "60.1K", "7.9M", "1.2G" (powers of 1024).
func HumanBytes(n uint64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatUint(n, 10)
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + "K"
	case n < 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "G"
}

// cutRunes shortens s to n runes, marking the cut with "...".
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// sanitize keeps capture strings from driving the terminal: control
// characters are shown escaped.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
