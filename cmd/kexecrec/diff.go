package main

import (
	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	IO         *IOStreams
	A, B       string
	Format     string // "text" or "json"
	Wide       bool
	NoIdentify bool
}

func newDiffCmd(ios *IOStreams) *cobra.Command {
	opts := &diffOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the calls of two captures",
		Long: `Compare the kexec calls of capture A with those of capture B, for example a
known-good baseline with a capture from an incident.

The identity of a call is:

  syscall, flags, the SHA-256 of every captured payload by kind and segment
  index (segment 0..n, kernel, initrd, cmdline), the command line and the
  caller's executable path.

Times, pids, call ids and buffer addresses are not part of it: they differ
between any two runs of the same "kexec -l". Calls are a multiset: a call
made three times in A and twice in B is one call only in A.

Calls are paired in three passes: same identity and same return value (the
same call); same identity, other return value (changed); then the same
syscall by the same caller exe, in order of appearance (changed, with what
changed: flags, segment count, each payload hash, kernel version, initramfs
files, command line parameters, purgatory verdict, return value). The rest
is only in A (-) or only in B (+).

Exit status, like diff(1): 0 the captures hold the same calls, 1 they differ,
2 trouble (a file could not be read or is damaged).`,
		Example: `  kexecrec diff baseline.kxr incident.kxr
  kexecrec diff --format json baseline.kxr incident.kxr | jq '.changed[].changes'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			return runDiff(opts)
		},
	}
	addFormatFlag(cmd, &opts.Format, "text", "json")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "do not shorten hashes or cut lines to 80 columns")
	cmd.Flags().BoolVar(&opts.NoIdentify, "no-identify", false,
		"do not identify payloads (no kernel version, initramfs or kexec_load cmdline changes)")
	return cmd
}

func runDiff(opts *diffOptions) error {
	if err := checkFormat(opts.Format, "text", "json"); err != nil {
		return err
	}
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	r, err := replay.DiffFiles(opts.A, opts.B, replay.DiffOptions{Identify: !opts.NoIdentify, Stdin: stdin})
	if err != nil {
		return trouble(err)
	}
	if opts.Format == "json" {
		err = writeJSON(opts.IO.Out, r)
	} else {
		err = replay.RenderDiff(opts.IO.Out, r, replay.TableOptions{Wide: opts.Wide})
	}
	if err != nil {
		return trouble(err)
	}
	if !r.Equal() {
		return finding()
	}
	return nil
}
