package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSSMarker starts the line a benchmark's child process prints with its
// own peak RSS (PrintPeakRSS); the parent finds it with ParsePeakRSS.
//
// Why not the child's ru_maxrss from wait4: on Linux it also counts the
// memory the child had before exec, and Go starts children with CLONE_VM,
// so it reports the parent's RSS whenever that is larger.
const PeakRSSMarker = "kexecrec-child-vmhwm-kib"

// PeakRSSKiB is this process's VmHWM (peak resident set) in KiB.
func PeakRSSKiB() (int64, error) {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// PrintPeakRSS writes the marker line with this process's peak RSS to stdout.
func PrintPeakRSS() error {
	kib, err := PeakRSSKiB()
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s %d\n", PeakRSSMarker, kib)
	return err
}

// ParsePeakRSS finds the child's marker line in its output and returns the
// peak RSS in MiB.
func ParsePeakRSS(out []byte) (float64, error) {
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), PeakRSSMarker+" "); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, err
			}
			return float64(kib) / 1024, nil
		}
	}
	return 0, fmt.Errorf("child did not report its peak RSS")
}
