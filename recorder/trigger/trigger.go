// Package trigger issues real kexec_load and kexec_file_load system calls
// for tests of the recorder, and reports exactly what it passed (arguments,
// buffer addresses, SHA-256 of every buffer) so a test can compare it with
// what was recorded.
//
// Safety: it must never be able to load or unload a kernel on the machine it
// runs on. Every call is made from a dedicated OS thread that first drops
// CAP_SYS_BOOT from its effective, permitted and inheritable sets (and the
// call is refused if the drop did not take), so the kernel answers EPERM
// (or ENOSYS where kexec is not built in) right after the syscall entry the
// recorder sees. nr_segments == 0 (unload) and KEXEC_FILE_UNLOAD are refused
// outright. The thread is never unlocked, so Go discards it afterwards.
package trigger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kexec_load for ia32 and x32 (compat) callers on x86_64; the native
// numbers, SysKexecLoad and SysKexecFileLoad, are per architecture
// (sysnr_amd64.go, sysnr_arm64.go).
const (
	SysKexecLoadIA32 = 283
	SysKexecLoadX32  = 0x40000000 | 528
)

const (
	capSysBoot       = 22
	kexecFileUnload  = 0x1
	maxSegmentBuffer = 1 << 30 // sanity cap for one test buffer
	maxSegments      = 16      // KEXEC_SEGMENT_MAX
)

// Segment describes one kexec_load segment to build.
type Segment struct {
	Size       int  // buffer bytes (bufsz); the buffer is filled with a pattern
	Unreadable bool // buf points at a PROT_NONE page instead of readable bytes
}

// LoadSpec is one kexec_load call.
type LoadSpec struct {
	Entry    uint64
	Segments []Segment
	// NrSegments overrides the nr_segments argument (e.g. 17 with 17
	// entries); 0 means len(Segments). It may never be 0 in effect.
	NrSegments uint64
	Flags      uint64
	Seed       uint64 // varies the buffer pattern between calls
	// IA32 issues the call as a 32-bit process would (int 0x80, syscall
	// 283, compat 16-byte segment entries, buffers below 4 GiB).
	IA32 bool
	// X32 issues it as an x32 process would (syscall 0x40000000|528,
	// compat entries, buffers below 4 GiB). Kernels without x32 support
	// answer ENOSYS, after the syscall entry a raw-mode recorder sees.
	X32 bool
	// KeepSysBoot issues the call WITH CAP_SYS_BOOT, so the recorder treats
	// the caller as privileged (its larger ring-wait budget). Only allowed
	// with nr_segments > 16: the kernel refuses such a call with EINVAL
	// before it reads anything, so nothing is loaded or unloaded.
	KeepSysBoot bool
	// UID, when not 0, makes the call as this uid and gid (no
	// capabilities at all), on the call's own thread, never the main one:
	// the rest of the process keeps its credentials.
	UID uint32
}

// SegmentResult is what was passed for one segment.
type SegmentResult struct {
	Buf        uint64 `json:"buf"`
	BufSz      uint64 `json:"bufsz"`
	Mem        uint64 `json:"mem"`
	MemSz      uint64 `json:"memsz"`
	SHA256     string `json:"sha256,omitempty"` // of the buffer bytes; empty when unreadable
	Unreadable bool   `json:"unreadable,omitempty"`
}

// Result reports one call.
type Result struct {
	Syscall     string          `json:"syscall"` // "kexec_load" or "kexec_file_load"
	Nr          int             `json:"nr"`
	PID         int             `json:"pid"`
	TID         int             `json:"tid"`
	Args        [6]uint64       `json:"args"`
	Segments    []SegmentResult `json:"segments,omitempty"`
	CmdlineSHA  string          `json:"cmdline_sha256,omitempty"`
	Ret         int64           `json:"ret"`
	Errno       int             `json:"errno"`
	IA32        bool            `json:"ia32,omitempty"`
	X32         bool            `json:"x32,omitempty"`
	ErrnoName   string          `json:"errno_name,omitempty"`
	CapDropped  bool            `json:"cap_sys_boot_dropped"`
	DurationNS  int64           `json:"-"`             // wall time of the syscall itself (64-bit calls)
	CPUNS       int64           `json:"-"`             // the calling thread's CPU time in it (BPF copying and waiting for ring space run there; interrupts taken meanwhile count too unless the kernel accounts IRQ time apart; 0 for ia32 calls)
	UID         uint32          `json:"uid,omitempty"` // the caller's uid, when LoadSpec.UID set one
	uid         uint32
	releaseBufs func()
}

