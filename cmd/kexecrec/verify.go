package main

import (
	"crypto/ed25519"
	"fmt"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	IO     *IOStreams
	Files  []string
	PubKey string
	Format string // "text" or "json"
}

func newVerifyCmd(ios *IOStreams) *cobra.Command {
	opts := &verifyOptions{IO: ios}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Check a capture's integrity: CRCs, hashes, hash chain, trailer, blobs and signature",
		Long: `verify reads every byte of each capture and checks every chunk header's
CRC32C, every zstd frame's CRC32C and content checksum, every body's SHA-256,
the chunk sequence, the hash chain, every blob against its pieces, the
trailer's totals and chain head, and the Ed25519 signature.

It prints each check and its result (--format json: a JSON array with one
report per file; --json is the same). Exit status: 0 when every check holds
for every file, 1 when a check failed (a capture without trailer, i.e. cut
short or from a recorder that did not stop cleanly, does NOT verify), 2 when
a file could not be read at all.

With --pubkey KEYFILE (PEM, from 'kexecrec keygen') the signature must exist
and be made by that key; without it a signature is checked against the key
the file names, which proves integrity but not who signed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Files = args
			if asJSON {
				opts.Format = "json"
			}
			return runVerify(opts)
		},
	}
	cmd.Flags().StringVar(&opts.PubKey, "pubkey", "", "public key file the signature must verify against")
	addFormatFlag(cmd, &opts.Format, "text", "json")
	cmd.Flags().BoolVar(&asJSON, "json", false, "the same as --format json")
	return cmd
}

func runVerify(opts *verifyOptions) error {
	if err := checkFormat(opts.Format, "text", "json"); err != nil {
		return err
	}
	var key ed25519.PublicKey
	if opts.PubKey != "" {
		k, err := format.LoadPublicKey(opts.PubKey)
		if err != nil {
			return trouble(fmt.Errorf("--pubkey: %w", err))
		}
		key = k
	}
	reports := []*format.VerifyReport{}
	var unreadable *format.VerifyReport
	failed := false
	stdin := replay.NewStdin(opts.IO.In, 0)
	defer stdin.Close()
	files, err := replay.ExpandPrefixes(opts.Files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	for _, f := range files {
		rep, err := verifyInput(f, stdin, format.VerifyOptions{PublicKey: key})
		switch {
		case err != nil:
			rep = &format.VerifyReport{File: f, Error: err.Error()}
			if unreadable == nil {
				unreadable = rep
			}
		case !rep.Verified:
			failed = true
		}
		reports = append(reports, rep)
	}
	if opts.Format == "json" {
		if err := writeJSON(opts.IO.Out, reports); err != nil {
			return trouble(err)
		}
	} else {
		for _, rep := range reports {
			if err := rep.WriteText(opts.IO.Out); err != nil {
				return trouble(err)
			}
		}
	}
	switch {
	case unreadable != nil:
		return trouble(fmt.Errorf("%s: %s", unreadable.File, unreadable.Error))
	case failed:
		return finding()
	}
	return nil
}

// verifyInput verifies a file, or standard input ("-") through its private
// copy: verification needs random access for the blob pass.
func verifyInput(path string, stdin *replay.Stdin, o format.VerifyOptions) (*format.VerifyReport, error) {
	if path != replay.StdinName && !replay.IsRemote(path) {
		return format.VerifyFile(path, o)
	}
	in, err := replay.OpenInput(path, stdin)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	ra, size, err := in.All()
	if err != nil {
		return nil, err
	}
	rep, err := format.Verify(ra, size, o)
	if rep != nil {
		rep.File = path
	}
	return rep, err
}
