package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newVerifyCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "verify (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("verify: not implemented yet"))
		},
	}
}
