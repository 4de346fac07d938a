package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// A purgatory digest mismatch is the first thing printed, before the file
// details, so that it cannot be missed.
func TestRenderSummaryMismatchStandsOut(t *testing.T) {
	s := newSummary()
	s.setFile(FileInfo{Path: "cap.kxr", Size: 10, SHA256: strings.Repeat("ab", 32)})
	s.setHeader(format.Header{Hostname: "h"})
	c := &Call{ID: 7, Syscall: "kexec_load", Outcome: "ok", Time: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Purgatory: &identify.PurgatoryVerdict{Found: true, Match: false, Stored: strings.Repeat("1", 64),
			Computed: strings.Repeat("2", 64), Detail: "segment 2 differs"}}
	s.addCall(c)
	s.finish()
	var buf bytes.Buffer
	if err := RenderSummary(&buf, &SummaryReport{Files: []*Summary{s}}, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[1], "!! PURGATORY DIGEST MISMATCH in 1 of 1") {
		t.Fatalf("mismatch not first:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "!!   call 7 at 2026-11-29 12:00:00.000000 UTC:\n!!     stored 111111111111 computed 222222222222\n!!     segment 2 differs\n") {
		t.Errorf("mismatch details missing:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "Purgatory digest: 1 checked, 0 match, 1 MISMATCH") {
		t.Errorf("purgatory line missing:\n%s", buf.String())
	}
}

// The one byte-count helper: compact, powers of 1024.
func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 1023: "1023", 1024: "1.0K", 61542: "60.1K",
		8276413: "7.9M", 3 << 30: "3.0G"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Strings from a capture cannot drive the terminal through summarize or
// diff: control characters come out escaped, each call still on its lines.
func TestRenderSummaryAndDiffInert(t *testing.T) {
	evil := "ev\x1b[2Jil\nnext\rline"
	s := newSummary()
	s.setFile(FileInfo{Path: "cap\x1b]0;x\x07.kxr"})
	s.setHeader(format.Header{Hostname: evil, Options: map[string]string{"k": evil}})
	s.addCall(&Call{ID: 1, Syscall: "kexec_load", Outcome: "ok", Caller: Caller{Comm: evil, Exe: "/tmp/" + evil}})
	s.setTrouble([]string{evil}, []string{evil})
	s.finish()
	var buf bytes.Buffer
	if err := RenderSummary(&buf, &SummaryReport{Files: []*Summary{s}}, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	cmdline := "init=" + evil
	a := &Call{ID: 1, Syscall: "kexec_file_load", Outcome: "ok", Caller: Caller{Comm: evil, Exe: evil}, Cmdline: &cmdline}
	r := Diff([]*CallDigest{Digest(0, a)}, nil)
	r.A, r.B = evil, "b"
	if err := RenderDiff(&buf, r, TableOptions{Wide: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "\nnext") {
		t.Errorf("control characters in the output:\n%q", out)
	}
	if !strings.Contains(out, `ev\x1b[2Jil\nnext\rline`) {
		t.Errorf("hostile string not shown escaped:\n%s", out)
	}
}

// The unprivileged policy and what it cut are stated when the capture has
// them, and nothing is said for captures from before the policy.
func TestRenderSummaryPolicy(t *testing.T) {
	render := func(opts map[string]string, stats format.Stats) string {
		s := newSummary()
		s.setFile(FileInfo{Path: "cap.kxr"})
		s.setHeader(format.Header{Hostname: "h", Options: opts})
		s.setStats(stats)
		s.finish()
		var buf bytes.Buffer
		if err := RenderSummary(&buf, &SummaryReport{Files: []*Summary{s}}, TableOptions{Wide: true}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	out := render(map[string]string{"unprivileged_snaplen": "65536", "unprivileged_rate": "1048576", "unprivileged_burst": "16777216",
		"unprivileged_total_rate": "4194304", "unprivileged_total_burst": "67108864",
		"unprivileged_ring_share": "0.25", "unprivileged_ring_bytes": "4194304"},
		format.Stats{"policy_calls": 3, "policy_bytes": 12345, "policy_rate_bytes": 1000, "policy_total_rate_bytes": 300, "policy_ring_bytes": 45})
	for _, want := range []string{
		"  unprivileged policy (bytes, 0 = no bound): snaplen 65536, rate 1048576/s per uid (burst 16777216), 4194304/s all uids (burst 67108864)\n",
		"  unprivileged ring share: 0.25 of the ring (4194304 bytes; 0 = no cap)\n",
		"  unprivileged payload cut by policy: 3 calls, 12345 bytes\n",
		"    by snaplen 11000, per-uid rate 1000, all-uid rate 300, ring share 45 bytes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if old := render(map[string]string{"snaplen": "0"}, format.Stats{"calls": 1}); strings.Contains(old, "unprivileged") {
		t.Errorf("a capture without the policy:\n%s", old)
	}
}
