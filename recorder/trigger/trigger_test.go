package trigger

import (
	"bytes"
	"syscall"
	"testing"
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
