package replay

import (
	"bufio"
	"context"
	"io"
	"strings"
	"time"
)

// ReplayOptions tune Replay.
type ReplayOptions struct {
	Format   string       // "ndjson" (a call per line) or "table"
	Table    TableOptions // Wide for the table format
	Identify bool         // say what each payload is (reads payload bytes)
	Filter   *CallFilter  // nil: every call
	// Speed paces the calls: 0 as fast as possible, 1 with the original
	// time between call entries, N at N times the original speed.
	Speed float64
	// Follow keeps reading a capture that is still being written, until
	// its trailer or ctx ends, looking for new data every Poll.
	Follow bool
	Poll   time.Duration
	// Problem is told what was wrong with the file after the output:
	// kind "damage", "input" (standard input cut at the limit on its copy)
	// or "warning".
	Problem func(path, kind, msg string)
	// Stdin serves the path "-" (NewStdin).
	Stdin *Stdin
}

// Replay re-emits the calls of a capture through the decoder the live
// recorder uses. damaged says the file could not be read entirely (each
// problem went to o.Problem); err is a failure to open the file or to
// write. Stopping a follower through ctx is not damage: the cut is the
// reader's, so neither a missing trailer nor a chunk cut short is reported.
func Replay(ctx context.Context, w io.Writer, path string, o ReplayOptions) (damaged bool, err error) {
	c, err := Open(path, OpenOptions{
		Salvage:  !o.Follow, // a follower must not skip ahead past a chunk still being written
		Identify: o.Identify, Follow: o.Follow, Context: ctx, PollInterval: o.Poll, Stdin: o.Stdin,
	})
	if err != nil {
		return false, err
	}
	defer c.Close()
	h := c.Header()
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	var (
		start     time.Time
		firstBoot uint64
		werr      error
	)
	_ = c.Calls(func(call *Call) error { // a read error is reported through Trouble below
		if !o.Filter.Match(call, h.BootStartNS) {
			return nil
		}
		if o.Speed > 0 && call.BootNS != 0 {
			if firstBoot == 0 {
				firstBoot, start = call.BootNS, time.Now()
			} else if call.BootNS > firstBoot {
				due := start.Add(time.Duration(float64(call.BootNS-firstBoot) / o.Speed))
				if d := time.Until(due); d > 0 {
					out.Flush()
					select {
					case <-ctx.Done():
						return ErrStop
					case <-time.After(d):
					}
				}
			}
		}
		if o.Format == "table" {
			werr = RenderTable(out, call, o.Table)
		} else {
			werr = RenderJSON(out, call)
		}
		if werr == nil && o.Follow {
			werr = out.Flush() // a follower wants each call as it comes
		}
		return werr
	})
	if werr != nil {
		return false, werr
	}
	if err := out.Flush(); err != nil {
		return false, err
	}
	interrupted := ctx.Err() != nil
	damage, warnings := c.Trouble()
	for _, msg := range warnings {
		if interrupted && !c.Status().Clean && strings.HasPrefix(msg, "no trailer:") {
			continue // stopped by the user while following: no trailer is expected
		}
		if o.Problem != nil {
			o.Problem(path, "warning", msg)
		}
	}
	if interrupted && o.Follow && len(damage) > 0 {
		return false, nil // stopped mid-chunk while following: the cut is ours, not damage
	}
	for _, msg := range damage {
		if o.Problem != nil {
			o.Problem(path, c.ProblemKind(), msg)
		}
	}
	return len(damage) > 0, nil
}
