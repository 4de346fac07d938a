package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newShowCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "show (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("show: not implemented yet"))
		},
	}
}
