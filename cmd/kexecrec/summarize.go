package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newSummarizeCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "summarize",
		Short: "summarize (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("summarize: not implemented yet"))
		},
	}
}
