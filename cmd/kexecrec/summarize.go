package main

import (
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type summarizeOptions struct {
	IO         *IOStreams
	Files      []string
	Format     string // "table" or "json"
	Wide       bool
	NoIdentify bool
	PubKey     string // public key file the signatures must verify against
}

func newSummarizeCmd(ios *IOStreams) *cobra.Command {
	opts := &summarizeOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "summarize FILE...",
		Short: "Summarize captures: file integrity, host, calls, payloads, drops",
		Long: `Summarize one or more captures, like capinfos and aureport: for each file its
size and SHA-256 (for case notes), format, clean or unclean stop, hash chain and
signature status and any damage; the recording host, machine id, boot id,
kernel release, recorder version, attach mode and options; the time span; the
calls by syscall, outcome, errno, process (comm and exe) and user; every
distinct payload by SHA-256 with its size and what it is (kernels by version);
drop counters and truncated payloads. A purgatory digest mismatch (the
captured segments are not what kexec-tools' purgatory will verify at boot: a
race or tampering) is printed first and stands out.

With several files a TOTAL follows. Memory stays bounded whatever the number
of calls.

Exit status: 0 when every file was read; 2 when a file could not be read or
is damaged (what could be read is still printed, marked PARTIAL).`,
		Example: `  kexecrec summarize capture.kxr
  kexecrec summarize --wide monday.kxr tuesday.kxr
  kexecrec summarize --format json capture.kxr | jq '.files[0].kernels'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return runSummarize(opts)
		},
	}
	addFormatFlag(cmd, &opts.Format, "table", "json")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "do not shorten hashes or cut long cells to 80 columns")
	cmd.Flags().BoolVar(&opts.NoIdentify, "no-identify", false, "do not identify payloads or check purgatory digests (faster)")
	cmd.Flags().StringVar(&opts.PubKey, "pubkey", "", "public key file signatures must verify against (default: the key each file names)")
	return cmd
}

// summarizeMemLimit is the soft heap limit summarize runs under. Little
// stays live (a few chunks read ahead, a few hundred calls in flight, the
// tables); calls are decoded in reused memory, but identification and the
// tables still allocate, and on a busy machine the garbage collector can
// fall behind. A soft limit makes it collect sooner instead. GOMEMLIMIT,
// when set, wins.
const summarizeMemLimit = 40 << 20

func runSummarize(opts *summarizeOptions) error {
	if err := checkFormat(opts.Format, "table", "json"); err != nil {
		return err
	}
	softMemoryLimit(summarizeMemLimit)
	var key ed25519.PublicKey
	if opts.PubKey != "" {
		k, err := format.LoadPublicKey(opts.PubKey)
		if err != nil {
			return trouble(fmt.Errorf("--pubkey: %w", err))
		}
		key = k
	}
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	files, err := replay.ExpandPrefixes(opts.Files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	rep, readErr := replay.Summarize(files, replay.SummarizeOptions{Identify: !opts.NoIdentify, PublicKey: key, Stdin: stdin})
	fleet := slices.ContainsFunc(opts.Files, replay.IsPrefix)
	if fleet {
		rep.Fleet = replay.Fleet(rep.Files)
	}
	switch {
	case opts.Format == "json":
		err = writeJSON(opts.IO.Out, rep)
	case fleet: // a fleet's captures are one table row each, then the total
		err = replay.RenderFleet(opts.IO.Out, rep.Fleet, opts.Wide)
		if err == nil && rep.Total != nil {
			fmt.Fprintln(opts.IO.Out)
			err = replay.RenderSummary(opts.IO.Out, &replay.SummaryReport{Files: []*replay.Summary{rep.Total}}, replay.TableOptions{Wide: opts.Wide})
		}
	default:
		err = replay.RenderSummary(opts.IO.Out, rep, replay.TableOptions{Wide: opts.Wide})
	}
	if err != nil {
		return trouble(err)
	}
	if readErr != nil {
		return trouble(readErr)
	}
	return nil
}
