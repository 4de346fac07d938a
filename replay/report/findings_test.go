package report

import (
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/identify"
)

func ret(v int64) *int64 { return &v }

func TestUnusualCaller(t *testing.T) {
	call := func(exe string, uid uint32) *replay.Call {
		return &replay.Call{Caller: replay.Caller{Exe: exe, UID: uid, EUID: uid}}
	}
	withABI := func(c *replay.Call, abi string) *replay.Call { c.ABI = abi; return c }
	for _, tc := range []struct {
		c    *replay.Call
		want string
	}{
		{call("/usr/sbin/kexec", 0), ""},
		{call("/sbin/kexec", 0), ""},
		{call("/tmp/loader", 0), "not kexec-tools, runs from /tmp"},
		{call("/usr/sbin/kexec (deleted)", 0), "executable deleted after start"},
		{call("/usr/sbin/kexec", 1000), "not root"},
		{call("", 0), "executable unknown"},
		{withABI(call("/usr/sbin/kexec", 0), "aarch32"), "aarch32 process on a 64-bit kernel"},
		{withABI(call("/usr/sbin/kexec", 0), "ia32"), "ia32 process on a 64-bit kernel"},
		{withABI(call("/usr/sbin/kexec", 0), "x32?"), "x32 process on a 64-bit kernel"},
		{withABI(call("/usr/sbin/kexec", 0), "arm64"), ""},
		{withABI(call("/usr/sbin/kexec", 0), "x86_64"), ""},
	} {
		if got := UnusualCaller(tc.c); got != tc.want {
			t.Errorf("UnusualCaller(%q uid %d abi %q) = %q, want %q", tc.c.Caller.Exe, tc.c.Caller.UID, tc.c.ABI, got, tc.want)
		}
	}
}

// Findings are ordered by severity and say what they are about.
func TestFindings(t *testing.T) {
	kernel := &replay.Payload{Kind: "segment", Index: 1, SHA256: "aa", Identity: &identify.Report{Type: "kernel", KernelVersion: "6.1.0-evil"}}
	cmd := "root=/dev/sda1 init=/bin/sh"
	e := &Evidence{
		Captures: []*Capture{{Path: "c.zst", Calls: []*replay.Call{
			{ID: 1, Syscall: "kexec_load", Outcome: "ok", Ret: ret(0), Caller: replay.Caller{Comm: "kexec", Exe: "/usr/sbin/kexec"},
				Payloads: []*replay.Payload{kernel}, Purgatory: &identify.PurgatoryVerdict{Found: true, Stored: "11", Computed: "22"},
				Loaded: []*replay.LoadedSegment{{Index: 0, Verdict: replay.VerdictSame},
					{Index: 1, Verdict: replay.VerdictDifferent, Reason: "bytes differ from the entry copy", DiffersAt: []uint64{0x40000}}}},
			{ID: 2, Syscall: "kexec_file_load", Outcome: "error", Ret: ret(-1), Errno: "EPERM", Cmdline: &cmd,
				Caller: replay.Caller{Comm: "x", Exe: "/tmp/x", UID: 1000, EUID: 1000, LoginUID: 1000}},
		}}},
		Baseline: &Baseline{Path: "base.zst", KernelSHA256: map[string]bool{"bb": true}},
	}
	fs := Findings(e)
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity+": "+f.Title+": "+strings.Join(f.Items, " / "))
	}
	want := []string{
		"critical: Loaded segments DIFFERENT: the kernel staged other bytes than the caller passed at entry: " +
			"call 1 kexec_load by kexec /usr/sbin/kexec: segment 1: bytes differ from the entry copy (pieces at [0x40000])",
		"critical: Purgatory digest MISMATCH",
		"critical: Kernels that match no kernel of the baseline: call 1 kexec_load by kexec /usr/sbin/kexec: segment 1 aa (kernel 6.1.0-evil)",
		"warning: Command lines with risky parameters: call 2 kexec_file_load by x /tmp/x: init=/bin/sh",
		"warning: Failed and refused attempts (by user: uid 1000: 1): call 2 kexec_file_load by x /tmp/x as uid 1000: -1 EPERM",
		"warning: Loads by unusual callers: call 2 kexec_file_load by x /tmp/x: not kexec-tools, runs from /tmp, not root",
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
	// The same kernel in the baseline: no kernel finding.
	e.Baseline.KernelSHA256["aa"] = true
	for _, f := range Findings(e) {
		if strings.Contains(f.Title, "baseline") {
			t.Errorf("kernel in the baseline still reported: %v", f)
		}
	}
}
