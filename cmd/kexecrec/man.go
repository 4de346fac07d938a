package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCmd(ios *IOStreams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man -d DIR",
		Short:  "Generate man pages for every command into DIR",
		Hidden: true,
		Example: `  kexecrec man -d /usr/local/share/man/man1
  man kexecrec-show`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return trouble(errors.New("man: -d DIR is required"))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return trouble(err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			hdr := &doc.GenManHeader{Title: "KEXECREC", Section: "1", Source: "kexecrec " + version, Manual: "kexecrec manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return trouble(fmt.Errorf("man: %w", err))
			}
			fmt.Fprintf(ios.Out, "man pages written to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "directory to write the pages into")
	return cmd
}