// Release unmaps the call's buffers (they are kept until then so a caller
// can re-read them).
func (r *Result) Release() {
	if r.releaseBufs != nil {
		r.releaseBufs()
		r.releaseBufs = nil
	}
}

// kexecSegment is struct kexec_segment on 64-bit.
type kexecSegment struct {
	Buf, BufSz, Mem, MemSz uint64
}

// Pattern fills b with a deterministic pseudo-random pattern (xorshift64),
// so that no two segments or offsets look alike.
func Pattern(b []byte, seed uint64) {
	x := seed*0x9E3779B97F4A7C15 + 0x1234567
	if x == 0 {
		x = 1
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		*(*uint64)(unsafe.Pointer(&b[i])) = x
	}
	for ; i < len(b); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
}

// KexecLoad builds the buffers of spec and issues kexec_load with
// CAP_SYS_BOOT dropped.
func KexecLoad(spec LoadSpec) (*Result, error) {
	nr := spec.NrSegments
	if nr == 0 {
		nr = uint64(len(spec.Segments))
	}
	if nr == 0 {
		return nil, errors.New("trigger: refusing nr_segments == 0 (that unloads the staged kernel)")
	}
	if spec.KeepSysBoot && nr <= maxSegments {
		return nil, fmt.Errorf("trigger: refusing to keep CAP_SYS_BOOT with nr_segments %d (only > %d is refused by every kernel before it loads anything)", nr, maxSegments)
	}
	if spec.KeepSysBoot {
		if err := loadLimitsUnset(); err != nil {
			return nil, err
		}
	}
	if (spec.IA32 || spec.X32) && !haveIA32 {
		return nil, errors.New("trigger: ia32 and x32 calls need amd64")
	}
	if spec.IA32 && spec.X32 {
		return nil, errors.New("trigger: IA32 and X32 are exclusive")
	}
	// A 32-bit caller's segment table: ia32, x32, or this package built
	// for 32-bit ARM (an AArch32 task on an arm64 kernel).
	compat := spec.IA32 || spec.X32 || segments32
	res := &Result{Syscall: "kexec_load", Nr: SysKexecLoad, IA32: spec.IA32, X32: spec.X32}
	mapFlags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_POPULATE
	if spec.IA32 || spec.X32 {
		res.Nr = SysKexecLoadIA32
		if spec.X32 {
			res.Nr = SysKexecLoadX32
		}
		mapFlags |= map32Bit // a 32-bit caller's pointers
	}
	var maps [][]byte
	res.releaseBufs = func() {
		for _, m := range maps {
			unix.Munmap(m)
		}
	}
	// The kernel and the recorder read min(nr, 16) entries: never let them
	// run past the table (extra entries are zero).
	table := make([]kexecSegment, max(len(spec.Segments), int(min(nr, 16)), 1))
	mem := uint64(0x1000000)
	for i, s := range spec.Segments {
		if s.Size < 0 || s.Size > maxSegmentBuffer {
			res.Release()
			return nil, fmt.Errorf("trigger: segment %d size %d out of range", i, s.Size)
		}
		page := os.Getpagesize()
		mapLen := max((s.Size+page-1)/page*page, page)
		prot := unix.PROT_READ | unix.PROT_WRITE
		m, err := unix.Mmap(-1, 0, mapLen, prot, mapFlags)
		if err != nil {
			res.Release()
			return nil, fmt.Errorf("trigger: mmap %d bytes: %w", mapLen, err)
		}
		maps = append(maps, m)
		sr := SegmentResult{Buf: uint64(uintptr(unsafe.Pointer(&m[0]))), BufSz: uint64(s.Size), Mem: mem}
		if s.Unreadable {
			if err := unix.Mprotect(m, unix.PROT_NONE); err != nil {
				res.Release()
				return nil, fmt.Errorf("trigger: mprotect: %w", err)
			}
			sr.Unreadable = true
		} else {
			Pattern(m[:s.Size], spec.Seed*1000+uint64(i)+1)
			sum := sha256.Sum256(m[:s.Size])
			sr.SHA256 = hex.EncodeToString(sum[:])
		}
		sr.MemSz = (uint64(s.Size) + 0xfff) &^ 0xfff
		if sr.MemSz == 0 {
			sr.MemSz = 0x1000
		}
		mem += sr.MemSz
		table[i] = kexecSegment{sr.Buf, sr.BufSz, sr.Mem, sr.MemSz}
		res.Segments = append(res.Segments, sr)
	}
	tablePtr := uint64(uintptr(unsafe.Pointer(&table[0])))
	if compat {
		// struct compat_kexec_segment: four u32, in memory below 4 GiB.
		m, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, mapFlags)
		if err != nil {
			res.Release()
			return nil, fmt.Errorf("trigger: mmap: %w", err)
		}
		maps = append(maps, m)
		compat := unsafe.Slice((*uint32)(unsafe.Pointer(&m[0])), len(m)/4)
		for i, e := range table {
			if i*4+3 >= len(compat) {
				break
			}
			compat[i*4], compat[i*4+1], compat[i*4+2], compat[i*4+3] = uint32(e.Buf), uint32(e.BufSz), uint32(e.Mem), uint32(e.MemSz)
		}
		tablePtr = uint64(uintptr(unsafe.Pointer(&m[0])))
		if spec.Entry>>32 != 0 || nr>>32 != 0 || spec.Flags>>32 != 0 || tablePtr>>32 != 0 {
			res.Release()
			return nil, errors.New("trigger: 32-bit callers' arguments must fit in 32 bits")
		}
	}
	res.Args = [6]uint64{spec.Entry, nr, tablePtr, spec.Flags}
	if spec.UID != 0 && spec.KeepSysBoot {
		return nil, errors.New("trigger: UID and KeepSysBoot are exclusive")
	}
	res.uid = spec.UID
	err := call(res, !spec.KeepSysBoot)
	runtime.KeepAlive(table)
	if err != nil {
		res.Release()
		return nil, err
	}
	return res, nil
}

