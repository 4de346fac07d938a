package recorder

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// OnlineCPUs counts the online CPUs (/sys/devices/system/cpu/online, a
// list like "0-3,6"). With one CPU BPF never waits for ring space: with
// preemption off, the reader could not run to drain it (the recorder
// writes the count into the capture header for that reason). When the file
// cannot be read, the CPUs this process may use stand in.
func OnlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n, err := countCPUList(strings.TrimSpace(string(b)))
	if err != nil || n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// countCPUList counts the CPUs in a kernel CPU list ("0-3,6").
func countCPUList(s string) (int, error) {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", s, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("cpu list %q: bad range %q", s, part)
		}
		n += b - a + 1
	}
	return n, nil
}
