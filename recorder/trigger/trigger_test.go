package trigger

import (
	"bytes"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRefusesUnload(t *testing.T) {
	if _, err := KexecLoad(LoadSpec{}); err == nil {
		t.Error("nr_segments 0 accepted")
	}
	// NrSegments 0 means len(Segments), never an unload.
	res, err := KexecLoad(LoadSpec{Segments: []Segment{{Size: 1}}})
	if err != nil {
		t.Fatalf("one segment refused: %v", err)
	}
	res.Release()
	if res.Args[1] != 1 {
		t.Errorf("nr_segments passed %d, want 1", res.Args[1])
	}
	if _, err := KexecFileLoad(FileLoadSpec{KernelFD: -1, InitrdFD: -1, Flags: 0x1}); err == nil {
		t.Error("KEXEC_FILE_UNLOAD accepted")
	}
}

func TestCallHasNoSysBoot(t *testing.T) {
	res, err := KexecLoad(LoadSpec{Segments: []Segment{{Size: 10}, {Size: 4097}}, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if !res.CapDropped {
		t.Fatal("CAP_SYS_BOOT not dropped")
	}
	// Without CAP_SYS_BOOT the kernel refuses (or has no kexec at all).
	if res.Errno != int(syscall.EPERM) && res.Errno != int(syscall.ENOSYS) {
		t.Fatalf("kexec_load returned %d (%s)", res.Ret, res.ErrnoName)
	}
	if len(res.Segments) != 2 || res.Segments[1].BufSz != 4097 || res.Args[1] != 2 || res.Segments[0].SHA256 == res.Segments[1].SHA256 {
		t.Fatalf("result %+v", res)
	}
}

func TestPatternDeterministic(t *testing.T) {
	a, b, c := make([]byte, 1001), make([]byte, 1001), make([]byte, 1001)
	Pattern(a, 1)
	Pattern(b, 1)
	Pattern(c, 2)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("pattern not deterministic per seed")
	}
}

// KeepSysBoot is only allowed where the kernel refuses the call before it
// loads anything: nr_segments > 16.
func TestKeepSysBootOnlyOver16Segments(t *testing.T) {
	if _, err := KexecLoad(LoadSpec{KeepSysBoot: true}); err == nil {
		t.Error("KeepSysBoot with no segments (nr_segments 0) accepted")
	}
	for _, nr := range []uint64{1, 16} {
		if _, err := KexecLoad(LoadSpec{Segments: []Segment{{Size: 1}}, NrSegments: nr, KeepSysBoot: true}); err == nil {
			t.Errorf("KeepSysBoot with nr_segments %d accepted", nr)
		}
	}
	res, err := KexecLoad(LoadSpec{Segments: []Segment{{Size: 1}}, NrSegments: 17, KeepSysBoot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if res.CapDropped || res.Args[1] != 17 {
		t.Fatalf("result %+v", res)
	}
	// EINVAL for 17 segments, or ENOSYS on a kernel without kexec.
	if res.Errno != int(syscall.EINVAL) && res.Errno != int(syscall.ENOSYS) {
		t.Fatalf("kexec_load with 17 segments returned %d (%s)", res.Ret, res.ErrnoName)
	}
}

// TestSyscallNumbers: this architecture's numbers are the ones x/sys/unix
// knows (347 and 401 when built for 32-bit ARM, which an arm64 kernel runs
// as an AArch32 task).
func TestSyscallNumbers(t *testing.T) {
	if SysKexecLoad != unix.SYS_KEXEC_LOAD || SysKexecFileLoad != unix.SYS_KEXEC_FILE_LOAD {
		t.Errorf("kexec_load %d, kexec_file_load %d; x/sys/unix says %d and %d",
			SysKexecLoad, SysKexecFileLoad, unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD)
	}
}
