package main

import (
	"errors"
	"fmt"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type extractOptions struct {
	IO     *IOStreams
	File   string
	Dir    string
	Force  bool
	Format string // "text" or "json"
}

func newExtractCmd(ios *IOStreams) *cobra.Command {
	opts := &extractOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "extract -d DIR FILE",
		Short: "Write every captured payload to a directory, with a manifest",
		Long: `extract writes each captured payload (segment, kernel, initrd, cmdline) of
every call to DIR/<call-id>-<kind><index>-<sha256 first 12>.bin and lists
them in DIR/manifest.json with their SHA-256, size, completeness and origin
(call id, syscall, kind, index, where the bytes were read, caller pid and
comm). Every file is re-hashed while it is written and compared with the
capture's hash.

File names are built only from numbers and hex digits, never from strings in
the capture, and nothing is written outside DIR (symlinks in DIR are not
followed). Existing files are not overwritten unless --force is given (then
the directory entry is replaced, never a symlink's target).

Incomplete payloads are written as captured, holes zero-filled; the manifest
says which ranges are missing. Exit status 2 when a payload could not be
written or verified, or the capture is damaged.`,
		Example: `  kexecrec extract -d evidence/ capture.krec
  jq -r '.files[] | "\(.sha256)  \(.file)"' evidence/manifest.json | (cd evidence && sha256sum -c)`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			return runExtract(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Dir, "dir", "d", "", "directory to write into (created if missing)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace files that already exist")
	addFormatFlag(cmd, &opts.Format, "text", "json")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func runExtract(opts *extractOptions) error {
	if err := checkFormat(opts.Format, "text", "json"); err != nil {
		return err
	}
	if opts.Dir == "" {
		return trouble(errors.New("extract: -d DIR is required"))
	}
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	res, err := replay.ExtractFile(opts.File, opts.Dir, opts.Force, stdin)
	if err != nil {
		return trouble(err)
	}
	errOut := opts.IO.ErrOut
	for _, e := range res.Entries {
		if e.Error != "" {
			fmt.Fprintf(errOut, "kexecrec: call %d %s %d: %s\n", e.Origin.CallID, e.Origin.Kind, e.Origin.Index, oneLine(e.Error))
		}
	}
	if opts.Format == "json" {
		err = writeJSON(opts.IO.Out, res)
	} else {
		_, err = fmt.Fprintf(opts.IO.Out, "%d payloads of %d calls written to %s (%d failed), manifest %s\n",
			res.Written, res.Calls, opts.Dir, res.Failed, replay.ManifestName)
	}
	if err != nil {
		return trouble(err)
	}
	problem := printProblem(opts.IO)
	for _, w := range res.Warnings {
		problem(opts.File, "warning", w)
	}
	for _, d := range res.Damage {
		problem(opts.File, res.ProblemKind, d)
	}
	switch {
	case len(res.Damage) > 0 && res.ProblemKind == "input":
		return trouble(fmt.Errorf("%s: extraction is partial", opts.File))
	case len(res.Damage) > 0:
		return trouble(fmt.Errorf("%s: damaged capture: extraction is partial", opts.File))
	case res.Failed > 0:
		return trouble(fmt.Errorf("%d payloads could not be extracted", res.Failed))
	}
	return nil
}
