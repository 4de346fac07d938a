package main

import (
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
	IO       *IOStreams
	File     string
	Format   string // "ndjson" or "table"
	Speed    float64
	Follow   bool
	Identify bool
	Wide     bool
	Poll     time.Duration
	Filter   replay.Filter
	// ctx, when set (tests), replaces the SIGINT/SIGTERM context.
	ctx context.Context
}

func newReplayCmd(ios *IOStreams) *cobra.Command {
	opts := &replayOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Re-emit a capture's calls as NDJSON or a table, optionally paced or following a growing file",
		Long: `replay re-emits the calls of a capture through the same decoder the live
recorder uses: NDJSON by default (one call object per line, the same objects
as 'show --format ndjson'; --format json is the same), or --format table.

--speed 0 emits as fast as possible (default), 1 with the original pacing
between call entries, N at N times the original speed.

--follow keeps reading a capture that is still being written (like tail -f):
it waits for new sealed chunks and stops at the trailer (the recorder
stopped cleanly) or on SIGINT/SIGTERM (exit status 0). Calls appear when
their exit record has been sealed into the file.`,
		Example: `  kexecrec replay capture.krec | jq -c 'select(.outcome=="error")'
  kexecrec replay --speed 1 --format table capture.krec
  kexecrec replay --follow /var/lib/kexecrec/current.krec`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			return runReplay(opts)
		},
	}
	fl := cmd.Flags()
	addFormatFlag(cmd, &opts.Format, "ndjson", "json", "table")
	fl.Float64Var(&opts.Speed, "speed", 0, "pacing: 0 as fast as possible, 1 original, N times faster")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep reading as the file grows, until its trailer or SIGINT")
	fl.BoolVar(&opts.Identify, "identify", false, "say what each payload is (reads payload bytes)")
	fl.BoolVar(&opts.Wide, "wide", false, "table: full SHA-256 values, one line per segment")
	fl.DurationVar(&opts.Poll, "poll", 200*time.Millisecond, "--follow: how often to look for new data")
	addFilterFlags(cmd, &opts.Filter)
	return cmd
}

func runReplay(opts *replayOptions) error {
	if err := checkFormat(opts.Format, "ndjson", "json", "table"); err != nil {
		return err
	}
	if opts.Speed < 0 {
		return trouble(fmt.Errorf("--speed %v: want 0 or more", opts.Speed))
	}
	flt, err := opts.Filter.Compile()
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
	format := opts.Format
	if format == "json" {
		format = "ndjson" // a stream of calls: one JSON object per line
	}
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	damaged, err := replay.Replay(ctx, opts.IO.Out, opts.File, replay.ReplayOptions{
		Format: format, Table: replay.TableOptions{Wide: opts.Wide}, Identify: opts.Identify, Filter: flt,
		Speed: opts.Speed, Follow: opts.Follow, Poll: opts.Poll, Problem: printProblem(opts.IO), Stdin: stdin,
	})
	switch {
	case err != nil:
		return trouble(err)
	case damaged:
		return trouble(fmt.Errorf("%s: damaged capture: output is partial", opts.File))
	}
	return nil
}
