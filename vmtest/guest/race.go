package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/replay/synth"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// race issues plan.RaceTries kexec_loads while a second thread rewrites
// the kernel segment's buffer (see plan.RaceByte): the time-of-check /
// time-of-use gap between the recorder's entry copy and the kernel's own
// copy, which the read-back must expose. Each try replaces the staged
// image; nothing here runs outside the qemu guest.
func race() int {
	offered := make([]byte, plan.RaceSize)
	raced := make([]byte, plan.RaceSize)
	for i := range offered {
		offered[i] = plan.RaceByte(i, false)
		raced[i] = plan.RaceByte(i, true)
	}
	// Purgatory's digest covers the raced bytes: the image boots only if
	// the kernel holds them.
	purg := synth.Purgatory([]synth.Segment{{Data: raced, Mem: plan.RaceMem, MemSz: plan.RaceSize}}, false)
	buf := make([]byte, plan.RaceSize)
	seg := []kexecSegment{
		{Buf: unsafe.Pointer(&purg[0]), BufSz: uintptr(len(purg)), Mem: plan.RacePurgatoryMem, MemSz: 4096},
		{Buf: unsafe.Pointer(&buf[0]), BufSz: uintptr(len(buf)), Mem: plan.RaceMem, MemSz: plan.RaceSize},
	}
	var out []plan.Trigger
	for n := range plan.RaceTries {
		copy(buf, offered)
		var stop atomic.Bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a thread of its own, as an attacker's would be
			<-start
			time.Sleep(plan.RaceDelay(n))
			last := plan.RaceSize - 4096 // where offered and raced differ
			for !stop.Load() {
				copy(buf[last:], raced[last:])
			}
		}()
		close(start)
		r1, _, errno := unix.Syscall6(unix.SYS_KEXEC_LOAD, plan.RacePurgatoryMem, uintptr(len(seg)),
			uintptr(unsafe.Pointer(&seg[0])), 0, 0, 0)
		stop.Store(true)
		wg.Wait()
		out = append(out, trigger("kexec_load", unix.SYS_KEXEC_LOAD, 0, r1, errno))
	}
	runtime.KeepAlive(purg)
	runtime.KeepAlive(buf)
	runtime.KeepAlive(seg)
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}
