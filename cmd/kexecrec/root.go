package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// versionString is what --version prints and what captures record as writer.
func versionString() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, %s)", version, c, runtime.Version())
}

func newRootCmd(ios *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kexecrec",
		Short: "Record and examine every kexec_load and kexec_file_load call",
		Long: `kexecrec records every kexec_load and kexec_file_load call (successful or
failed) with its caller, arguments, return value and the full bytes of every
segment, kernel and initrd, into a compressed, crash-safe, verifiable capture
file; the other commands decode, summarize, compare, extract and verify captures.
Every reader takes - for standard input (record -o - | kexecrec show -).`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetVersionTemplate("kexecrec {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return trouble(fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	root.AddCommand(
		newRecordCmd(ios),
		newShowCmd(ios),
		newSummarizeCmd(ios),
		newDiffCmd(ios),
		newExtractCmd(ios),
		newReplayCmd(ios),
		newVerifyCmd(ios),
		newReportCmd(ios),
		newExportCmd(ios),
		newKeygenCmd(ios),
		newManCmd(ios),
	)
	return root
}

// run executes the command line and returns the exit status.
func run(args []string, ios *IOStreams) int {
	root := newRootCmd(ios)
	root.SetArgs(args)
	err := root.Execute()
	code, msg := exitCode(err)
	if msg != "" {
		fmt.Fprintf(ios.ErrOut, "kexecrec: %s\n", msg)
	}
	return code
}
