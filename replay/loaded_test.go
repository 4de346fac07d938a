package replay

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// readBackCapture writes one kexec_load call whose two segments the kernel
// staged as staged (memsz bytes each) and returns the decoded call.
func readBackCall(t *testing.T, staged func(segs []synth.Segment) [][]byte, status uint32) (*Call, *Capture) {
	t.Helper()
	path := writeReadBack(t, staged, status)
	c, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var calls []*Call
	if err := c.Calls(func(call *Call) error { calls = append(calls, call); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	return calls[0], c
}

// writeReadBack writes the capture of readBackCall and returns its path.
func writeReadBack(t *testing.T, staged func(segs []synth.Segment) [][]byte, status uint32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rb.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("kernel bytes "), 60000) // 780000: four 256 KiB pieces
	segs := []synth.Segment{
		{Data: []byte("boot params"), Mem: 0x10000, MemSz: 0x1000},
		{Data: big, Mem: 0x1000000, MemSz: 0xc0000},
	}
	if err := w.KexecLoadReadBack(segs, staged(segs), 0x10000, status); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// asStaged is what the kernel holds for segs: each buffer, zeros to memsz.
func asStaged(segs []synth.Segment) [][]byte {
	out := make([][]byte, len(segs))
	for i, s := range segs {
		out[i] = make([]byte, s.MemSz)
		copy(out[i], s.Data)
	}
	return out
}

func TestLoadedSame(t *testing.T) {
	c, _ := readBackCall(t, asStaged, layout.LSRead)
	if len(c.Loaded) != 2 {
		t.Fatalf("loaded segments: %+v", c.Loaded)
	}
	for i, l := range c.Loaded {
		if l.Verdict != VerdictSame || l.Reason != "" || l.TailZero == nil || !*l.TailZero {
			t.Errorf("segment %d: verdict %q reason %q tail %v", i, l.Verdict, l.Reason, l.TailZero)
		}
		if l.SHA256 != c.Segments[i].Payload.SHA256 || c.Segments[i].Loaded != l {
			t.Errorf("segment %d: loaded sha %s, entry %s, linked %v", i, l.SHA256, c.Segments[i].Payload.SHA256, c.Segments[i].Loaded == l)
		}
	}
	var out bytes.Buffer
	if err := RenderTable(&out, c, TableOptions{Width: 120}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2 same") || strings.Contains(out.String(), "DIFFERENT") {
		t.Errorf("table:\n%s", out.String())
	}
	// The JSON contract: "loaded" per segment with verdict, sha256, reason.
	b, err := appendCall(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Segments []struct {
			Loaded map[string]any `json:"loaded"`
		} `json:"segments"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for i, s := range doc.Segments {
		if s.Loaded["verdict"] != "same" || s.Loaded["sha256"] != c.Segments[i].Payload.SHA256 {
			t.Errorf("segment %d JSON loaded: %v", i, s.Loaded)
		}
		if _, ok := s.Loaded["reason"]; !ok {
			t.Errorf("segment %d JSON loaded has no reason key: %v", i, s.Loaded)
		}
	}
}

func TestLoadedDifferent(t *testing.T) {
	c, _ := readBackCall(t, func(segs []synth.Segment) [][]byte {
		s := asStaged(segs)
		s[1][300_000] ^= 0xff // in the second 256 KiB piece
		s[1][700_000] ^= 0xff // in the third
		return s
	}, layout.LSRead)
	l := c.Loaded[1]
	if l.Verdict != VerdictDifferent || l.Reason != "bytes differ from the entry copy" {
		t.Fatalf("verdict %q reason %q", l.Verdict, l.Reason)
	}
	if got := l.DiffersAt; len(got) != 2 || got[0] != 1*layout.PieceMax || got[1] != 2*layout.PieceMax {
		t.Errorf("differs at %#x, want pieces 0x40000 and 0x80000", got)
	}
	if c.Loaded[0].Verdict != VerdictSame {
		t.Errorf("segment 0: %q", c.Loaded[0].Verdict)
	}
	var out bytes.Buffer
	if err := RenderTable(&out, c, TableOptions{Width: 120}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "!!! LOADED SEGMENT DIFFERENT") || !strings.Contains(out.String(), "DIFFERENT: segment 1") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestLoadedTailNotZero(t *testing.T) {
	c, _ := readBackCall(t, func(segs []synth.Segment) [][]byte {
		s := asStaged(segs)
		s[0][len(s[0])-1] = 1
		return s
	}, layout.LSRead)
	l := c.Loaded[0]
	if l.Verdict != VerdictDifferent || l.Reason != "bytes beyond bufsz are not zero" || l.TailZero == nil || *l.TailZero {
		t.Errorf("verdict %q reason %q tail %v", l.Verdict, l.Reason, l.TailZero)
	}
	// Past the partial page: a whole page the recorder checked and found
	// not zero, so it sent all of the tail.
	c, _ = readBackCall(t, func(segs []synth.Segment) [][]byte {
		s := asStaged(segs)
		s[1][len(s[1])-1] = 1
		return s
	}, layout.LSRead)
	if l := c.Loaded[1]; l.Verdict != VerdictDifferent || l.Reason != "bytes beyond bufsz are not zero" || l.Tail == nil ||
		l.Tail.Total != 0xc0000-780000 {
		t.Errorf("verdict %q reason %q tail %+v", l.Verdict, l.Reason, l.Tail)
	}
	if l := c.Loaded[0]; l.Verdict != VerdictSame || l.ZeroChecked != 0 {
		t.Errorf("segment 0: %+v", l)
	}
}

func TestLoadedNotReadBack(t *testing.T) {
	c, _ := readBackCall(t, asStaged, layout.LSReplaced)
	for _, l := range c.Loaded {
		if l.Verdict != VerdictNotReadBack || !strings.Contains(l.Reason, "another load replaced it") || l.SHA256 != "" {
			t.Errorf("segment %d: verdict %q reason %q sha %q", l.Index, l.Verdict, l.Reason, l.SHA256)
		}
	}
}

// summarize puts a DIFFERENT read-back before everything else, and counts
// the verdicts.
func TestLoadedSummary(t *testing.T) {
	path := writeReadBack(t, func(segs []synth.Segment) [][]byte {
		s := asStaged(segs)
		s[1][0] ^= 1
		return s
	}, layout.LSRead)
	rep, err := Summarize([]string{path}, SummarizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Files[0].Loaded
	if l == nil || l.Segments != 2 || l.Same != 1 || l.Different != 1 || len(l.Differences) != 1 ||
		l.Differences[0].Index != 1 || len(l.Differences[0].DiffersAt) != 1 || l.Differences[0].DiffersAt[0] != 0 {
		t.Fatalf("loaded summary %+v", l)
	}
	var out bytes.Buffer
	if err := RenderSummary(&out, rep, TableOptions{Width: 120}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "!! LOADED SEGMENT DIFFERENT in 1 of 2") ||
		!strings.Contains(out.String(), "Read back: 2 segments, 1 same, 1 DIFFERENT") {
		t.Errorf("summary:\n%s", out.String())
	}
}
