package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newExtractCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "extract",
		Short: "extract (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("extract: not implemented yet"))
		},
	}
}
