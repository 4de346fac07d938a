package replay

import (
	"slices"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay/identify"
)

func digests(cs ...*Call) []*CallDigest {
	var ds []*CallDigest
	for i, c := range cs {
		ds = append(ds, Digest(i, c))
	}
	return ds
}

func changeTexts(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Text(func(s string) string { return s }))
	}
	return out
}

func TestDiffIdentical(t *testing.T) {
	a := digests(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb"),
		sumTestCall(2, "kexec", "/usr/sbin/kexec", 0, -1, "EPERM", "aa"))
	// Other ids, pids and times: still the same calls.
	b := digests(sumTestCall(71, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb"),
		sumTestCall(93, "kexec", "/usr/sbin/kexec", 0, -1, "EPERM", "aa"))
	r := Diff(a, b)
	if !r.Equal() || r.Same != 2 {
		t.Fatalf("identical captures differ: %+v", r)
	}
}

// Calls are a multiset: three in A, two in B leaves one only in A.
func TestDiffMultiset(t *testing.T) {
	x := func(id uint64) *Call { return sumTestCall(id, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa") }
	r := Diff(digests(x(1), x(2), x(3)), digests(x(4), x(5)))
	if r.Same != 2 || len(r.OnlyA) != 1 || len(r.OnlyB) != 0 || len(r.Changed) != 0 {
		t.Fatalf("multiset: same %d onlyA %d onlyB %d changed %d", r.Same, len(r.OnlyA), len(r.OnlyB), len(r.Changed))
	}
	if r.OnlyA[0].ID != 3 {
		t.Errorf("left over A call = %d, want the third (3)", r.OnlyA[0].ID)
	}
	r = Diff(digests(x(1)), digests(x(4), x(5)))
	if r.Same != 1 || len(r.OnlyB) != 1 || r.OnlyB[0].ID != 5 {
		t.Fatalf("multiset B: %+v", r)
	}
}

func TestDiffOnlyIn(t *testing.T) {
	a := digests(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"))
	b := digests(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"),
		sumTestCall(2, "evil", "/tmp/evil", 0, 0, "", "ff"))
	r := Diff(a, b)
	if r.Equal() || len(r.OnlyB) != 1 || r.OnlyB[0].Exe != "/tmp/evil" || len(r.OnlyA) != 0 || len(r.Changed) != 0 {
		t.Fatalf("only in B: %+v", r)
	}
}

// kexecLoadWith builds a kexec -l call with identified payloads: boot_params
// with a command line, a kernel of a version and an initramfs with /init.
func kexecLoadWith(id uint64, cmdline, kver, initSHA string) *Call {
	c := sumTestCall(id, "kexec", "/usr/sbin/kexec", 0, 0, "", "pp", "bp-"+cmdline, "k-"+kver, "i-"+initSHA)
	c.Payloads[0].Identity = &identify.Report{Type: "purgatory"}
	c.Payloads[1].Identity = &identify.Report{Type: "boot-params", Cmdline: cmdline}
	c.Payloads[2].Identity = &identify.Report{Type: "kernel", KernelVersion: kver}
	c.Payloads[3].Identity = &identify.Report{Type: "initramfs", Initramfs: &identify.Initramfs{Archives: []identify.Archive{{
		Compression: "gzip",
		Files: []identify.CpioFile{
			{Path: "init", Mode: 0o100755, Size: 10, SHA256: initSHA},
			{Path: "bin/busybox", Mode: 0o100755, Size: 99, SHA256: "bb"},
		},
	}}}}
	return c
}

func TestDiffChanged(t *testing.T) {
	a := digests(kexecLoadWith(1, "root=/dev/sda1 ro quiet", "6.1.0-56-amd64", "i1"))
	b := digests(kexecLoadWith(1, "root=/dev/sdb1 ro init=/bin/sh", "6.1.0-57-amd64", "i2"))
	r := Diff(a, b)
	if len(r.Changed) != 1 || len(r.OnlyA) != 0 || len(r.OnlyB) != 0 {
		t.Fatalf("want one changed call, got %+v", r)
	}
	got := changeTexts(r.Changed[0].Changes)
	for _, want := range []string{
		"kernel version changed 6.1.0-56-amd64 -> 6.1.0-57-amd64",
		"cmdline gained init=/bin/sh",
		"cmdline lost quiet",
		"cmdline changed root=/dev/sda1 -> root=/dev/sdb1",
		"initramfs /init changed",
		"segment 2 bytes changed k-6.1.0-56-amd64 -> k-6.1.0-57-amd64",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, g := range got {
		if strings.Contains(g, "busybox") || strings.Contains(g, "segment 0") || strings.Contains(g, "return") {
			t.Errorf("unchanged thing reported: %q", g)
		}
	}
}

func TestDiffResultOnly(t *testing.T) {
	a := digests(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"))
	b := digests(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, -1, "EPERM", "aa"))
	r := Diff(a, b)
	if len(r.Changed) != 1 {
		t.Fatalf("want one changed, got %+v", r)
	}
	got := changeTexts(r.Changed[0].Changes)
	if !slices.Equal(got, []string{"return value changed 0 -> -1 EPERM"}) {
		t.Errorf("changes = %q", got)
	}
}

// Same identity twice with results swapped: both pair up as the same.
func TestDiffPrefersExactPairs(t *testing.T) {
	ok := func(id uint64) *Call { return sumTestCall(id, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa") }
	bad := func(id uint64) *Call { return sumTestCall(id, "kexec", "/usr/sbin/kexec", 0, -1, "EPERM", "aa") }
	r := Diff(digests(ok(1), bad(2)), digests(bad(3), ok(4)))
	if !r.Equal() || r.Same != 2 {
		t.Fatalf("want equal, got %+v", r)
	}
}

func TestDiffFlagsAndSegments(t *testing.T) {
	a := sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb")
	b := sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb", "cc")
	b.Args.Flags = 0x3e0001
	b.Args.FlagNames = []string{"KEXEC_ARCH_X86_64", "KEXEC_ON_CRASH"}
	r := Diff(digests(a), digests(b))
	if len(r.Changed) != 1 {
		t.Fatalf("want one changed, got %+v", r)
	}
	got := changeTexts(r.Changed[0].Changes)
	for _, want := range []string{
		"flags changed 0x3e0000 (KEXEC_ARCH_X86_64) -> 0x3e0001 (KEXEC_ARCH_X86_64|KEXEC_ON_CRASH)",
		"segment count changed 2 -> 3",
		"segment 2 added cc",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
}

func TestCmdlineChanges(t *testing.T) {
	cs := changeTexts(CmdlineChanges("console=ttyS0 console=tty0 quiet", "console=ttyS0 quiet init=/bin/sh"))
	want := []string{"cmdline lost console=tty0", "cmdline gained init=/bin/sh"}
	if !slices.Equal(cs, want) {
		t.Errorf("got %q, want %q", cs, want)
	}
	if cs := CmdlineChanges("a b", "b a"); len(cs) != 0 {
		t.Errorf("reordering is not a change: %v", cs)
	}
}

func TestDigesterInterns(t *testing.T) {
	g := NewDigester()
	a := g.Digest(0, sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"))
	b := g.Digest(1, sumTestCall(2, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"))
	c := g.Digest(2, sumTestCall(3, "kexec", "/usr/sbin/kexec", 0, -1, "EPERM", "aa"))
	if a.CallBody != b.CallBody {
		t.Error("identical calls do not share a body")
	}
	if a.CallBody == c.CallBody || a.Identity != c.Identity {
		t.Error("calls differing only in result: want same identity, different bodies")
	}
	if a.ID != 1 || b.ID != 2 || b.Pos != 1 {
		t.Errorf("positions lost: %+v %+v", a, b)
	}
}
