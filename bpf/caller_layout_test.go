package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

func int8s(s string) []int8 {
	out := make([]int8, len(s))
	for i := range len(s) {
		out[i] = int8(s[i])
	}
	return out
}

// The caller records (caller.h) against layout's decoder, as
// TestDecodeGenerated does for the others.
func TestCallerRecordLayout(t *testing.T) {
	if got := unsafe.Sizeof(KexecrecKrCaller{}); int(got) != layout.CallerSize {
		t.Errorf("kr_caller: BPF object says %d bytes, bpf/layout says %d", got, layout.CallerSize)
	}
	if got := unsafe.Sizeof(KexecrecKrAncestor{}); int(got) != layout.AncestorSize {
		t.Errorf("kr_ancestor: BPF object says %d bytes, bpf/layout says %d", got, layout.AncestorSize)
	}
	if got := unsafe.Sizeof(KexecrecKrArgs{}); int(got) != layout.ArgsSize {
		t.Errorf("kr_args: BPF object says %d bytes, bpf/layout says %d", got, layout.ArgsSize)
	}
	bo := binary.NativeEndian
	c := KexecrecKrCaller{Flags: layout.CFExe | layout.CFExeDeleted, ExeDev: 0x800003, ExeIno: 42, ExeSize: 1234,
		ExeMtimeSec: 1700000000, ExeCtimeSec: 1700000001, ExeMtimeNsec: 5, ExeCtimeNsec: 6, TtyMajor: 136, TtyMinor: 3,
		NsPid: 7, NsTid: 8, NsLevel: 1, NrAncestors: 2}
	c.H = KexecrecKrHdr{Type: layout.RecCaller, Version: 1, Size: uint32(unsafe.Sizeof(c)), CallId: 9, TsNs: 10}
	copy(c.Exe[:], int8s("/usr/sbin/kexec"))
	copy(c.Cwd[:], int8s("/root"))
	copy(c.Cgroup[:], int8s("/user.slice/x.scope"))
	copy(c.Tty[:], int8s("pts3"))
	c.Anc[0] = KexecrecKrAncestor{Pid: 100, Tid: 101, Uid: 1000, Euid: 0, StartNs: 77, NsPid: 100, Flags: layout.AFExe}
	copy(c.Anc[0].Comm[:], int8s("sudo"))
	copy(c.Anc[0].Exe[:], int8s("/usr/bin/sudo"))
	c.Anc[1] = KexecrecKrAncestor{Pid: 1, Tid: 1, Flags: layout.AFExe | layout.AFNsInit, NsPid: 1}
	copy(c.Anc[1].Comm[:], int8s("systemd"))
	b := bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&c)), unsafe.Sizeof(c)))
	g, err := layout.ParseCaller(b, bo)
	if err != nil {
		t.Fatal(err)
	}
	if g.CallID != 9 || g.Flags != 3 || g.ExeDev != 0x800003 || g.ExeIno != 42 || g.ExeSize != 1234 ||
		g.ExeMtimeSec != 1700000000 || g.ExeCtimeSec != 1700000001 || g.ExeMtimeNsec != 5 || g.ExeCtimeNsec != 6 ||
		g.TTYMajor != 136 || g.TTYMinor != 3 || g.NsPID != 7 || g.NsTID != 8 || g.NsLevel != 1 ||
		g.Exe != "/usr/sbin/kexec" || g.Cwd != "/root" || g.Cgroup != "/user.slice/x.scope" || g.TTY != "pts3" ||
		len(g.Ancestors) != 2 {
		t.Fatalf("caller decoded as %+v", g)
	}
	if a := g.Ancestors[0]; a != (layout.Ancestor{PID: 100, TID: 101, UID: 1000, StartNS: 77, NsPID: 100, Flags: layout.AFExe,
		Comm: "sudo", Exe: "/usr/bin/sudo"}) {
		t.Errorf("ancestor 0 decoded as %+v", a)
	}
	if a := g.Ancestors[1]; a.PID != 1 || a.Comm != "systemd" || a.Flags != layout.AFExe|layout.AFNsInit {
		t.Errorf("ancestor 1 decoded as %+v", a)
	}

	// A count beyond the array is refused, not read past.
	c.NrAncestors = 9
	b = bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&c)), unsafe.Sizeof(c)))
	if _, err := layout.ParseCaller(b, bo); err == nil {
		t.Error("9 ancestors accepted")
	}

	a := KexecrecKrArgs{Kind: layout.ArgsArgv, ReadErr: 0, Total: 9000, Len: 5}
	a.H = KexecrecKrHdr{Type: layout.RecArgs, Version: 1, Size: uint32(unsafe.Sizeof(a)) + 8, CallId: 9}
	ab := append(bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&a)), unsafe.Sizeof(a))), 'a', 0, 'b', 'c', 0, 0, 0, 0)
	ga, err := layout.ParseArgs(ab, bo)
	if err != nil {
		t.Fatal(err)
	}
	if ga.Kind != layout.ArgsArgv || ga.Total != 9000 || string(ga.Data) != "a\x00bc\x00" || !ga.Truncated() {
		t.Errorf("args decoded as %+v", ga)
	}
	// Len beyond the record is an error.
	a.Len = 100
	ab = append(bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&a)), unsafe.Sizeof(a))), make([]byte, 8)...)
	if _, err := layout.ParseArgs(ab, bo); !errors.Is(err, layout.ErrShort) {
		t.Errorf("oversized args len: err %v", err)
	}
}
