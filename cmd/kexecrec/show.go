package main

import (
	"errors"
	"fmt"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

// addFilterFlags registers the call selection flags (show, replay).
func addFilterFlags(cmd *cobra.Command, f *replay.Filter) {
	fl := cmd.Flags()
	fl.UintSliceVar(&f.PIDs, "pid", nil, "only calls by these process ids")
	fl.StringSliceVar(&f.Comms, "comm", nil, "only calls by these command names")
	fl.UintSliceVar(&f.UIDs, "uid", nil, "only calls by these user ids (real or effective)")
	fl.StringSliceVar(&f.Syscalls, "syscall", nil, "only these syscalls: kexec_load, kexec_file_load (or load, file_load)")
	fl.BoolVar(&f.Failed, "failed", false, "only calls that failed or did not finish")
	fl.StringVar(&f.Since, "since", "", "only calls at or after this time: RFC3339, or a duration after the capture start (90s, 2h)")
	fl.StringVar(&f.Until, "until", "", "only calls before this time: RFC3339, or a duration after the capture start")
}

type showOptions struct {
	IO         *IOStreams
	Files      []string
	Format     string // "table", "json" or "ndjson"
	Wide       bool
	HexDump    int
	NoIdentify bool
	Filter     replay.Filter
}

func newShowCmd(ios *IOStreams) *cobra.Command {
	opts := &showOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "show FILE...",
		Short: "Decode and print the calls in captures",
		Long: `show decodes every kexec_load and kexec_file_load call in each capture and
prints an index (one row per call: time, pid and comm, syscall, number of
segments or files, captured bytes, result, flags), then each call: caller, arguments with flags by name (unknown bits in hex), result
with errno name, and a table of segments or payloads with their sizes,
captured bytes, SHA-256, completeness and where the bytes were read. Unless
--no-identify is given it also says what each payload is (kernel version,
command line, initramfs files) and recomputes kexec-tools' purgatory digest;
a mismatch is flagged with "!!! PURGATORY DIGEST MISMATCH".

--format json prints one JSON array with an object per file (header, calls,
status); --format ndjson prints one call object per line. Field names are
stable.

A damaged capture is shown as far as it can be read, then what was wrong is
printed on stderr and the exit status is 2. A capture that is intact but was
not stopped cleanly (no trailer, e.g. the recorder was killed) is shown with
a warning on stderr and exit status 0.`,
		Example: `  kexecrec show capture.krec
  kexecrec show --failed --syscall kexec_load capture.krec
  kexecrec show --since 10m --until 1h --comm kexec capture.krec
  kexecrec show --format ndjson capture.krec | jq .caller.exe
  kexecrec show --hexdump 64 --wide capture.krec`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Files = args
			return runShow(opts)
		},
	}
	fl := cmd.Flags()
	addFormatFlag(cmd, &opts.Format, "table", "json", "ndjson")
	fl.BoolVar(&opts.Wide, "wide", false, "full SHA-256 values and one line per segment (wider than 80 columns)")
	fl.IntVar(&opts.HexDump, "hexdump", 0, "print the first `N` bytes of every payload (table format)")
	fl.BoolVar(&opts.NoIdentify, "no-identify", false, "do not read payload bytes to say what they are")
	addFilterFlags(cmd, &opts.Filter)
	return cmd
}

func runShow(opts *showOptions) error {
	if err := checkFormat(opts.Format, "table", "json", "ndjson"); err != nil {
		return err
	}
	if opts.HexDump < 0 || opts.HexDump > 1<<20 {
		return trouble(fmt.Errorf("--hexdump %d: want 0..1048576", opts.HexDump))
	}
	if opts.HexDump > 0 && opts.Format != "table" {
		return trouble(errors.New("--hexdump needs --format table"))
	}
	flt, err := opts.Filter.Compile()
	if err != nil {
		return trouble(err)
	}
	softMemoryLimit(showMemLimit)
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	files, err := replay.ExpandPrefixes(opts.Files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	bad, err := replay.Show(opts.IO.Out, files, replay.ShowOptions{
		Format: opts.Format, Table: replay.TableOptions{Wide: opts.Wide, HexDump: opts.HexDump},
		Identify: !opts.NoIdentify, Filter: flt, Problem: printProblem(opts.IO), Stdin: stdin,
	})
	if err != nil {
		return trouble(err) // output itself failed
	}
	if len(bad) > 0 {
		return troubleSaid() // each problem was already said on its own line
	}
	return nil
}

// printProblem prints what was wrong with a capture on stderr, one line each.
func printProblem(ios *IOStreams) func(path, kind, msg string) {
	return func(path, kind, msg string) {
		switch kind {
		case "error":
			fmt.Fprintf(ios.ErrOut, "kexecrec: %s\n", oneLine(msg))
		case "damage":
			fmt.Fprintf(ios.ErrOut, "kexecrec: %s: DAMAGED: %s\n", path, oneLine(msg))
		case "input":
			fmt.Fprintf(ios.ErrOut, "kexecrec: %s: %s\n", path, oneLine(msg))
		default:
			fmt.Fprintf(ios.ErrOut, "kexecrec: %s: warning: %s\n", path, oneLine(msg))
		}
	}
}
