package recorder

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// kernelTypes builds a kernel-like BTF spec holding the named structs
// (plus one unrelated type, as every kernel has).
func kernelTypes(t *testing.T, structs ...string) *btf.Spec {
	t.Helper()
	types := []btf.Type{&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}
	for _, n := range structs {
		types = append(types, &btf.Struct{Name: n, Size: 8, Members: []btf.Member{{Name: "x", Type: types[0]}}})
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/kallsyms/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fixtures: no-kexec-6.18.44 is an excerpt of this project's dev kernel
// (CONFIG_KEXEC, CONFIG_KEXEC_FILE and CONFIG_KEXEC_CORE off: the entry
// points are weak COND_SYSCALL stubs); kexec-6.1 lists what a Debian 6.1
// kernel (kexec built in) has for the same names, with the symbol kinds of
// kernel/kexec.c, kernel/kexec_core.c and kernel/kexec_file.c.
func TestDecideKexecAbsent(t *testing.T) {
	noKexec := fixture(t, "no-kexec-6.18.44")
	withKexec := fixture(t, "kexec-6.1")
	// Older kernels alias the stubs to sys_ni_syscall (same address).
	alias := "ffffffff81000000 T _stext\nffffffff81001000 T sys_ni_syscall\nffffffff81001000 T __x64_sys_kexec_load\n"
	hidden := strings.NewReplacer("ffffffff81000000", "0000000000000000", "ffffffff81001000", "0000000000000000").Replace(alias) // kptr_restrict
	for _, tc := range []struct {
		name     string
		kallsyms string
		btf      []string
		absent   bool
		why      string // in the evidence
	}{
		{"dev-6.18", noKexec, nil, true, "kallsyms: __x64_sys_kexec_load and 4 more entry points are sys_ni_syscall stubs"},
		{"dev-6.18-but-btf-kimage", noKexec, []string{"kimage"}, false, "BTF has struct kimage"},
		{"debian-6.1", withKexec, []string{"kimage", "kexec_segment"}, false, "kallsyms lists kexec_image"},
		{"debian-6.1-without-btf-types", withKexec, nil, false, "kallsyms lists"},
		{"alias-stub", alias, nil, true, "__x64_sys_kexec_load is a sys_ni_syscall stub"},
		{"alias-hidden-addresses", hidden, nil, false, "as a real function"},
		{"real-entry-no-impl", "x T _stext\nx T sys_ni_syscall\nffffffff81002000 T __x64_sys_kexec_file_load\n", nil, false, "as a real function"},
		{"no-entries-at-all", "x T _stext\nx T sys_ni_syscall\n", nil, true, "no kexec syscall entry points"},
		{"empty-listing", "", nil, false, "cannot tell"},
		{"cut-listing", "ffffffff813982f0 W __x64_sys_kexec_load\n", nil, false, "cannot tell"},
		{"impl-only-in-module-ignored", "x T _stext\nx T sys_ni_syscall\nx t machine_kexec [mod]\n", nil, true, "kernel has no kexec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decideKexecAbsent(strings.NewReader(tc.kallsyms), kernelTypes(t, tc.btf...))
			if err != nil {
				t.Fatal(err)
			}
			if v.Absent != tc.absent || !strings.Contains(v.Evidence, tc.why) {
				t.Errorf("verdict %+v, want absent=%v with %q in the evidence", v, tc.absent, tc.why)
			}
		})
	}
	if _, err := decideKexecAbsent(strings.NewReader(noKexec), nil); err == nil {
		t.Error("no BTF: want an error, not a verdict")
	}
}

// TestPrivilegedKexecAbsent decides for the running kernel and checks the
// verdict against what the kernel answers a kexec_load that cannot load
// anything (the trigger drops CAP_SYS_BOOT first): ENOSYS without kexec,
// EPERM with it. Then raw mode must attach accordingly: sys_enter alone and
// every exit known in advance without kexec, both hooks with it.
func TestPrivilegedKexecAbsent(t *testing.T) {
	testenv.Root(t)
	v, err := probeKexecAbsent()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict: absent=%v: %s", v.Absent, v.Evidence)
	res, err := trigger.KexecLoad(trigger.LoadSpec{Entry: 0x100000, Segments: []trigger.Segment{{Size: 4096}}, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	switch {
	case res.Ret == -int64(syscall.ENOSYS) && !v.Absent:
		t.Fatalf("the kernel answers ENOSYS but the verdict keeps kexec present: %s", v.Evidence)
	case res.Ret == -int64(syscall.EPERM) && v.Absent:
		t.Fatalf("the kernel answers EPERM (kexec built in) but the verdict says absent: %s", v.Evidence)
	case res.Ret != -int64(syscall.ENOSYS) && res.Ret != -int64(syscall.EPERM):
		t.Fatalf("kexec_load without CAP_SYS_BOOT returned %d (%s)", res.Ret, res.ErrnoName)
	}

	src := attachRaw(t, AttachConfig{})
	bs := src.(*bpfSource)
	ret, why := bs.KnownReturn()
	wantLinks := 1
	if !v.Absent {
		wantLinks = 2 // sys_enter and sys_exit, plus the post-read hook where it exists
	}
	if v.Absent != (ret == KnownENOSYS) || (ret != "" && why != v.Evidence) {
		t.Errorf("KnownReturn() = %q, %q; verdict %+v", ret, why, v)
	}
	if len(bs.links) < wantLinks || (v.Absent && len(bs.links) != 1) {
		t.Errorf("%d hooks attached, want %d%s", len(bs.links), wantLinks, map[bool]string{true: " exactly", false: " or more"}[v.Absent])
	}

	c := newRawCollector(src)
	c.start()
	res2, call := c.loadAndWait(t, trigger.LoadSpec{Entry: 0x100000, Segments: []trigger.Segment{{Size: 10000}}, Seed: 10})
	checkErrno(t, res2, call.exit)
	if known := call.exit.Flags&layout.XFRetKnownENOSYS != 0; known != v.Absent {
		t.Errorf("exit flags %#x: known in advance %v, want %v", call.exit.Flags, known, v.Absent)
	}
	checkSegments(t, res2, call, 1)
	if err := src.Close(); err != nil && !errors.Is(err, ErrClosed) {
		t.Error(err)
	}
}
