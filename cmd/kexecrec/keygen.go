package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newKeygenCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "keygen (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("keygen: not implemented yet"))
		},
	}
}
