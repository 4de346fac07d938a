package synth

import (
	"fmt"
	"sort"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// FileLoad is one kexec_file_load call with every string a caller
// controls (comm, exe, argv, file paths, command line, initramfs file
// names), for tests that feed hostile strings to the readers.
type FileLoad struct {
	Comm       string // at most layout.CommLen-1 bytes survive, as in the kernel
	Exe        string
	Argv       []string
	UID        uint32
	KernelPath string
	InitrdPath string
	Kernel     []byte
	Initrd     []byte
	Cmdline    string
	Ret        int64 // 0, or a negative errno
}

// KexecFileLoad writes one kexec_file_load call: ENTER, PROCESS, the FILE
// and payload of the kernel and the initrd, the command line payload, EXIT.
func (s *Writer) KexecFileLoad(c FileLoad) error {
	s.n++
	id, t := s.n, uint64(Boot+s.n*1_000_000)
	cmdline := append([]byte(c.Cmdline), 0)
	if err := s.rec(layout.Enter{Header: layout.Header{CallID: id, TimeNS: t}, PID: 88, TID: 88, PPID: 1,
		UID: c.UID, EUID: c.UID, GID: c.UID, EGID: c.UID, LoginUID: 4294967295, SessionID: 4294967295,
		SyscallNr: 320, ABI: layout.ABIX64, Hook: layout.HookRawSyscall,
		Args: [6]uint64{3, 4, uint64(len(cmdline)), 0x7ffd00001000, 0}, Comm: c.Comm}.Marshal(le)); err != nil {
		return err
	}
	if err := s.w.WriteProcess(layout.Process{CallID: id, PID: 88, Exe: c.Exe, Argv: c.Argv}); err != nil {
		return err
	}
	files := []struct {
		kind uint16
		path string
		data []byte
	}{{layout.KindKernel, c.KernelPath, c.Kernel}, {layout.KindInitrd, c.InitrdPath, c.Initrd}}
	for i, f := range files {
		n := uint64(len(f.data))
		if err := s.rec(layout.File{Header: layout.Header{CallID: id, TimeNS: t + 10}, Kind: uint32(f.kind), Dev: 8<<20 | 1,
			Ino: uint64(1000 + i), Size: n, ISize: n, Path: f.path}.Marshal(le)); err != nil {
			return err
		}
		if err := s.payload(id, t, f.kind, layout.SrcKernelRead, f.data); err != nil {
			return err
		}
	}
	if err := s.payload(id, t, layout.KindCmdline, layout.SrcSyscallEntry, cmdline); err != nil {
		return err
	}
	return s.rec(layout.Exit{Header: layout.Header{CallID: id, TimeNS: t + 500_000}, Ret: c.Ret, DurationNS: 500_000,
		TID: 88, SyscallNr: 320, Hook: layout.HookRawSyscall}.Marshal(le))
}

// payload stores data complete, as the recorder stores a payload BPF sent whole.
func (s *Writer) payload(id, t uint64, kind, source uint16, data []byte) error {
	return s.w.WriteWholePayload(layout.PayloadEnd{Header: layout.Header{CallID: id, TimeNS: t + 20},
		Kind: kind, Source: source}, data)
}

// Cpio returns an uncompressed newc cpio archive of regular files (names
// in sorted order), as an initramfs holds them.
func Cpio(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b []byte
	entry := func(name string, mode uint32, data []byte) {
		b = fmt.Appendf(b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			len(names), mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		b = append(b, name...)
		b = append(b, 0)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	for _, n := range names {
		entry(n, 0o100644, files[n])
	}
	entry("TRAILER!!!", 0, nil)
	for len(b)%512 != 0 {
		b = append(b, 0)
	}
	return b
}
