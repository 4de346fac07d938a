package replay

import (
	"context"
	"io"
	"time"
)

// tailReader reads a file that is still being written: at EOF it waits for
// more bytes instead of ending, until ctx is done (then it reports EOF).
type tailReader struct {
	f    CaptureFile
	ctx  context.Context
	poll time.Duration
	done func() bool // true once the trailer was read: EOF is final
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		if t.done != nil && t.done() {
			return 0, io.EOF
		}
		select {
		case <-t.ctx.Done():
			return 0, io.EOF
		case <-time.After(t.poll):
		}
	}
}
