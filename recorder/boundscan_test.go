package recorder

import (
	"path/filepath"
	"testing"
	"time"
)

// earlierSet records a set of parts as an earlier run would leave them,
// call 6 privileged, and returns them (oldest first) as the bound lists
// them, and the part holding call 6.
func earlierSet(t *testing.T) (*boundState, []boundPart, string) {
	t.Helper()
	pattern := filepath.Join(t.TempDir(), "kexec-{start}.kxr")
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	first := boundRun(t, pattern, t0, 12, map[uint64]bool{6: true}, nil)
	evidence := holdsCall(t, first.Files, 6)
	b := newBoundState(TotalBound{Pattern: pattern, Max: 1 << 40, KeepEvidence: true})
	b.curName = ExpandOutputName(pattern, t0.Add(time.Hour)) // the part being written: not listed
	parts, err := b.list(b.curName)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != len(first.Files) || len(parts) < 5 {
		t.Fatalf("listed %d parts of %v", len(parts), first.Files)
	}
	return b, parts, evidence
}

func TestEvidenceScansRunAheadOffTheRecordingGoroutine(t *testing.T) {
	b, parts, evidence := earlierSet(t)
	defer b.scans.close()
	release := make(chan struct{})
	asked := make(chan string, 2*len(parts))
	b.scans.read = func(path string, stop <-chan struct{}) bool {
		asked <- path
		<-release
		return partHoldsEvidence(path, stop)
	}

	// Queueing every part returns while the first scan is held up: the
	// reading is not done by the caller (the recording goroutine).
	queued := make(chan struct{})
	go func() {
		b.scanAhead(parts)
		close(queued)
	}()
	select {
	case <-queued:
	case <-time.After(time.Minute):
		t.Fatal("scanAhead waited for a part to be read")
	}
	if got := <-asked; got != parts[0].path {
		t.Fatalf("first part read %s, want the oldest %s", got, parts[0].path)
	}

	// A removal that needs the oldest part's answer waits for it.
	answer := make(chan bool, 1)
	go func() { answer <- b.holds(parts[0]) }()
	select {
	case h := <-answer:
		t.Fatalf("holds answered %v before the part was read", h)
	default:
	}
	close(release)
	if h := <-answer; h != (parts[0].path == evidence) {
		t.Errorf("%s: holds %v", parts[0].path, h)
	}

	// Every part gets the answer of reading it, read once, in age order.
	for _, p := range parts {
		if h := b.holds(p); h != (p.path == evidence) {
			t.Errorf("%s: holds %v, want %v (evidence is %s)", filepath.Base(p.path), h, !h, filepath.Base(evidence))
		}
	}
	for i, p := range parts[1:] {
		if got := <-asked; got != p.path {
			t.Errorf("read %d: %s, want %s", i+1, got, p.path)
		}
	}
	b.scanAhead(parts)
	for _, p := range parts {
		b.holds(p)
	}
	select {
	case got := <-asked:
		t.Errorf("%s read again though unchanged", got)
	default:
	}

	// A part that changed since (size or time) is read again.
	changed := parts[1]
	changed.size++
	b.holds(changed)
	if got := <-asked; got != changed.path {
		t.Errorf("changed part: read %s, want %s", got, changed.path)
	}
}

func TestEvidenceScansStoppedCountAsEvidence(t *testing.T) {
	b, parts, evidence := earlierSet(t)
	clean := parts[0]
	if clean.path == evidence {
		clean = parts[len(parts)-1]
	}
	if partHoldsEvidence(clean.path, make(chan struct{})) {
		t.Fatalf("%s: holds evidence, want none", clean.path)
	}
	stopped := make(chan struct{})
	close(stopped)
	if !partHoldsEvidence(clean.path, stopped) {
		t.Error("a stopped read answered 'no evidence'")
	}
	// After close, a part not read yet is kept (counts as evidence), and
	// asking does not hang.
	b.scans.close()
	if !b.holds(clean) {
		t.Error("after close: a part not read counts as no evidence")
	}
	b.scans.close() // a second close is harmless
}
