package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// addFormatFlag registers --format with the formats a command prints; the
// first is the default. Every command that prints has one, with "json".
func addFormatFlag(cmd *cobra.Command, p *string, formats ...string) {
	*p = formats[0]
	cmd.Flags().StringVar(p, "format", formats[0], "output format: "+orList(formats))
}

// checkFormat refuses a --format value the command does not print.
func checkFormat(got string, formats ...string) error {
	if slices.Contains(formats, got) {
		return nil
	}
	return trouble(fmt.Errorf("--format %q: want %s", got, orList(formats)))
}

// orList words a list of choices: "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// writeJSON writes v as the one indented JSON document of a command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
