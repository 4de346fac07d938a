package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newDiffCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "diff",
		Short: "diff (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("diff: not implemented yet"))
		},
	}
}
