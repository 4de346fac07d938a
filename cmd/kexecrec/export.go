package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kexecrec/kexecrec/replay/export"
	"github.com/spf13/cobra"
)

type exportOptions struct {
	ios    *IOStreams
	Files  []string
	Output string // file, or "-" for stdout
	Format string // "timesketch" or "case"
	PubKey string
	Force  bool
	// Tool and Now are injected so that exports are reproducible in tests.
	Tool string
	Now  func() time.Time
}

// exportMaxCalls bounds the calls one capture contributes to an export;
// the export says how many more there were.
const exportMaxCalls = 20000

func newExportCmd(ios *IOStreams) *cobra.Command {
	opts := &exportOptions{ios: ios, Tool: "kexecrec " + versionString(), Now: time.Now}
	cmd := &cobra.Command{
		Use:   "export --format timesketch|case CAPTURE... -o FILE",
		Short: "Export captures for DFIR tools: a Timesketch timeline or CASE/UCO provenance",
		Long: `Export what the captures hold into the tools investigators already use.

--format timesketch writes JSONL for Timesketch: one line per call and one per
notable event of each recording (start, clean stop or unclean end, drops
counted by the recorder), each with message, datetime (ISO 8601 with zone),
timestamp (microseconds) and timestamp_desc, plus the call's fields flat:
syscall, pid, uid, comm, exe, argv, kernel_version, cmdline, result,
payload_sha256 (and payload_segment_N_sha256 ...), capture_file,
capture_sha256, hostname, machine_id, boot_id.

--format case writes CASE/UCO 1.3.0 JSON-LD: each recording as an
InvestigativeAction with kexecrec (name, version) as instrument, the host as
its object and the capture file (size, SHA-256) as its result; the reading
of the captures as a second InvestigativeAction whose results are the
distinct payloads, each a File with its SHA-256, size and what it is.

Every string from a capture is made printable (control characters escaped).
At most 20000 calls per capture are exported; the export says so when there
were more. Exit status: 0 written and every capture verified; 1 written and
some capture did not verify; 2 trouble (usage, output).`,
		Example: `  kexecrec export --format timesketch incident.zst -o incident.jsonl
  kexecrec export --format case incident.zst -o incident.jsonld`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Files = args
			return runExport(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output file, - for standard output (required)")
	cmd.Flags().StringVar(&opts.Format, "format", "", "timesketch or case (required)")
	cmd.Flags().StringVar(&opts.PubKey, "pubkey", "", "public key file signatures must verify against")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite the output file")
	return cmd
}

func runExport(opts *exportOptions) error {
	var write func(io.Writer) error
	if opts.Output == "" {
		return trouble(errors.New("-o FILE is required (- for standard output)"))
	}
	switch opts.Format {
	case "timesketch", "case":
	case "":
		return trouble(errors.New("--format is required: timesketch or case"))
	default:
		return trouble(fmt.Errorf("--format %q: want timesketch or case", opts.Format))
	}
	ev, err := gatherEvidence(opts.Files, "", opts.PubKey, exportMaxCalls)
	if err != nil {
		return trouble(err)
	}
	ev.Tool = opts.Tool
	if opts.Now != nil {
		ev.Generated = opts.Now()
	}
	if opts.Format == "case" {
		write = func(w io.Writer) error { return export.CASE(w, ev) }
	} else {
		write = func(w io.Writer) error { return export.Timesketch(w, ev) }
	}
	if err := writeOutput(opts.ios, opts.Output, opts.Force, write); err != nil {
		return trouble(err)
	}
	if !ev.Verified() {
		return finding()
	}
	return nil
}