// FileLoadSpec is one kexec_file_load call.
type FileLoadSpec struct {
	KernelFD, InitrdFD int
	Cmdline            []byte // passed as is; include the NUL for a valid call
	Flags              uint64
}

// KexecFileLoad issues kexec_file_load with CAP_SYS_BOOT dropped.
func KexecFileLoad(spec FileLoadSpec) (*Result, error) {
	if spec.Flags&kexecFileUnload != 0 {
		return nil, errors.New("trigger: refusing KEXEC_FILE_UNLOAD")
	}
	res := &Result{Syscall: "kexec_file_load", Nr: SysKexecFileLoad}
	var ptr uintptr
	if len(spec.Cmdline) > 0 {
		ptr = uintptr(unsafe.Pointer(&spec.Cmdline[0]))
		sum := sha256.Sum256(spec.Cmdline)
		res.CmdlineSHA = hex.EncodeToString(sum[:])
	}
	res.Args = [6]uint64{uint64(int64(spec.KernelFD)), uint64(int64(spec.InitrdFD)), uint64(len(spec.Cmdline)), uint64(ptr), spec.Flags}
	err := call(res, true)
	runtime.KeepAlive(spec.Cmdline)
	return res, err
}

// loadLimitsUnset refuses a privileged call where the host limits kexec
// loads: since 6.3 kexec_load_permitted() counts a privileged call against
// kernel.kexec_load_limit_{reboot,panic} before the nr_segments check, so
// even a refused 17-segment call would use up one of the host's loads.
func loadLimitsUnset() error {
	for _, name := range []string{"kexec_load_limit_reboot", "kexec_load_limit_panic"} {
		b, err := os.ReadFile("/proc/sys/kernel/" + name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("trigger: reading kernel.%s: %w", name, err)
		}
		if v := strings.TrimSpace(string(b)); v != "-1" {
			return fmt.Errorf("trigger: refusing to keep CAP_SYS_BOOT: kernel.%s is %s (a call would use up one allowed load)", name, v)
		}
	}
	return nil
}

