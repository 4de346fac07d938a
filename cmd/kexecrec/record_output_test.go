package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// canaryProgramID loads a trivial BPF program, notes the id the kernel gave
// it and unloads it again.
func canaryProgramID(t *testing.T) ebpf.ProgramID {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, 0, asm.DWord), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		testenv.Skip(t, "cannot load a BPF program: "+err.Error())
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		testenv.Skip(t, "the kernel does not report BPF program ids")
	}
	return id
}

// bpfProgramsLoadedDuring counts the BPF programs the kernel loaded while
// fn ran, whether or not they still exist afterwards (a failed record
// unloads what it loaded): the kernel hands out program ids in increasing
// order (idr_alloc_cyclic), so the ids strictly between a canary loaded
// before fn and one loaded after it are the programs loaded meanwhile.
// The ids existing in that range are listed too (ebpf.ProgramGetNextID),
// for the message. Other processes on the machine may load programs at the
// same time: the measurement is repeated and the smallest count taken.
func bpfProgramsLoadedDuring(t *testing.T, fn func()) (loaded int, alive []ebpf.ProgramID) {
	t.Helper()
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	loaded = -1
	for try := 0; try < 5 && loaded != 0; try++ {
		before := canaryProgramID(t)
		fn()
		after := canaryProgramID(t)
		n := int(after - before - 1)
		if loaded < 0 || n < loaded {
			loaded = n
			alive = nil
			for id := before; ; {
				next, err := ebpf.ProgramGetNextID(id)
				if err != nil || next >= after { // os.ErrNotExist past the last id
					break
				}
				alive = append(alive, next)
				id = next
			}
		}
	}
	return loaded, alive
}

// An output record cannot write is refused (exit 2, one line, nothing
// claims to be recording) before any BPF program is loaded: no feature
// probe, no hook. Counted with the kernel's own program ids; the same count
// over a recording that starts shows the counter sees what record loads.
func TestRecordOutputErrorsLoadNoBPF(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", readOnly, "tmpfs", unix.MS_RDONLY, "size=1m"); err != nil {
		testenv.Skip(t, "cannot mount a read-only tmpfs: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(readOnly, 0) })
	notCapture := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(notCapture, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "/nonexistent/dir/cap.zst"}, "/nonexistent/dir/cap.zst: no such file or directory"},
		{[]string{"--force", "-o", "/proc/version"}, "/proc/version: a kernel interface file, not a capture"},
		{[]string{"--force", "-o", "/dev/null"}, "/dev/null: a device, not a capture"},
		{[]string{"--force", "-o", notCapture}, "a-directory: a directory, not a capture"},
		{[]string{"-o", filepath.Join(readOnly, "cap.zst")}, "read-only file system"},
		{[]string{"-o", filepath.Join(readOnly, "cap.zst"), "--rotate-size", "1M"}, "read-only file system"},
	} {
		var code int
		var stderr string
		loaded, alive := bpfProgramsLoadedDuring(t, func() {
			ios, _, errOut := testIO()
			code = runRecordCLI(t, ios, append(tc.args, "--attach", "raw", "--duration", "1s")...)
			stderr = errOut.String()
		})
		if code != ExitTrouble || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 ||
			strings.Contains(stderr, "recording to") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, stderr, tc.want)
		}
		if loaded != 0 {
			t.Errorf("%v: %d BPF programs loaded meanwhile (still loaded: %v)", tc.args, loaded, alive)
		}
	}
	if b, err := os.ReadFile("/proc/version"); err != nil || len(b) == 0 {
		t.Errorf("/proc/version: %v", err)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Errorf("/dev/null is no longer a device: %v %v", fi, err)
	}

	// The control: a recording that starts loads its programs, and the
	// count sees them.
	out := filepath.Join(dir, "cap.zst")
	var code int
	loaded, _ := bpfProgramsLoadedDuring(t, func() {
		os.Remove(out)
		ios, _, _ := testIO()
		code = runRecordCLI(t, ios, "-o", out, "--attach", "raw", "--duration", "100ms")
	})
	if code != ExitOK || loaded < 2 {
		t.Errorf("a recording that starts: exit %d, %d BPF programs loaded (want at least raw_sys_enter and raw_sys_exit)", code, loaded)
	}
}
