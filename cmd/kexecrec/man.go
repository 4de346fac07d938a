package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newManCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "man",
		Short: "man (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("man: not implemented yet"))
		},
	}
}