// call runs the syscall in res on a fresh OS thread, whose CAP_SYS_BOOT is
// gone first when dropCap is set (always, except for the nr_segments > 16
// calls KexecLoad allows with KeepSysBoot).
func call(res *Result, dropCap bool) error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread with the changed credentials dies
		// with this goroutine instead of going back to the pool.
		runtime.LockOSThread()
		if res.uid != 0 && unix.Gettid() == unix.Getpid() {
			// Hold the main thread (whose credentials /proc/self
			// reports) while the call runs on another one.
			err := call(res, dropCap)
			runtime.UnlockOSThread()
			done <- err
			return
		}
		if dropCap {
			if err := dropSysBoot(); err != nil {
				done <- err
				return
			}
			res.CapDropped = true
		}
		if res.uid != 0 {
			if err := becomeUID(res.uid); err != nil {
				done <- err
				return
			}
			res.UID = res.uid
		}
		res.PID = unix.Getpid()
		res.TID = unix.Gettid()
		var r uintptr
		var errno unix.Errno
		if res.IA32 {
			// The compat entry returns -errno in eax (32-bit).
			v := int32(int80(uintptr(res.Nr), uintptr(res.Args[0]), uintptr(res.Args[1]),
				uintptr(res.Args[2]), uintptr(res.Args[3]), uintptr(res.Args[4])))
			r = uintptr(int64(v))
			if v < 0 && v > -4096 {
				errno = unix.Errno(-v)
			}
		} else {
			cpu0 := threadCPU()
			start := time.Now()
			r, _, errno = unix.Syscall6(uintptr(res.Nr), uintptr(res.Args[0]), uintptr(res.Args[1]),
				uintptr(res.Args[2]), uintptr(res.Args[3]), uintptr(res.Args[4]), uintptr(res.Args[5]))
			res.DurationNS = time.Since(start).Nanoseconds()
			res.CPUNS = threadCPU() - cpu0
		}
		res.Ret = int64(r)
		if errno != 0 {
			res.Ret = -int64(errno)
			res.Errno = int(errno)
			res.ErrnoName = unix.ErrnoName(errno)
		}
		done <- nil
	}()
	return <-done
}

// threadCPU is the calling OS thread's CPU time in nanoseconds.
func threadCPU() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// becomeUID makes the calling thread uid and gid uid with no supplementary
// groups (per-thread raw syscalls: Go's wrappers would change every
// thread), which leaves it no capabilities.
func becomeUID(uid uint32) error {
	for _, c := range [][4]uintptr{
		{unix.SYS_SETGROUPS, 0, 0, 0},
		{unix.SYS_SETRESGID, uintptr(uid), uintptr(uid), uintptr(uid)},
		{unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)},
	} {
		if _, _, e := unix.RawSyscall(c[0], c[1], c[2], c[3]); e != 0 {
			return fmt.Errorf("trigger: become uid %d: %w", uid, e)
		}
	}
	if unix.Getuid() != int(uid) {
		return fmt.Errorf("trigger: still uid %d after becoming %d", unix.Getuid(), uid)
	}
	return nil
}

// dropSysBoot removes CAP_SYS_BOOT from the calling thread's effective,
// permitted and inheritable sets and checks that it is gone.
func dropSysBoot() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("trigger: capget: %w", err)
	}
	bit := uint32(1) << capSysBoot
	data[0].Effective &^= bit
	data[0].Permitted &^= bit
	data[0].Inheritable &^= bit
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("trigger: capset: %w", err)
	}
	var check [2]unix.CapUserData
	if err := unix.Capget(&hdr, &check[0]); err != nil {
		return fmt.Errorf("trigger: capget: %w", err)
	}
	if check[0].Effective&bit != 0 || check[0].Permitted&bit != 0 {
		return errors.New("trigger: CAP_SYS_BOOT is still present after dropping it; refusing to call kexec")
	}
	return nil
}
