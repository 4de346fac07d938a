package format

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// PublicKey, when set, is the key the file must be signed with;
	// otherwise a signature is checked against the key the trailer names
	// (integrity, not who signed).
	PublicKey ed25519.PublicKey
}

// VerifyCheck is one check of a verification and its result.
type VerifyCheck struct {
	Name   string `json:"name"` // header, chunks, read, integrity, sequence, chain, trailer, blobs, signature, versions
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// VerifyReport is the result of verifying one capture.
type VerifyReport struct {
	File     string        `json:"file"`
	Verified bool          `json:"verified"`        // every check holds
	Error    string        `json:"error,omitempty"` // the file could not be read at all (no checks)
	Checks   []VerifyCheck `json:"checks"`
}

// VerifyFile verifies the capture at path (a regular file). Its error says
// why the file could not be read at all; the report names the file.
func VerifyFile(path string, o VerifyOptions) (*VerifyReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	rep, err := Verify(f, st.Size(), o)
	if rep != nil {
		rep.File = path
	}
	return rep, err
}

// Verify reads every byte of the capture in r (size bytes long) and checks
// every chunk header's CRC32C, every zstd frame's CRC32C and content
// checksum, every body's SHA-256, the chunk sequence, the hash chain, every
// blob against its pieces, the trailer's totals and chain head, and the
// signature. A capture without trailer does not verify. It reads in
// salvage mode so that one damaged chunk does not hide the state of the
// rest. The error is non-nil only when r is not a capture at all (no
// readable header): then there are no checks to report.
func Verify(r io.ReaderAt, size int64, o VerifyOptions) (*VerifyReport, error) {
	// Prefetch: decompressing and hashing run on a second core, ahead of
	// the chain and accounting checks.
	ro := ReaderOptions{Salvage: true, PublicKey: o.PublicKey, Prefetch: true}
	cr, err := NewReader(io.NewSectionReader(r, 0, size), ro)
	if err != nil {
		return nil, err
	}
	defer cr.Close()
	var readErr error
	for {
		if _, err := cr.Next(); err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	cr.Close() // its read-ahead stops before the blob pass reads the file again
	return VerifyRead(cr, readErr, r, size, o), nil
}

// VerifyRead is Verify's report on a capture that cr has read to the end
// (readErr: the error that ended its reading early, nil at io.EOF), so that
// one read of a file serves both its verification and what the caller does
// with its records. cr must have been opened as Verify opens its own
// (Salvage, o's PublicKey, every record type) and closed; r and size are
// the file, for the pass over its blobs.
func VerifyRead(cr *Reader, readErr error, r io.ReaderAt, size int64, o VerifyOptions) *VerifyReport {
	rep := &VerifyReport{}
	s := cr.Status()
	add := func(name string, ok bool, format string, a ...any) {
		rep.Checks = append(rep.Checks, VerifyCheck{name, ok, fmt.Sprintf(format, a...)})
	}
	h := cr.Header()
	add("header", s.ChunksByType["header"] == 1 && len(damageOf(s, ErrNoHeader)) == 0,
		"file id %s, host %q, kernel %q, arch %q, writer %q", hex.EncodeToString(h.FileID[:]), h.Hostname, h.KernelRelease, h.Arch, h.WriterVersion)

	var types []string
	for t, n := range s.ChunksByType {
		types = append(types, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(types)
	add("chunks", readErr == nil && s.Bytes == size, "%d valid chunks (%s) in %d of %d bytes, %d records",
		s.Chunks, strings.Join(types, ", "), s.Bytes, size, s.Records)
	if readErr != nil {
		add("read", false, "%v", readErr)
	}

	integ := damageOf(s, ErrHeader, ErrChecksum, ErrTooLarge, ErrTruncated, ErrVersion, ErrCritical)
	bodies := "body SHA-256"
	if s.BLAKE3Chunks > 0 {
		bodies = "body hash (BLAKE3 for the " + fmt.Sprint(s.BLAKE3Chunks) + " format 1.1 pieces, SHA-256 for the rest)"
	}
	add("integrity", len(integ) == 0 && readErr == nil, "%s", damageText(integ,
		"every chunk header CRC32C, zstd frame CRC32C and content checksum, and "+bodies+" matches"))

	seqDamage := damageOf(s, ErrSequence)
	if len(s.Gaps) > 0 || len(seqDamage) > 0 {
		var g []string
		for _, gap := range s.Gaps {
			g = append(g, fmt.Sprintf("%d-%d", gap.From, gap.To))
		}
		add("sequence", false, "chunks missing or unreadable: %s %s", strings.Join(g, ", "), damageText(seqDamage, ""))
	} else {
		add("sequence", true, "chunks 0..%d in order, no gap", max(s.Chunks-1, 0))
	}

	chainDamage := damageOf(s, ErrChain)
	switch {
	case s.ChainOK:
		add("chain", true, "hash chain intact to the trailer, head %x", s.ChainHead)
	case !s.Clean && len(chainDamage) == 0 && len(s.Gaps) == 0 && len(integ) == 0:
		add("chain", false, "chain intact over the %d chunks present, but not anchored by a trailer (head %x)", s.Chunks, s.ChainHead)
	default:
		add("chain", false, "hash chain broken %s", damageText(chainDamage, ""))
	}

	if !s.Clean {
		add("trailer", false, "no trailer: unclean stop (recorder killed, disk full or file cut short); contents cannot be proven complete")
	} else {
		cnt := damageOf(s, ErrCounts)
		tc := s.TrailerCounts
		add("trailer", len(cnt) == 0, "clean stop at %s; %s", tc.End.Format("2006-01-02T15:04:05.000Z07:00"),
			damageText(cnt, fmt.Sprintf("totals match: %d chunks, %d records, %d blobs, %d pieces", tc.Chunks, tc.Records, tc.Blobs, tc.Pieces)))
	}

	blobText, blobsOK := verifyBlobs(r, size, len(cr.Blobs()))
	add("blobs", blobsOK, "%s", blobText)

	switch {
	case !s.Signed && o.PublicKey != nil:
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

// verifyBlobs reads every blob through the index: each piece against its id
// (SHA-256, or BLAKE3 in format 1.1), then the blob's size and, for a 1.0
// blob, its SHA-256 (a 1.1 blob's id, the SHA-256 of its piece list, was
// checked when its map was read). blobs is how many the stream named.
func verifyBlobs(r io.ReaderAt, size int64, blobs int) (string, bool) {
	if blobs == 0 {
		return "no blobs", true
	}
	ix, err := OpenIndex(r, size, ReaderOptions{Salvage: true})
	if err != nil {
		return "cannot index: " + err.Error(), false
	}
	var bad []string
	var total uint64
	listIDs := 0
	for sum, info := range ix.Blobs() {
		if info.Ref.ListID {
			listIDs++
		}
		rc, _, err := ix.Blob(sum)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, rc)
			rc.Close()
			total += uint64(n)
		}
		if err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Sprintf("%d of %d blobs bad: %s", len(bad), blobs, strings.Join(bad, "; ")), false
	}
	if listIDs > 0 {
		return fmt.Sprintf("%d blobs, %d bytes: every piece present and matching its id (BLAKE3 in format 1.1, SHA-256 in 1.0), "+
			"every blob matching its id (the SHA-256 of its piece list in 1.1, of its bytes in 1.0)", blobs, total), true
	}
	return fmt.Sprintf("%d blobs, %d bytes: every piece present, every piece and blob SHA-256 matches", blobs, total), true
}

// damageOf is the damage in s that is one of the sentinels.
func damageOf(s Status, sentinels ...error) []*FormatError {
	var out []*FormatError
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

// damageText words up to five damage entries, okText when there are none.
func damageText(ds []*FormatError, okText string) string {
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

// WriteText writes the report for people: one line per check, then the
// verdict.
func (rep *VerifyReport) WriteText(w io.Writer) error {
	var err error
	printf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	printf("%s:\n", rep.File)
	if rep.Error != "" {
		printf("  UNREADABLE  %s\n", rep.Error)
		return err
	}
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		printf("  %s  %-10s %s\n", mark, c.Name, c.Detail)
	}
	if rep.Verified {
		printf("  VERIFIED\n")
	} else {
		printf("  NOT VERIFIED\n")
	}
	return err
}
