package recorder

import (
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// withLSMSources points the active-LSM lookup at files of the test.
func withLSMSources(t *testing.T, list, cmdline, config string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if body == "" {
			return p // absent
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := filepath.Join(dir, "config.gz")
	if config != "" {
		f, err := os.Create(cfg)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		zw.Write([]byte(config))
		zw.Close()
		f.Close()
	}
	oldList, oldCmd, oldCfg, oldBoot := lsmListPath, kernelCmdline, kernelConfigGz, bootConfigDir
	lsmListPath, kernelCmdline, kernelConfigGz, bootConfigDir = write("lsm", list), write("cmdline", cmdline), cfg, dir
	t.Cleanup(func() { lsmListPath, kernelCmdline, kernelConfigGz, bootConfigDir = oldList, oldCmd, oldCfg, oldBoot })
}

// The active list comes from securityfs when mounted, else lsm= (before
// init's arguments), else CONFIG_LSM.
func TestActiveLSMs(t *testing.T) {
	for _, tc := range []struct {
		name, list, cmdline, config string
		want                        []string
		from                        string
		active                      bool
	}{
		{"securityfs", "lockdown,capability,landlock,bpf", "lsm=apparmor", "", []string{"lockdown", "capability", "landlock", "bpf"}, "", true},
		{"cmdline", "", "console=ttyS0 lsm=lockdown,yama,integrity,apparmor,bpf quiet", "CONFIG_LSM=\"yama\"\n", []string{"lockdown", "yama", "integrity", "apparmor", "bpf"}, "lsm= on the kernel command line", true},
		{"cmdline after --", "", "quiet -- lsm=bpf", "CONFIG_A=y\nCONFIG_LSM=\"landlock,lockdown,yama\"\n", []string{"landlock", "lockdown", "yama"}, "CONFIG_LSM", false},
		{"config", "", "quiet", "CONFIG_LSM=\"landlock,lockdown,bpf\"\n", []string{"landlock", "lockdown", "bpf"}, "CONFIG_LSM", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withLSMSources(t, tc.list, tc.cmdline, tc.config)
			got, from, err := activeLSMs()
			wantFrom := tc.from
			if wantFrom == "" {
				wantFrom = lsmListPath
			}
			if err != nil || !slices.Equal(got, tc.want) || !strings.Contains(from, wantFrom) {
				t.Errorf("activeLSMs = %q, %q, %v; want %q from %q", got, from, err, tc.want, tc.from)
			}
			err = bpfLSMActive()
			if tc.active != (err == nil) || (!tc.active && !errors.Is(err, errLSMInactive)) {
				t.Errorf("bpfLSMActive = %v, want active %v", err, tc.active)
			}
		})
	}
	withLSMSources(t, "", "", "")
	if err := bpfLSMActive(); !errors.Is(err, errLSMUnknown) {
		t.Errorf("nothing readable: %v, want errLSMUnknown", err)
	}

	// No /proc/config.gz: the config distributions install in /boot.
	withLSMSources(t, "", "quiet", "")
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	boot := filepath.Join(bootConfigDir, "config-"+unix.ByteSliceToString(u.Release[:]))
	if err := os.WriteFile(boot, []byte("CONFIG_LSM=\"lockdown,yama,bpf\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, from, err := activeLSMs(); err != nil || !slices.Equal(got, []string{"lockdown", "yama", "bpf"}) || !strings.HasSuffix(from, boot) {
		t.Errorf("from /boot: %q, %q, %v", got, from, err)
	}
}

// On a kernel where BPF LSM is active, --attach lsm loads the
// kernel_post_read_file program through the verifier and attaches it, with a
// syscall mode that needs no kprobes; where the kernel refuses BPF LSM
// programs (the dev kernel refuses every trampoline program, fentry and LSM
// alike, with EPERM), it fails with the probe's reason instead of falling
// back. The qemu bed attaches the same program on Debian kernels booted with
// lsm=...,bpf and checks what it captures.
func TestPrivilegedLSMPath(t *testing.T) {
	testenv.Root(t)
	if err := bpfLSMActive(); err != nil {
		testenv.Skip(t, "BPF LSM not active here: "+err.Error())
	}
	kt, err := newKernelTargets(fentryTargets)
	if err != nil {
		t.Fatal(err)
	}
	probeErr := probeLSM(kt)
	src, err := Attach(AttachConfig{Mode: ModeLSM, OnlyPID: uint32(os.Getpid())})
	if probeErr != nil {
		t.Logf("this kernel refuses the LSM program: %v", probeErr)
		if err == nil {
			src.Close()
			t.Fatal("--attach lsm attached although the LSM probe fails")
		}
		if !strings.Contains(err.Error(), "attach mode lsm not available on this kernel: load lsm kernel_post_read_file") {
			t.Errorf("error %q does not say why", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if m := src.Mode(); m != ModeFentry && m != ModeRaw {
		t.Errorf("mode %s, want fentry or raw (no kprobes in lsm mode)", m)
	}
	if h := FileHook(src); h != FileHookLSM {
		t.Errorf("file hook %q, want lsm", h)
	}
	bs := src.(*bpfSource)
	prog := bs.coll.Programs["lsm_post_read_file"]
	if prog == nil {
		t.Fatal("lsm_post_read_file not loaded")
	}
	if prog.Type() != ebpf.LSM {
		t.Errorf("program type %s, want LSM", prog.Type())
	}
	// One link per hook: the syscall hooks of the mode plus the LSM one.
	if len(bs.links) < 2 {
		t.Errorf("%d links, want the syscall hooks and the LSM hook", len(bs.links))
	}
	t.Logf("mode %s, file hook %s, %d links, warnings %q", src.Mode(), FileHook(src), len(bs.links), src.Warnings())
}
