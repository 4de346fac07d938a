package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
