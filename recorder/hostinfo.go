package recorder

import (
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/format"
)

// HostHeader returns a capture header describing this host: who recorded,
// on which boot of which machine, under which kernel. Fields that cannot be
// read stay empty: a missing machine-id must not stop a recording. The
// record layout and byte order are the content writer's to state.
func HostHeader(writerVersion string) format.Header {
	h := format.Header{
		MachineID:     readTrimmed("/etc/machine-id"),
		BootID:        readTrimmed("/proc/sys/kernel/random/boot_id"),
		Arch:          runtime.GOARCH,
		WriterVersion: writerVersion,
	}
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelRelease = unix.ByteSliceToString(u.Release[:])
		h.KernelVersion = unix.ByteSliceToString(u.Version[:])
	}
	h.WallStart, h.BootStartNS = ClockPair()
	return h
}

// ClockPair reads the wall clock and CLOCK_BOOTTIME (the clock of every
// record's ts_ns) together. The boot clock is read between two wall-clock
// reads and paired with their midpoint, so the pair is off by at most half
// the (sub-microsecond) gap between them.
func ClockPair() (time.Time, uint64) {
	var ts unix.Timespec
	w1 := time.Now()
	err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	w2 := time.Now()
	if err != nil {
		return w1, 0
	}
	return w1.Add(w2.Sub(w1) / 2), uint64(ts.Nano())
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
