package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newReplayCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "replay",
		Short: "replay (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("replay: not implemented yet"))
		},
	}
}
