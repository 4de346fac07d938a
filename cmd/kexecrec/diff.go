package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	ios        *IOStreams
	A, B       string
	Format     string // "text" or "json"
	Wide       bool
	NoIdentify bool
}

func newDiffCmd(ios *IOStreams) *cobra.Command {
	opts := &diffOptions{ios: ios}
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
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "do not shorten hashes or cut lines to 80 columns")
	cmd.Flags().BoolVar(&opts.NoIdentify, "no-identify", false,
		"do not identify payloads (no kernel version, initramfs or kexec_load cmdline changes)")
	return cmd
}

// diffSide is one capture read for diff.
type diffSide struct {
	digests []*replay.CallDigest
	clean   bool
}

func runDiff(opts *diffOptions) error {
	if opts.Format != "text" && opts.Format != "json" {
		return trouble(fmt.Errorf("--format %q: want text or json", opts.Format))
	}
	// One digester for both files: a body common to A and B is held once.
	g := replay.NewDigester()
	stdin := replay.NewStdin(opts.ios.In, 0)
	defer stdin.Close()
	a, err := readDigests(opts.A, g, !opts.NoIdentify, stdin)
	if err != nil {
		return trouble(err)
	}
	b, err := readDigests(opts.B, g, !opts.NoIdentify, stdin)
	if err != nil {
		return trouble(err)
	}
	r := replay.Diff(a.digests, b.digests)
	r.A, r.B = opts.A, opts.B
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.ios.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return trouble(err)
		}
	} else {
		w := &summaryWriter{out: opts.ios.Out, wide: opts.Wide}
		w.diff(r, a, b)
		if w.err != nil {
			return trouble(w.err)
		}
	}
	if !r.Equal() {
		return finding()
	}
	return nil
}

// readDigests reads every call of a capture. A damaged file is trouble: a
// comparison that silently skips calls would be a wrong answer.
func readDigests(path string, g *replay.Digester, identifyPayloads bool, stdin *replay.Stdin) (*diffSide, error) {
	c, err := replay.Open(path, replay.OpenOptions{Identify: identifyPayloads, Stdin: stdin})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	side := &diffSide{}
	pos := 0
	err = c.Calls(func(call *replay.Call) error {
		side.digests = append(side.digests, g.Digest(pos, call))
		pos++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if damage, _ := c.Trouble(); len(damage) > 0 {
		return nil, fmt.Errorf("%s: damaged: %s", path, damage[0])
	}
	side.clean = c.Status().Clean
	return side, nil
}

// diff prints a diff(1)-like report.
func (w *summaryWriter) diff(r *replay.DiffResult, a, b *diffSide) {
	stop := func(s *diffSide) string {
		if s.clean {
			return ""
		}
		return ", unclean stop"
	}
	w.line("--- %s (%d calls%s)", r.A, r.CallsA, stop(a))
	w.line("+++ %s (%d calls%s)", r.B, r.CallsB, stop(b))
	w.line("%d same, %d changed, %d only in A, %d only in B", r.Same, len(r.Changed), len(r.OnlyA), len(r.OnlyB))
	for _, c := range r.Changed {
		w.line("")
		w.cutLine(fmt.Sprintf("~ call %d -> call %d: %s by %s", c.A.ID, c.B.ID, c.A.Syscall, diffCaller(c.A)))
		for _, ch := range c.Changes {
			w.cutLine("    " + ch.Text(w.hash))
		}
	}
	for _, side := range []struct {
		title, mark string
		calls       []*replay.CallDigest
	}{{"only in A:", "-", r.OnlyA}, {"only in B:", "+", r.OnlyB}} {
		if len(side.calls) == 0 {
			continue
		}
		w.line("")
		w.line("%s", side.title)
		for _, d := range side.calls {
			w.callLines(side.mark, d)
		}
	}
}

func diffCaller(d *replay.CallDigest) string {
	if d.Exe == "" {
		return d.Comm
	}
	return fmt.Sprintf("%s (%s)", d.Comm, d.Exe)
}

// callLines prints one call: what, who and the result, then what it loaded.
func (w *summaryWriter) callLines(mark string, d *replay.CallDigest) {
	w.cutLine(fmt.Sprintf("%s call %d: %s by %s -> %s", mark, d.ID, d.Syscall, diffCaller(d), d.ResultText()))
	w.cutLine("    at " + sumTime(d.Time))
	detail := "flags " + d.FlagsText()
	if d.Syscall == "kexec_load" {
		detail += fmt.Sprintf(", %d segments", d.NrSegments)
	}
	w.cutLine("    " + detail)
	if len(d.Kernels) > 0 {
		w.cutLine("    kernel " + strings.Join(d.Kernels, ", "))
	}
	if d.Cmdline != "" {
		w.cutLine("    cmdline " + d.Cmdline)
	}
	for _, p := range d.Payloads {
		what := p.What
		if what == "" {
			what = p.Type
		}
		if !p.Complete {
			what = strings.TrimSpace(fmt.Sprintf("TRUNCATED %d of %d bytes %s", p.Size, p.Total, what))
		}
		w.cutLine(strings.TrimRight(fmt.Sprintf("    %s %s %s", p.Name, w.hash(p.SHA256), what), " "))
	}
	if d.Purgatory == "MISMATCH" {
		w.line("    !! PURGATORY DIGEST MISMATCH")
	}
}

// cutLine prints a line cut to 80 columns unless wide.
func (w *summaryWriter) cutLine(s string) {
	if !w.wide {
		s = sumCut(s, summaryWidth)
	}
	w.line("%s", s)
}
