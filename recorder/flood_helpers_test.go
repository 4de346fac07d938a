package recorder

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// The flood of issue 11, on the dev kernel in raw mode, through the whole
// recorder into a file: a thread of this process running as uid 65534 (no
// capabilities at all) calls kexec_load in a loop with 16 segments of
// 16 MiB, changing bytes in every page each call so dedup cannot help;
// meanwhile a caller that passes the CAP_SYS_BOOT test makes one call of
// 16 x 8 MiB (17 segments passed: every kernel refuses it before loading
// anything). The flood runs the 10 s; the rotation test's flood only
// needs long enough to rotate many times.
const (
	floodFor         = 10 * time.Second
	rotationFloodFor = 3 * time.Second
	floodUID         = 65534
	floodSegs        = 16
	floodSegSize     = 16 << 20
	privSegSize      = 8 << 20
)

type floodSeg struct{ buf, bufsz, mem, memsz uint64 }

type floodResult struct {
	tid     int
	calls   int
	rets    map[int64]int
	elapsed time.Duration // first call's start to last call's end
	err     error
}

// flood runs the unprivileged loop on a thread of its own that becomes
// uid/gid 65534 (per-thread raw syscalls: the rest of the process keeps
// root) and is never handed back to the Go scheduler. Never on the main
// thread: /proc/self (the privilege check of the next Attach in this
// process) reports the main thread's credentials, and Go parks a main
// thread whose locked goroutine ends instead of ending it.
func flood(until time.Time, bufs [][]byte) floodResult {
	done := make(chan floodResult, 1)
	go func() {
		// Off the main thread never unlocked: the thread dies with the
		// goroutine.
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread until the flood ends, so that the
			// flood's goroutine starts on another one.
			r := flood(until, bufs)
			runtime.UnlockOSThread()
			done <- r
			return
		}
		r := floodResult{tid: unix.Gettid(), rets: map[int64]int{}}
		for _, c := range [][4]uintptr{
			{unix.SYS_SETGROUPS, 0, 0, 0},
			{unix.SYS_SETRESGID, floodUID, floodUID, floodUID},
			{unix.SYS_SETRESUID, floodUID, floodUID, floodUID},
		} {
			if _, _, e := unix.RawSyscall(c[0], c[1], c[2], c[3]); e != 0 {
				r.err = e
				done <- r
				return
			}
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil || caps[0].Effective|caps[0].Permitted != 0 {
			r.err = errors.New("the flood thread still has capabilities: refusing to call kexec_load")
			done <- r
			return
		}
		table := make([]floodSeg, floodSegs)
		for i, b := range bufs {
			table[i] = floodSeg{uint64(uintptr(unsafe.Pointer(&b[0]))), uint64(len(b)), 0x1000000 + uint64(i)*floodSegSize, floodSegSize}
		}
		start := time.Now()
		for time.Now().Before(until) {
			for s, b := range bufs {
				for off := 0; off < len(b); off += 4096 {
					binary.NativeEndian.PutUint64(b[off:], uint64(r.calls)<<8|uint64(s))
				}
			}
			_, _, e := unix.Syscall6(trigger.SysKexecLoad, 0, floodSegs, uintptr(unsafe.Pointer(&table[0])), 0, 0, 0)
			r.rets[-int64(e)]++
			r.calls++
		}
		r.elapsed = time.Since(start)
		runtime.KeepAlive(table)
		done <- r
	}()
	return <-done
}

// floodBuffers maps the flood's floodSegs segments of floodSegSize,
// filled with a pattern (unmapped when tb ends).
func floodBuffers(tb testing.TB) [][]byte {
	tb.Helper()
	bufs := make([][]byte, floodSegs)
	for i := range bufs {
		b, err := unix.Mmap(-1, 0, floodSegSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { unix.Munmap(b) })
		trigger.Pattern(b, uint64(500+i))
		bufs[i] = b
	}
	return bufs
}

// startFlood runs flood until until on its own goroutine.
func startFlood(until time.Time, bufs [][]byte) <-chan floodResult {
	done := make(chan floodResult, 1)
	go func() { done <- flood(until, bufs) }()
	return done
}

// checkFlood fails tb unless the flood ran and the kernel refused every
// call it made (EPERM, or ENOSYS on a kernel without kexec).
func checkFlood(tb testing.TB, fl floodResult) {
	tb.Helper()
	if fl.err != nil {
		tb.Fatal(fl.err)
	}
	for ret := range fl.rets {
		if ret != -int64(syscall.EPERM) && ret != -int64(syscall.ENOSYS) {
			tb.Fatalf("flood call answered %d (want EPERM or ENOSYS): %v", ret, fl.rets)
		}
	}
}

// privilegedCall makes the real load's call: floodSegs segments of segSize
// from a caller that keeps CAP_SYS_BOOT, plus a 17th segment so that every
// kernel refuses it before loading anything.
func privilegedCall(tb testing.TB, segSize int, seed uint64) *trigger.Result {
	tb.Helper()
	segs := make([]trigger.Segment, floodSegs+1)
	for i := range floodSegs {
		segs[i] = trigger.Segment{Size: segSize}
	}
	segs[floodSegs] = trigger.Segment{Size: 4096} // the 17th: makes the kernel refuse the call
	priv, err := trigger.KexecLoad(trigger.LoadSpec{Entry: 0x100000, Segments: segs, Seed: seed, KeepSysBoot: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(priv.Release)
	if priv.CapDropped || (priv.Ret != -int64(syscall.EINVAL) && priv.Ret != -int64(syscall.ENOSYS)) {
		tb.Fatalf("privileged call: cap dropped %v, ret %d (%s), want EINVAL or ENOSYS with CAP_SYS_BOOT", priv.CapDropped, priv.Ret, priv.ErrnoName)
	}
	return priv
}

// floodRun is a recording running in the background through a flood of
// dur and one privileged call of floodSegs segments of privSize bytes made
// a third into it (seed tags its bytes).
type floodRun struct {
	fl     floodResult
	priv   *trigger.Result
	cancel context.CancelFunc
	ran    chan error
	sum    Summary
}

func runFlood(t *testing.T, rec *Recorder, dur time.Duration, privSize int, seed uint64) *floodRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &floodRun{cancel: cancel, ran: make(chan error, 1)}
	go func() {
		var err error
		r.sum, err = rec.Run(ctx)
		r.ran <- err
	}()
	bufs := floodBuffers(t)
	for rec.Progress().File == "" {
		time.Sleep(10 * time.Millisecond)
	}
	floodDone := startFlood(time.Now().Add(dur), bufs)
	time.Sleep(dur / 3)
	r.priv = privilegedCall(t, privSize, seed)
	r.fl = <-floodDone
	checkFlood(t, r.fl)
	return r
}

// stop stops the recording and returns its summary.
func (r *floodRun) stop(t *testing.T) Summary {
	t.Helper()
	r.cancel()
	if err := <-r.ran; err != nil {
		t.Fatal(err)
	}
	return r.sum
}
