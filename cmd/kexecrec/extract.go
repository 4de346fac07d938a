package main

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type extractOptions struct {
	ios   *IOStreams
	file  string
	dir   string
	force bool
}

func newExtractCmd(ios *IOStreams) *cobra.Command {
	opts := &extractOptions{ios: ios}
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
			opts.file = args[0]
			return runExtract(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.dir, "dir", "d", "", "directory to write into (created if missing)")
	cmd.Flags().BoolVar(&opts.force, "force", false, "replace files that already exist")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func runExtract(opts *extractOptions) error {
	if opts.dir == "" {
		return trouble(errors.New("extract: -d DIR is required"))
	}
	stdin := replay.NewStdin(opts.ios.In, 0)
	defer stdin.Close()
	c, err := replay.Open(opts.file, replay.OpenOptions{Salvage: true, NoCmdline: true, Stdin: stdin})
	if err != nil {
		return trouble(err)
	}
	defer c.Close()
	x, err := replay.NewExtractor(opts.dir, opts.force)
	if err != nil {
		return trouble(fmt.Errorf("extract: %w", err))
	}
	bad, calls := 0, 0
	_ = c.Calls(func(call *replay.Call) error { // read errors come back through Trouble
		calls++
		bad += x.Extract(call, c.Payload)
		return nil
	})
	m := x.Manifest()
	written := 0
	for _, e := range m.Files {
		if e.Error != "" {
			fmt.Fprintf(opts.ios.ErrOut, "kexecrec: call %d %s %d: %s\n", e.Origin.CallID, e.Origin.Kind, e.Origin.Index, oneLine(e.Error))
		} else {
			written++
		}
	}
	h := c.Header()
	if err := x.Close(opts.file, hex.EncodeToString(h.FileID[:])); err != nil {
		return trouble(fmt.Errorf("extract: %s: %w", replay.ManifestName, err))
	}
	fmt.Fprintf(opts.ios.Out, "%d payloads of %d calls written to %s (%d failed), manifest %s\n",
		written, calls, opts.dir, bad, replay.ManifestName)
	damage, warnings := c.Trouble()
	for _, w := range warnings {
		fmt.Fprintf(opts.ios.ErrOut, "kexecrec: %s: warning: %s\n", opts.file, oneLine(w))
	}
	for _, d := range damage {
		fmt.Fprintf(opts.ios.ErrOut, "kexecrec: %s: DAMAGED: %s\n", opts.file, oneLine(d))
	}
	switch {
	case len(damage) > 0:
		return trouble(fmt.Errorf("%s: damaged capture: extraction is partial", opts.file))
	case bad > 0:
		return trouble(fmt.Errorf("%d payloads could not be extracted", bad))
	}
	return nil
}
