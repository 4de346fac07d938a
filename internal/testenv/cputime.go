package testenv

import (
	"syscall"
	"time"
)

// ProcessCPU is this process's user+system CPU time so far (0 if the
// kernel will not say): benchmarks compare it with a child's, e.g. zstd's.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
