package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type manOptions struct {
	IO  *IOStreams
	Dir string
}

func newManCmd(ios *IOStreams) *cobra.Command {
	opts := &manOptions{IO: ios}
	cmd := &cobra.Command{
		Use:    "man -d DIR",
		Short:  "Generate man pages for every command into DIR",
		Hidden: true,
		Example: `  kexecrec man -d /usr/local/share/man/man1
  man kexecrec-show`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMan(opts, cmd.Root()) },
	}
	cmd.Flags().StringVarP(&opts.Dir, "dir", "d", "", "directory to write the pages into")
	return cmd
}

func runMan(opts *manOptions, root *cobra.Command) error {
	if opts.Dir == "" {
		return trouble(errors.New("man: -d DIR is required"))
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return trouble(err)
	}
	root.DisableAutoGenTag = true // reproducible pages: no generation date
	hdr := &doc.GenManHeader{Title: "KEXECREC", Section: "1", Source: "kexecrec " + version, Manual: "kexecrec manual"}
	if err := doc.GenManTree(root, hdr, opts.Dir); err != nil {
		return trouble(fmt.Errorf("man: %w", err))
	}
	fmt.Fprintf(opts.IO.Out, "man pages written to %s\n", opts.Dir)
	return nil
}
