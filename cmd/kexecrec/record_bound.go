package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/ship"
)

// checkMaxTotal says what is wrong with --max-total, if anything.
func (o *recordOptions) checkMaxTotal() error {
	switch {
	case o.MaxTotal == 0:
		return nil
	case o.Output == "-":
		return errors.New("record: --max-total needs a file name, not -o -")
	case o.RotateSize == 0 && o.RotateEvery == 0:
		return errors.New("record: --max-total needs --rotate-size or --rotate-every (the part being written is never removed)")
	case o.MaxTotal > 1<<62:
		return errors.New("record: --max-total too large")
	case o.RotateSize > 0 && o.MaxTotal < 2*o.RotateSize:
		return fmt.Errorf("record: --max-total %d is less than two parts of --rotate-size %d (the part being written is never removed)",
			uint64(o.MaxTotal), uint64(o.RotateSize))
	}
	return nil
}

// totalBound is --max-total for the recorder: pattern is -o as given (its
// {start} sets all count). With --upload a part goes only once its upload
// is confirmed.
func (o *recordOptions) totalBound(pattern string, errOut io.Writer) *recorder.TotalBound {
	if o.MaxTotal == 0 {
		return nil
	}
	b := &recorder.TotalBound{
		Pattern: pattern, Max: int64(o.MaxTotal), Reserve: int64(o.RotateSize), KeepEvidence: o.KeepEvidence,
		Removed: func(path string) {
			os.Remove(path + ship.PendingSuffix)
			os.Remove(path + ship.ShippedSuffix)
		},
		Warn: func(line string) {
			backgroundLogMu.Lock()
			defer backgroundLogMu.Unlock()
			fmt.Fprintf(errOut, "kexecrec: warning: %s\n", line)
		},
	}
	if o.Upload != "" {
		b.Removable = func(path string) bool { return strings.HasPrefix(ship.LocalState(path), "shipped") }
	}
	return b
}

// Default disk guard: 5% of the output's filesystem, at most 1 GiB.
const (
	defaultMinFreePercent = 5
	defaultMinFreeMax     = 1 << 30
)

// diskGuard is --min-free resolved against the output's filesystem (nil:
// off, or the output is a stream).
func (o *recordOptions) diskGuard(errOut io.Writer) (*recorder.DiskGuard, error) {
	if o.Output == "-" || strings.TrimSpace(o.MinFree) == "0" {
		return nil, nil
	}
	dir := filepath.Dir(o.Output)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if o.MinFree == "" {
			return nil, nil // the output's own error says what is wrong with dir
		}
		return nil, fmt.Errorf("--min-free: %v", err)
	}
	size := int64(st.Blocks) * int64(st.Bsize)
	var minFree int64
	switch spec := strings.TrimSpace(o.MinFree); {
	case spec == "":
		minFree = min(size*defaultMinFreePercent/100, defaultMinFreeMax)
	case strings.HasSuffix(spec, "%"):
		pct, err := strconv.ParseFloat(strings.TrimSuffix(spec, "%"), 64)
		if err != nil || pct < 0 || pct >= 100 {
			return nil, fmt.Errorf("--min-free %q: want a size (512M) or a percentage below 100 (5%%)", o.MinFree)
		}
		minFree = int64(float64(size) * pct / 100)
	default:
		v, err := parseByteSize(spec)
		if err != nil || v > 1<<62 {
			return nil, fmt.Errorf("--min-free %q: want a size (512M) or a percentage below 100 (5%%)", o.MinFree)
		}
		minFree = int64(v)
	}
	if minFree == 0 {
		return nil, nil
	}
	return &recorder.DiskGuard{MinFree: minFree, Dir: dir, Warn: func(line string) {
		backgroundLogMu.Lock()
		defer backgroundLogMu.Unlock()
		fmt.Fprintf(errOut, "kexecrec: warning: %s\n", line)
	}}, nil
}
