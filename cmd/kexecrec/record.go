package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TEMPORARY stub: replaced by the real command.
func newRecordCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "record",
		Short: "record (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return trouble(errors.New("record: not implemented yet"))
		},
	}
}
