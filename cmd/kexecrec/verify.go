package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"sort"
	"strings"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	ios    *IOStreams
	files  []string
	pubkey string
	json   bool
}

func newVerifyCmd(ios *IOStreams) *cobra.Command {
	opts := &verifyOptions{ios: ios}
	cmd := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Check a capture's integrity: CRCs, hashes, hash chain, trailer, blobs and signature",
		Long: `verify reads every byte of each capture and checks every chunk header's
CRC32C, every zstd frame's CRC32C and content checksum, every body's SHA-256,
the chunk sequence, the hash chain, every blob against its pieces, the
trailer's totals and chain head, and the Ed25519 signature.

It prints each check and its result. Exit status: 0 when every check holds
for every file, 1 when a check failed (a capture without trailer, i.e. cut
short or from a recorder that did not stop cleanly, does NOT verify), 2 when
a file could not be read at all.

With --pubkey KEYFILE (PEM, from 'kexecrec keygen') the signature must exist
and be made by that key; without it a signature is checked against the key
the file names, which proves integrity but not who signed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.files = args
			return runVerify(opts)
		},
	}
	cmd.Flags().StringVar(&opts.pubkey, "pubkey", "", "public key file the signature must verify against")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

// verifyCheck is one line of the report.
type verifyCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type verifyReport struct {
	File     string        `json:"file"`
	Verified bool          `json:"verified"`
	Error    string        `json:"error,omitempty"` // file could not be read at all
	Checks   []verifyCheck `json:"checks"`
}

func runVerify(opts *verifyOptions) error {
	var key ed25519.PublicKey
	if opts.pubkey != "" {
		k, err := format.LoadPublicKey(opts.pubkey)
		if err != nil {
			return trouble(fmt.Errorf("--pubkey: %w", err))
		}
		key = k
	}
	var reports []verifyReport
	unreadable, failed := false, false
	files, err := replay.ExpandPrefixes(opts.files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	for _, f := range files {
		rep := verifyFile(f, key)
		if rep.Error != "" {
			unreadable = true
		} else if !rep.Verified {
			failed = true
		}
		reports = append(reports, rep)
	}
	out := opts.ios.Out
	if opts.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return trouble(err)
		}
	} else {
		for _, rep := range reports {
			printVerifyReport(out, rep)
		}
	}
	switch {
	case unreadable:
		for _, rep := range reports {
			if rep.Error != "" {
				return trouble(fmt.Errorf("%s: %s", rep.File, rep.Error))
			}
		}
	case failed:
		return finding()
	}
	return nil
}

func printVerifyReport(out io.Writer, rep verifyReport) {
	fmt.Fprintf(out, "%s:\n", rep.File)
	if rep.Error != "" {
		fmt.Fprintf(out, "  UNREADABLE  %s\n", rep.Error)
		return
	}
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "  %s  %-10s %s\n", mark, c.Name, c.Detail)
	}
	if rep.Verified {
		fmt.Fprintf(out, "  VERIFIED\n")
	} else {
		fmt.Fprintf(out, "  NOT VERIFIED\n")
	}
}

// verifyFile runs every check on one file. It reads in salvage mode so that
// one damaged chunk does not hide the state of the rest of the file.
func verifyFile(path string, key ed25519.PublicKey) verifyReport {
	rep := verifyReport{File: path}
	f, err := replay.OpenFile(path)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	if !st.Mode().IsRegular() {
		rep.Error = "not a regular file"
		return rep
	}
	// Prefetch: decompressing and hashing run on a second core, ahead of
	// the chain and accounting checks.
	ro := format.ReaderOptions{Salvage: true, PublicKey: key, Prefetch: true}
	r, err := format.NewReader(f, ro)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	defer r.Close()
	var readErr error
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	r.Close() // its read-ahead stops before the blob pass reads the file again
	s := r.Status()
	add := func(name string, ok bool, format string, a ...any) {
		rep.Checks = append(rep.Checks, verifyCheck{name, ok, fmt.Sprintf(format, a...)})
	}
	h := r.Header()
	add("header", s.ChunksByType["header"] == 1 && !damaged(s, format.ErrNoHeader),
		"file id %s, host %q, kernel %q, arch %q, writer %q", hex.EncodeToString(h.FileID[:]), h.Hostname, h.KernelRelease, h.Arch, h.WriterVersion)

	var types []string
	for t, n := range s.ChunksByType {
		types = append(types, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(types)
	add("chunks", readErr == nil && s.Bytes == st.Size(), "%d valid chunks (%s) in %d of %d bytes, %d records",
		s.Chunks, strings.Join(types, ", "), s.Bytes, st.Size(), s.Records)
	if readErr != nil {
		add("read", false, "%v", readErr)
	}

	integ := filterDamage(s, format.ErrHeader, format.ErrChecksum, format.ErrTooLarge, format.ErrTruncated, format.ErrVersion, format.ErrCritical)
	add("integrity", len(integ) == 0 && readErr == nil, "%s", summarize(integ,
		"every chunk header CRC32C, zstd frame CRC32C and content checksum, and body SHA-256 matches"))

	seqDamage := filterDamage(s, format.ErrSequence)
	if len(s.Gaps) > 0 || len(seqDamage) > 0 {
		var g []string
		for _, gap := range s.Gaps {
			g = append(g, fmt.Sprintf("%d-%d", gap.From, gap.To))
		}
		add("sequence", false, "chunks missing or unreadable: %s %s", strings.Join(g, ", "), summarize(seqDamage, ""))
	} else {
		add("sequence", true, "chunks 0..%d in order, no gap", max(s.Chunks-1, 0))
	}

	chainDamage := filterDamage(s, format.ErrChain)
	switch {
	case s.ChainOK:
		add("chain", true, "hash chain intact to the trailer, head %x", s.ChainHead)
	case !s.Clean && len(chainDamage) == 0 && len(s.Gaps) == 0 && len(integ) == 0:
		add("chain", false, "chain intact over the %d chunks present, but not anchored by a trailer (head %x)", s.Chunks, s.ChainHead)
	default:
		add("chain", false, "hash chain broken %s", summarize(chainDamage, ""))
	}

	if !s.Clean {
		add("trailer", false, "no trailer: unclean stop (recorder killed, disk full or file cut short); contents cannot be proven complete")
	} else {
		cnt := filterDamage(s, format.ErrCounts)
		tc := s.TrailerCounts
		add("trailer", len(cnt) == 0, "clean stop at %s; %s", tc.End.Format("2006-01-02T15:04:05.000Z07:00"),
			summarize(cnt, fmt.Sprintf("totals match: %d chunks, %d records, %d blobs, %d pieces", tc.Chunks, tc.Records, tc.Blobs, tc.Pieces)))
	}

	blobText, blobsOK := verifyBlobs(f, st.Size(), r.Blobs())
	add("blobs", blobsOK, "%s", blobText)

	switch {
	case !s.Signed && key != nil:
		add("signature", false, "not signed, but --pubkey was given")
	case !s.Signed:
		add("signature", true, "not signed (no --pubkey asked for one)")
	case !s.SignatureOK:
		add("signature", false, "Ed25519 signature of the chain head does NOT verify (trailer names key %x)", s.SignerKey)
	case s.KeyTrusted:
		add("signature", true, "Ed25519 signature of the chain head verified with --pubkey (key %x)", s.SignerKey)
	default:
		add("signature", true, "Ed25519 signature verified with the key the file names (%x); pass --pubkey to check who signed", s.SignerKey)
	}
	if len(s.SkippedTypes) > 0 {
		add("versions", true, "skipped unknown non-critical types: %v", s.SkippedTypes)
	}

	rep.Verified = true
	for _, c := range rep.Checks {
		rep.Verified = rep.Verified && c.OK
	}
	return rep
}

// verifyBlobs reads every blob through the index: each piece's SHA-256,
// then the blob's size and SHA-256.
func verifyBlobs(f io.ReaderAt, size int64, blobs map[[32]byte]format.BlobInfo) (string, bool) {
	if len(blobs) == 0 {
		return "no blobs", true
	}
	ix, err := format.OpenIndex(f, size, format.ReaderOptions{Salvage: true})
	if err != nil {
		return "cannot index: " + err.Error(), false
	}
	var bad []string
	var bytes uint64
	for sum := range ix.Blobs() {
		rc, info, err := ix.Blob(sum)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, rc)
			rc.Close()
			bytes += uint64(n)
			_ = info
		}
		if err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Sprintf("%d of %d blobs bad: %s", len(bad), len(blobs), strings.Join(bad, "; ")), false
	}
	return fmt.Sprintf("%d blobs, %d bytes: every piece present, every piece and blob SHA-256 matches", len(blobs), bytes), true
}

func damaged(s format.Status, sentinel error) bool { return len(filterDamage(s, sentinel)) > 0 }

func filterDamage(s format.Status, sentinels ...error) []*format.FormatError {
	var out []*format.FormatError
	for _, d := range s.Damage {
		for _, e := range sentinels {
			if errors.Is(d, e) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

func summarize(ds []*format.FormatError, okText string) string {
	if len(ds) == 0 {
		return okText
	}
	var s []string
	for i, d := range ds {
		if i == 5 {
			s = append(s, fmt.Sprintf("and %d more", len(ds)-5))
			break
		}
		s = append(s, d.Error())
	}
	return strings.Join(s, "; ")
}
