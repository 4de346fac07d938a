package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/report"
	"github.com/spf13/cobra"
)

type reportOptions struct {
	ios      *IOStreams
	Files    []string
	Output   string // file, or "-" for stdout
	Format   string // "html", "md" or "" (from the output's extension)
	Baseline string
	PubKey   string
	Force    bool
	// Tool and Now are injected so that reports are reproducible in tests.
	Tool string
	Now  func() time.Time
}

func newReportCmd(ios *IOStreams) *cobra.Command {
	opts := &reportOptions{ios: ios, Tool: "kexecrec " + versionString(), Now: time.Now}
	cmd := &cobra.Command{
		Use:   "report CAPTURE... -o FILE",
		Short: "Write an incident report of captures: self-contained HTML or Markdown",
		Long: `Write a report for an incident ticket from one or more captures: one
self-contained HTML file (inline CSS and SVG, no script, no external resource,
prints well) or GitHub-flavoured Markdown.

Sections, most important first: the verdict (verified or NOT verified and
which check failed, who signed, unclean stop, drops, truncations and time
policy cuts); findings (purgatory digest mismatches, kernels that match no
kernel of the baseline, command lines with init= or other risky parameters,
failed and refused attempts by user, unusual callers); chain of custody (each
file's name, size and SHA-256 as sha256sum prints it, host, machine id, boot
id, kernel, recorder version, attach mode, time span, options); a timeline
and table of the calls; every call in detail (caller, arguments, flags,
result, every segment with its hash and what it is: kernel version,
initramfs listing with per-file hashes, command line, purgatory verdict).
With --baseline the comparison with a known-good capture is added (as
'kexecrec diff BASELINE CAPTURE...').

The format comes from the output's extension (.html, .htm, .md) or --format;
-o - writes Markdown to standard output. A damaged or unreadable capture
still gets a report: its banner says NOT verified and lists what was read.

Exit status: 0 the report was written and every capture verified; 1 it was
written and some capture did not verify; 2 trouble (usage, output).`,
		Example: `  kexecrec report incident.zst -o incident.html
  kexecrec report --baseline known-good.zst incident.zst -o incident.md
  kexecrec report incident.zst -o - | less`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Files = args
			return runReport(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "report file (.html or .md), - for standard output (required)")
	cmd.Flags().StringVar(&opts.Format, "format", "", "html or md (default: from the output file's extension)")
	cmd.Flags().StringVar(&opts.Baseline, "baseline", "", "known-good capture to compare with")
	cmd.Flags().StringVar(&opts.PubKey, "pubkey", "", "public key file signatures must verify against")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite the output file")
	return cmd
}

// reportFormat decides html or md from --format and the output name.
func reportFormat(format, output string) (string, error) {
	switch format {
	case "html", "md":
		return format, nil
	case "markdown":
		return "md", nil
	case "":
	default:
		return "", fmt.Errorf("--format %q: want html or md", format)
	}
	if output == "-" {
		return "md", nil
	}
	switch strings.ToLower(filepath.Ext(output)) {
	case ".html", ".htm":
		return "html", nil
	case ".md", ".markdown":
		return "md", nil
	}
	return "", fmt.Errorf("-o %s: cannot tell the format from the extension (use .html or .md, or --format)", output)
}

func runReport(opts *reportOptions) error {
	if opts.Output == "" {
		return trouble(errors.New("-o FILE is required (.html or .md, - for standard output)"))
	}
	kind, err := reportFormat(opts.Format, opts.Output)
	if err != nil {
		return trouble(err)
	}
	ev, err := gatherEvidence(opts.Files, opts.Baseline, opts.PubKey, report.MaxCalls)
	if err != nil {
		return trouble(err)
	}
	ev.Tool = opts.Tool
	if opts.Now != nil {
		ev.Generated = opts.Now()
	}
	render := report.Markdown
	if kind == "html" {
		render = report.HTML
	}
	if err := writeOutput(opts.ios, opts.Output, opts.Force, func(w io.Writer) error { return render(w, ev) }); err != nil {
		return trouble(err)
	}
	if !ev.Verified() {
		return finding()
	}
	return nil
}

// writeOutput writes to standard output ("-") or creates the file (never
// overwriting one without force); a file half written is removed.
func writeOutput(ios *IOStreams, path string, force bool, write func(io.Writer) error) error {
	if path == "-" {
		return write(ios.Out)
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists (use --force to overwrite)", path)
		}
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// gatherEvidence reads each capture the way the reading commands do:
// verify's checks, summarize's summary and the decoded, identified calls;
// and the baseline's calls for the comparison. A capture that cannot be
// read still yields its entry (with what could be read); only a bad
// --pubkey is an error.
func gatherEvidence(files []string, baseline, pubKey string, maxCalls int) (*report.Evidence, error) {
	var key ed25519.PublicKey
	if pubKey != "" {
		k, err := format.LoadPublicKey(pubKey)
		if err != nil {
			return nil, fmt.Errorf("--pubkey: %w", err)
		}
		key = k
	}
	ev := &report.Evidence{}
	g := replay.NewDigester()
	var digests []*replay.CallDigest
	for _, path := range files {
		cp, ds := readReportCapture(path, key, g, maxCalls)
		ev.Captures = append(ev.Captures, cp)
		digests = append(digests, ds...)
	}
	if baseline != "" {
		b := &report.Baseline{Path: baseline}
		side, _, err := replay.ReadDigests(baseline, g, replay.DiffOptions{Identify: true})
		if err != nil {
			b.Error = err.Error()
		} else {
			b.Diff = replay.Diff(side, digests)
			b.Diff.A, b.Diff.B = baseline, strings.Join(files, " ")
			b.KernelSHA256 = map[string]bool{}
			for _, d := range side {
				for _, p := range d.Payloads {
					if report.KernelTypes[p.Type] || p.Name == "kernel" {
						b.KernelSHA256[p.SHA256] = true
					}
				}
			}
		}
		ev.Baseline = b
	}
	return ev, nil
}

// readReportCapture reads one capture for the report, once: verify's
// result, the summary, and the first maxCalls calls (digests of all of
// them, for the comparison with a baseline).
func readReportCapture(path string, key ed25519.PublicKey, g *replay.Digester, maxCalls int) (*report.Capture, []*replay.CallDigest) {
	cp := &report.Capture{Path: path}
	var digests []*replay.CallDigest
	pass, _ := replay.ReadPass(path, replay.PassOptions{Identify: true, PublicKey: key, Verify: true,
		Each: func(call *replay.Call) error {
			digests = append(digests, g.Digest(len(digests), call))
			if len(cp.Calls) < maxCalls {
				cp.Calls = append(cp.Calls, call)
			} else {
				cp.CallsOmitted++
			}
			return nil
		}})
	vr := pass.Verify
	if vr == nil { // not a capture that opens: verify says why in its own words
		var err error
		if vr, err = verifyInput(path, nil, format.VerifyOptions{PublicKey: key}); err != nil { // a file or s3://BUCKET/KEY
			vr = &format.VerifyReport{File: path, Error: err.Error()}
		}
	}
	cp.Verify = report.Verification{Verified: vr.Verified, Error: vr.Error}
	for _, c := range vr.Checks {
		cp.Verify.Checks = append(cp.Verify.Checks, report.Check{Name: c.Name, OK: c.OK, Detail: c.Detail})
	}
	cp.Summary = pass.Summary
	if f := cp.Summary.File; f != nil {
		cp.Size, cp.SHA256 = f.Size, f.SHA256
	}
	if pass.ReadErr != nil {
		cp.ReadError = pass.ReadErr.Error()
	}
	return cp, digests
}
