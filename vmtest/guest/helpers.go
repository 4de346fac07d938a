package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// helper runs the agent's sub-commands (in a child process, so that the
// calls carry their own pid and do not change the agent's credentials).
func helper(args []string) int {
	switch args[0] {
	case "dropcap":
		if len(args) < 2 {
			break
		}
		return dropCapExec(args[1:])
	case "trigger":
		if len(args) == 4 && args[1] == "badflags" {
			return badFlags(args[2], args[3])
		}
		if len(args) == 2 && args[1] == "race" {
			return race()
		}
	}
	fmt.Fprintln(os.Stderr, "usage: init dropcap PROG ARGS... | init trigger badflags VMLINUZ INITRD | init trigger race")
	return 2
}

// dropCapExec removes CAP_SYS_BOOT from the bounding set and execs argv.
// For a root caller the new image's permitted and effective sets are the
// bounding set, so the program runs as root without CAP_SYS_BOOT, and the
// kernel refuses kexec_load with EPERM after the recorder saw its entry.
func dropCapExec(argv []string) int {
	// The bounding set is per thread: drop and exec from the same one.
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_SYS_BOOT, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "dropcap: PR_CAPBSET_DROP:", err)
		return 2
	}
	err := syscall.Exec(argv[0], argv, childEnv())
	fmt.Fprintln(os.Stderr, "dropcap: exec:", err)
	return 2
}

// kexecSegment is struct kexec_segment on 64-bit.
type kexecSegment struct {
	Buf   unsafe.Pointer
	BufSz uintptr
	Mem   uintptr
	MemSz uintptr
}

// badFlags issues kexec_load with one readable segment and kexec_file_load
// with real file descriptors, both with an unknown flag bit: the kernel
// must answer EINVAL (root has CAP_SYS_BOOT, so the flag check decides).
// The recorder still sees the arguments and the segment bytes at entry.
func badFlags(vmlinuz, initrd string) int {
	var out []plan.Trigger
	loadFlags := uint64(plan.BadLoadFlags)
	var p plan.Plan
	if b, err := os.ReadFile(plan.Path); err == nil && json.Unmarshal(b, &p) == nil && p.LoadArchFlag != 0 {
		loadFlags = p.LoadArchFlag | plan.BadFlagBit
	}

	buf := make([]byte, plan.BadFlagsSegment)
	for i := range buf {
		buf[i] = plan.BadFlagsByte(i)
	}
	seg := []kexecSegment{{Buf: unsafe.Pointer(&buf[0]), BufSz: uintptr(len(buf)), Mem: plan.BadFlagsMem, MemSz: uintptr(len(buf))}}
	r1, _, errno := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, uintptr(len(seg)), uintptr(unsafe.Pointer(&seg[0])), uintptr(loadFlags), 0, 0)
	runtime.KeepAlive(buf)
	runtime.KeepAlive(seg)
	out = append(out, trigger("kexec_load", unix.SYS_KEXEC_LOAD, loadFlags, r1, errno))

	kf, err1 := os.Open(vmlinuz)
	inf, err2 := os.Open(initrd)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "trigger:", err1, err2)
		return 2
	}
	cmdline := []byte(plan.BadFlagsCmdline)
	r1, _, errno = unix.Syscall6(unix.SYS_KEXEC_FILE_LOAD, kf.Fd(), inf.Fd(), uintptr(len(cmdline)),
		uintptr(unsafe.Pointer(&cmdline[0])), plan.BadFileLoadFlags, 0)
	runtime.KeepAlive(cmdline)
	out = append(out, trigger("kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, plan.BadFileLoadFlags, r1, errno))
	kf.Close()
	inf.Close()

	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

func trigger(name string, nr int, flags uint64, r1 uintptr, errno syscall.Errno) plan.Trigger {
	t := plan.Trigger{Syscall: name, Nr: nr, Flags: flags, Ret: int64(r1)}
	if errno != 0 {
		t.Ret = -int64(errno)
		t.Errno = unix.ErrnoName(errno)
	}
	return t
}
