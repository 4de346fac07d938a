package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type replayOptions struct {
	ios      *IOStreams
	file     string
	format   string
	speed    float64
	follow   bool
	identify bool
	wide     bool
	poll     time.Duration
	filter   callFilter
	// ctx, when set (tests), replaces the SIGINT/SIGTERM context.
	ctx context.Context
}

func newReplayCmd(ios *IOStreams) *cobra.Command {
	opts := &replayOptions{ios: ios}
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Re-emit a capture's calls as NDJSON or a table, optionally paced or following a growing file",
		Long: `replay re-emits the calls of a capture through the same decoder the live
recorder uses: NDJSON by default (one call object per line, the same objects
as 'show --format ndjson'), or --format table.

--speed 0 emits as fast as possible (default), 1 with the original pacing
between call entries, N at N times the original speed.

--follow keeps reading a capture that is still being written (like tail -f):
it waits for new sealed chunks and stops at the trailer (the recorder
stopped cleanly) or on SIGINT/SIGTERM (exit status 0). Calls appear when
their exit record has been sealed into the file.`,
		Example: `  kexecrec replay capture.krec | jq -c 'select(.outcome=="error")'
  kexecrec replay --speed 1 --format table capture.krec
  kexecrec replay --follow /var/lib/kexecrec/current.krec
  sudo kexecrec record -o - | kexecrec replay --follow -`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.file = args[0]
			return runReplay(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.format, "format", "ndjson", "output format: ndjson or table")
	fl.Float64Var(&opts.speed, "speed", 0, "pacing: 0 as fast as possible, 1 original, N times faster")
	fl.BoolVarP(&opts.follow, "follow", "f", false, "keep reading as the file grows, until its trailer or SIGINT")
	fl.BoolVar(&opts.identify, "identify", false, "say what each payload is (reads payload bytes)")
	fl.BoolVar(&opts.wide, "wide", false, "table: full SHA-256 values, one line per segment")
	fl.DurationVar(&opts.poll, "poll", 200*time.Millisecond, "--follow: how often to look for new data")
	opts.filter.register(cmd)
	return cmd
}

func runReplay(opts *replayOptions) error {
	if opts.format != "ndjson" && opts.format != "table" {
		return trouble(fmt.Errorf("--format %q: want ndjson or table", opts.format))
	}
	if opts.speed < 0 {
		return trouble(fmt.Errorf("--speed %v: want 0 or more", opts.speed))
	}
	flt, err := opts.filter.compile()
	if err != nil {
		return trouble(err)
	}
	softMemoryLimit(showMemLimit)
	ctx := opts.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	stdin := replay.NewStdin(opts.ios.In, 0)
	defer stdin.Close()
	c, err := replay.Open(opts.file, replay.OpenOptions{
		Salvage:  !opts.follow, // a follower must not skip ahead past a chunk still being written
		Identify: opts.identify, Follow: opts.follow, Context: ctx, PollInterval: opts.poll, Stdin: stdin,
	})
	if err != nil {
		return trouble(err)
	}
	defer c.Close()
	h := c.Header()
	out := bufio.NewWriterSize(opts.ios.Out, 64<<10)
	defer out.Flush()
	topts := replay.TableOptions{Wide: opts.wide}
	var (
		start     time.Time
		firstBoot uint64
		werr      error
	)
	err = c.Calls(func(call *replay.Call) error {
		if !flt.match(call, h.WallStart, h.BootStartNS) {
			return nil
		}
		if opts.speed > 0 && call.BootNS != 0 {
			if firstBoot == 0 {
				firstBoot, start = call.BootNS, time.Now()
			} else if call.BootNS > firstBoot {
				due := start.Add(time.Duration(float64(call.BootNS-firstBoot) / opts.speed))
				if d := time.Until(due); d > 0 {
					out.Flush()
					select {
					case <-ctx.Done():
						return replay.ErrStop
					case <-time.After(d):
					}
				}
			}
		}
		if opts.format == "table" {
			werr = replay.RenderTable(out, call, topts)
		} else {
			werr = replay.RenderJSON(out, call)
		}
		if werr == nil && opts.follow {
			werr = out.Flush() // a follower wants each call as it comes
		}
		return werr
	})
	if werr != nil {
		return trouble(werr)
	}
	if ferr := out.Flush(); ferr != nil {
		return trouble(ferr)
	}
	interrupted := ctx.Err() != nil
	damage, warnings := c.Trouble()
	for _, w := range warnings {
		if interrupted && !c.Status().Clean && w == noTrailerWarning(c) {
			continue // stopped by the user while following: no trailer is expected
		}
		fmt.Fprintf(opts.ios.ErrOut, "kexecrec: %s: warning: %s\n", opts.file, oneLine(w))
	}
	if interrupted && opts.follow && len(damage) > 0 {
		// Stopped mid-chunk while following: the cut is ours, not damage.
		return nil
	}
	for _, d := range damage {
		fmt.Fprintf(opts.ios.ErrOut, "kexecrec: %s: DAMAGED: %s\n", opts.file, oneLine(d))
	}
	if len(damage) > 0 {
		return trouble(fmt.Errorf("%s: damaged capture: output is partial", opts.file))
	}
	return nil
}

// noTrailerWarning is the warning Trouble gives for a missing trailer.
func noTrailerWarning(c *replay.Capture) string {
	_, w := c.Trouble()
	if len(w) > 0 && !c.Status().Clean {
		return w[0]
	}
	return ""
}
