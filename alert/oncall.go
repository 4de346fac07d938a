package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// OnCall runs Command with /bin/sh -c for each call, the call's JSON on its
// standard input. Its output is discarded but for the last line of stderr,
// which goes into the failure message; a run past the dispatcher's timeout
// is killed (with whatever it started in its process group).
type OnCall struct {
	Command string
}

func (o *OnCall) Name() string { return "--on-call" }

func (o *OnCall) Send(ctx context.Context, e Event) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.Command)
	cmd.Stdin = bytes.NewReader(e.JSON)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = newProcessGroup()
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 2 * time.Second // a grandchild holding stderr open does not hang us
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("killed after the time limit (%v)", context.Cause(ctx))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if last := stderr.lastLine(); last != "" {
				return fmt.Errorf("%v: %s", err, last)
			}
		}
		return err
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

// lastLine is the last non-empty line, quoted so that whatever the command
// printed comes out inert.
func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	if len(last) > 200 {
		last = last[:200]
	}
	return fmt.Sprintf("%q", last)
}
