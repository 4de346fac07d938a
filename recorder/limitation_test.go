package recorder

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// The plain line says what is lost, why in a few words, and what still
// works; the detail keeps the whole error chain (the capture's note).
func TestLimitationsInPlainWords(t *testing.T) {
	// The errors as cilium/ebpf reports them on the dev kernel (no
	// kprobes, integrity lockdown) and on Debian 6.1 (a missing symbol).
	fentryEPERM := fmt.Errorf("load TraceFEntry security_kernel_post_read_file: load program: %w", os.ErrPermission)
	noKprobes := fmt.Errorf("attach kprobe security_kernel_post_read_file: creating tracefs event: creating probe entry on tracefs: open /sys/kernel/tracing/kprobe_events: %w", os.ErrNotExist)
	noSymbol := fmt.Errorf("attach kprobe __x32_compat_sys_kexec_load: creating perf_kprobe PMU: token __x64___x32_compat_sys_kexec_load: not found: %w", os.ErrNotExist)
	fentryUnsupported := fmt.Errorf("attach Tracing/TraceFEntry: fentry __x32_compat_sys_kexec_load: %w", ebpf.ErrNotSupported)

	lsmInactive := fmt.Errorf("%w (%s: lockdown,capability; boot with lsm=...,bpf)", errLSMInactive, lsmListPath)
	l := postReadFileLimitation(fentryEPERM, noKprobes, lsmInactive)
	if want := "kexec_file_load's files will not be captured: this kernel refuses fentry there and has no kprobes, and BPF LSM is not active; " +
		"kexec_load is fully recorded and kexec_file_load calls still are, without the files"; l.Plain != want {
		t.Errorf("plain:\n%s\nwant\n%s", l.Plain, want)
	}
	if !strings.Contains(l.Detail, "load program: permission denied") || !strings.Contains(l.Detail, "kprobe_events") ||
		!strings.Contains(l.Detail, "lsm: BPF LSM not active (/sys/kernel/security/lsm: lockdown,capability;") {
		t.Errorf("detail lost the chain: %s", l.Detail)
	}
	for _, tc := range []struct {
		l    Limitation
		want string
	}{
		{optionalHookLimitation(ModeKprobe, "__x32_compat_sys_kexec_load", "x32 kexec_load calls will not be seen", noSymbol),
			"x32 kexec_load calls will not be seen: this kernel has no such function to kprobe; 64-bit kexec_load and kexec_file_load are fully recorded"},
		{optionalHookLimitation(ModeFentry, "__x32_compat_sys_kexec_load", "x32 kexec_load calls will not be seen", fentryUnsupported),
			"x32 kexec_load calls will not be seen: this kernel does not support fentry there; 64-bit kexec_load and kexec_file_load are fully recorded"},
		{smallRingLimitation(4096),
			"payloads over 4 KiB will not be captured: the 4096-byte ring buffer cannot hold one payload piece (raise --ringbuf-size); calls are still recorded"},
	} {
		if tc.l.Plain != tc.want {
			t.Errorf("plain:\n%s\nwant\n%s", tc.l.Plain, tc.want)
		}
		if tc.l.Detail == tc.l.Plain || strings.Contains(tc.l.Plain, "\n") {
			t.Errorf("detail %q", tc.l.Detail)
		}
	}
}

// A Source without plain words gives its warnings as they are.
func TestLimitationsOfPlainSource(t *testing.T) {
	src := NewFakeSource(ModeRaw, 1, "first", "second")
	got := Limitations(src)
	if len(got) != 2 || got[0] != (Limitation{"first", "first"}) || got[1] != (Limitation{"second", "second"}) {
		t.Errorf("%+v", got)
	}
}
