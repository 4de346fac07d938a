package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/ship"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"
)

type summarizeOptions struct {
	ios        *IOStreams
	Files      []string
	Format     string // "table" or "json"
	Wide       bool
	NoIdentify bool
	PubKey     string // public key file the signatures must verify against
}

func newSummarizeCmd(ios *IOStreams) *cobra.Command {
	opts := &summarizeOptions{ios: ios}
	cmd := &cobra.Command{
		Use:   "summarize FILE...",
		Short: "Summarize captures: file integrity, host, calls, payloads, drops",
		Long: `Summarize one or more captures, like capinfos and aureport: for each file its
size and SHA-256 (for case notes), format, clean or unclean stop, hash chain and
signature status and any damage; the recording host, machine id, boot id,
kernel release, recorder version, attach mode and options; the time span; the
calls by syscall, outcome, errno, process (comm and exe) and user; every
distinct payload by SHA-256 with its size and what it is (kernels by version);
drop counters and truncated payloads. A purgatory digest mismatch (the
captured segments are not what kexec-tools' purgatory will verify at boot: a
race or tampering) is printed first and stands out.

With several files a TOTAL follows. Memory stays bounded whatever the number
of calls.

Exit status: 0 when every file was read; 2 when a file could not be read or
is damaged (what could be read is still printed, marked PARTIAL).`,
		Example: `  kexecrec summarize capture.kxr
  kexecrec summarize --wide monday.kxr tuesday.kxr
  kexecrec summarize --format json capture.kxr | jq '.files[0].kernels'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return runSummarize(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "do not shorten hashes or cut long cells to 80 columns")
	cmd.Flags().BoolVar(&opts.NoIdentify, "no-identify", false, "do not identify payloads or check purgatory digests (faster)")
	cmd.Flags().StringVar(&opts.PubKey, "pubkey", "", "public key file signatures must verify against (default: the key each file names)")
	return cmd
}

// summarizeReport is the JSON document: one summary per file, and the total
// when there are several.
type summarizeReport struct {
	Files []*replay.Summary `json:"files"`
	Total *replay.Summary   `json:"total,omitempty"`
	// Fleet: one row per capture when an S3 prefix was given.
	Fleet []replay.FleetRow `json:"fleet,omitempty"`
}

func runSummarize(opts *summarizeOptions) error {
	if opts.Format != "table" && opts.Format != "json" {
		return trouble(fmt.Errorf("--format %q: want table or json", opts.Format))
	}
	softMemoryLimit(summarizeMemLimit)
	var key ed25519.PublicKey
	if opts.PubKey != "" {
		k, err := format.LoadPublicKey(opts.PubKey)
		if err != nil {
			return trouble(fmt.Errorf("--pubkey: %w", err))
		}
		key = k
	}
	files, err := replay.ExpandPrefixes(opts.Files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	var rep summarizeReport
	var errs []string
	for _, path := range files {
		s, err := summarizeFile(path, replay.OpenOptions{Salvage: true, Identify: !opts.NoIdentify, PublicKey: key, Reuse: true, Pipelined: true})
		rep.Files = append(rep.Files, s)
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(rep.Files) > 1 {
		rep.Total = replay.Total(rep.Files)
	}
	fleet := slices.ContainsFunc(opts.Files, replay.IsPrefix)
	if fleet {
		rep.Fleet = replay.Fleet(rep.Files)
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.ios.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return trouble(err)
		}
	} else {
		w := &summaryWriter{out: opts.ios.Out, wide: opts.Wide}
		if fleet { // a fleet's captures are one table row each, then the total
			if err := replay.RenderFleet(opts.ios.Out, rep.Fleet, opts.Wide); err != nil {
				return trouble(err)
			}
			rep.Files = nil
		}
		for i, s := range rep.Files {
			if i > 0 {
				w.line("")
			}
			w.summary(s)
		}
		if rep.Total != nil {
			w.line("")
			w.summary(rep.Total)
		}
		if w.err != nil {
			return trouble(w.err)
		}
	}
	if len(errs) > 0 {
		return trouble(errors.New(strings.Join(errs, "; ")))
	}
	return nil
}

// summarizeFile reads one capture. The summary is never nil: on error it
// holds what could be read, marked partial, and the error names the file.
func summarizeFile(path string, o replay.OpenOptions) (*replay.Summary, error) {
	s := replay.NewSummary()
	fi := replay.FileInfo{Path: path}
	defer func() { s.Finish() }()
	fail := func(err error) (*replay.Summary, error) {
		s.SetFile(fi)
		s.SetPartial(err)
		s.Damage = append(s.Damage, err.Error())
		return s, err
	}

	// The file's own hash, for case notes: a separate pass over the bytes,
	// so it covers the whole file even when decoding stops at damage.
	size, sum, err := sumHashFile(path)
	if err != nil {
		return fail(err)
	}
	fi.Size, fi.SHA256 = size, sum
	if !ship.IsS3URL(path) {
		fi.Shipping = ship.LocalState(path)
	}
	fi.FormatVersion = fmt.Sprintf("%d", format.FormatMajor)

	c, err := replay.Open(path, o)
	if err != nil {
		fi.FormatVersion = ""
		return fail(err)
	}
	defer c.Close()
	s.SetFile(fi)
	s.SetHeader(c.Header())
	readErr := c.Calls(func(call *replay.Call) error {
		s.AddCall(call)
		return nil
	})
	s.SetStatus(c.Status())
	s.SetStats(c.Stats())
	damage, warnings := c.Trouble()
	s.SetTrouble(damage, warnings)
	if readErr != nil {
		s.SetPartial(readErr)
		return s, readErr
	}
	if len(damage) > 0 {
		return s, fmt.Errorf("%s: damaged: %s", path, damage[0])
	}
	return s, nil
}

// summarizeMemLimit is the soft heap limit summarize runs under. Little
// stays live (a few chunks read ahead, a few hundred calls in flight, the
// tables); calls are decoded in reused memory, but identification and the
// tables still allocate, and on a busy machine the garbage collector can
// fall behind (90 MiB RSS was measured at 300,000 calls before calls were
// reused). A soft limit makes it collect sooner instead. GOMEMLIMIT, when
// set, wins.
const summarizeMemLimit = 40 << 20

func sumHashFile(path string) (int64, string, error) {
	f, err := replay.OpenFile(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return 0, "", fmt.Errorf("%s: is a directory", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return n, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// summaryWriter prints summaries and diffs for people: sections of small
// tables that fit 80 columns (unless wide), hashes shortened to 12 hex digits.
type summaryWriter struct {
	out  io.Writer
	wide bool
	err  error
}

// summaryWidth is the width tables are cut to.
const summaryWidth = 80

func (w *summaryWriter) line(format string, a ...any) {
	if w.err != nil {
		return
	}
	_, w.err = fmt.Fprintf(w.out, format+"\n", a...)
}

// hash shortens a SHA-256 unless wide.
func (w *summaryWriter) hash(s string) string {
	if w.wide || len(s) <= 12 {
		return s
	}
	return s[:12]
}

// table prints rows under an optional header. The last column takes what
// the others leave of 80 columns and is cut with "..." (unless wide).
func (w *summaryWriter) table(header []string, rows [][]string) {
	if w.err != nil || len(rows) == 0 {
		return
	}
	const indent = "  "
	if !w.wide {
		ncol := len(rows[0])
		widths := make([]int, ncol)
		measure := func(r []string) {
			for i, c := range r {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
		measure(header)
		for _, r := range rows {
			measure(r)
		}
		used := len(indent)
		for _, wd := range widths[:ncol-1] {
			used += wd + 2
		}
		room := max(summaryWidth-used, 12)
		for _, r := range rows {
			r[ncol-1] = sumCut(r[ncol-1], room)
		}
	}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbolCustom("kexecrec").WithColumn(" ").WithRow("-").WithCenter(" ").
				WithHeaderMid(" ").WithMidLeft("").WithMidRight(""),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
	)
	if header != nil {
		t.Header(header)
	}
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			w.err = err
			return
		}
	}
	if err := t.Render(); err != nil {
		w.err = err
		return
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	widest := 0
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
		if strings.Trim(lines[i], "-") != "" {
			widest = max(widest, len([]rune(lines[i])))
		}
	}
	for _, l := range lines {
		if l != "" && strings.Trim(l, "-") == "" {
			// The header rule: as long as the widest row, not the padding.
			l = strings.Repeat("-", widest)
		}
		w.line("%s%s", indent, l)
	}
}

// cut shortens s to n runes, marking the cut.
func sumCut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

func sumTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000 UTC")
}

func sumYesNo(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// summary prints one summary (a file or the TOTAL).
func (w *summaryWriter) summary(s *replay.Summary) {
	title := "TOTAL"
	if s.File != nil {
		title = s.File.Path
	} else {
		title = fmt.Sprintf("TOTAL (%d files)", s.Files)
	}
	w.line("== %s ==", title)

	// What must not be missed comes first.
	if p := s.Purgatory; p.Mismatch > 0 {
		w.line("!! PURGATORY DIGEST MISMATCH in %d of %d checked kexec_load calls:", p.Mismatch, p.Checked)
		w.line("!! the captured segments are NOT what purgatory will verify at boot")
		w.line("!! (segments changed after they were read: a race or tampering).")
		for _, m := range p.Mismatches {
			w.cutLine(fmt.Sprintf("!!   call %d at %s:", m.CallID, sumTime(m.Time)))
			w.cutLine(fmt.Sprintf("!!     stored %s computed %s", w.hash(m.Stored), w.hash(m.Computed)))
			if m.Detail != "" {
				w.cutLine("!!     " + m.Detail)
			}
		}
		if p.Mismatch > len(p.Mismatches) {
			w.line("!!   ... and %d more", p.Mismatch-len(p.Mismatches))
		}
	}
	if s.File != nil && s.Host == nil {
		// Not even the header could be read: nothing else to say.
		w.cutLine("!! UNREADABLE: " + s.Error)
		w.table(nil, [][]string{
			{"size", fmt.Sprintf("%d bytes", s.File.Size)},
			{"sha256", sumOrDash(s.File.SHA256)},
		})
		return
	}
	if s.Partial {
		why := s.Error
		if why == "" && len(s.Damage) > 0 {
			why = s.Damage[0]
		}
		w.line("!! PARTIAL: the file could not be read entirely; counts cover only what was read")
		w.cutLine("!! " + why)
	}

	if f := s.File; f != nil {
		w.line("File")
		rows := [][]string{
			{"size", fmt.Sprintf("%d bytes", f.Size)},
			{"sha256", f.SHA256}, // full even in tables: it goes into case notes
		}
		if s.Host != nil {
			rows = append(rows, []string{"format", fmt.Sprintf("kexecrec capture %s, record layout %d", sumOrDash(f.FormatVersion), s.Host.RecordLayout)})
		}
		if f.Shipping != "" {
			rows = append(rows, []string{"shipping", f.Shipping})
		}
		w.table(nil, append(rows, w.integrityRows(s)...))
	} else {
		w.line("Files: %d", s.Files)
		w.table(nil, w.integrityRows(s))
	}

	if h := s.Host; h != nil {
		w.line("Host")
		rows := [][]string{
			{"hostname", sumOrDash(h.Hostname)},
			{"machine id", sumOrDash(h.MachineID)},
			{"boot id", sumOrDash(h.BootID)},
			{"kernel", sumOrDash(strings.TrimSpace(h.KernelRelease + " " + h.KernelVersion))},
			{"arch", sumOrDash(h.Arch)},
			{"recorder", sumOrDash(h.RecorderVersion)},
			{"attach mode", sumOrDash(h.AttachMode)},
		}
		if h.SetID != "" {
			rows = append(rows, []string{"set", fmt.Sprintf("%s part %d", w.hash(h.SetID), h.Part)})
		}
		keys := make([]string, 0, len(h.Options))
		for k := range h.Options {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			label := ""
			if i == 0 {
				label = "options"
			}
			rows = append(rows, []string{label, k + "=" + h.Options[k]})
		}
		w.table(nil, rows)
	}

	w.line("Time")
	span := [][]string{
		{"first call", sumTime(s.Span.FirstCall)},
		{"last call", sumTime(s.Span.LastCall)},
		{"recording start", sumTime(s.Span.RecordStart)},
		{"recording end", sumYesNo(s.Span.RecordEnd.IsZero(), "- (no trailer)", sumTime(s.Span.RecordEnd))},
	}
	if !s.Span.RecordStart.IsZero() && !s.Span.RecordEnd.IsZero() {
		span = append(span, []string{"duration", s.Span.RecordEnd.Sub(s.Span.RecordStart).String()})
	}
	w.table(nil, span)

	w.line("Calls: %d", s.Calls)
	w.counts("SYSCALL", s.BySyscall)
	w.counts("OUTCOME", s.ByOutcome)
	w.counts("ERRNO", s.ByErrno)
	w.counts("PROCESS (COMM EXE)", s.ByProcess)
	w.counts("USER", s.ByUser)

	w.line("Payloads: %d distinct, %d references, %d truncated", len(s.Payloads), s.PayloadRefs, s.Truncated)
	var rows [][]string
	for _, p := range s.Payloads {
		what := p.What
		if what == "" {
			what = p.Type
		}
		if !p.Complete {
			what = fmt.Sprintf("TRUNCATED %d of %d bytes; %s", p.Size, p.Total, what)
		}
		rows = append(rows, []string{w.hash(p.SHA256), fmt.Sprint(p.Size), fmt.Sprint(p.Uses),
			strings.Join(p.Kinds, ","), sumOrDash(what)})
	}
	w.table([]string{"SHA-256", "BYTES", "USES", "AS", "WHAT"}, rows)

	if len(s.Kernels) > 0 {
		w.line("Kernels: %d distinct", len(s.Kernels))
		rows = nil
		for _, k := range s.Kernels {
			rows = append(rows, []string{w.hash(k.SHA256), fmt.Sprint(k.Size), fmt.Sprint(k.Uses), k.KernelVersion})
		}
		w.table([]string{"SHA-256", "BYTES", "USES", "VERSION"}, rows)
	}

	if p := s.Purgatory; p.Checked > 0 {
		w.line("Purgatory digest: %d checked, %d match, %d MISMATCH, %d not found", p.Checked, p.Match, p.Mismatch, p.NotFound)
	}

	w.line("Drops and truncation")
	rows = nil
	keys := make([]string, 0, len(s.Stats))
	for k := range s.Stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rows = append(rows, []string{k, fmt.Sprint(s.Stats[k])})
	}
	if len(rows) == 0 {
		w.line("  no counters in the capture (no STATS chunk)")
	}
	w.table(nil, rows)
	if s.Truncated > 0 {
		w.counts("TRUNCATED BECAUSE", s.TruncatedByReason)
	} else {
		w.line("  no truncated payloads")
	}

	if len(s.Damage) > 0 {
		w.line("Damage")
		for _, d := range s.Damage {
			w.cutLine("  " + d)
		}
	}
	if len(s.Warnings) > 0 {
		w.line("Warnings")
		for _, d := range s.Warnings {
			w.cutLine("  " + d)
		}
	}
	if s.CallsWithProblems > 0 {
		w.line("Problems: %d calls", s.CallsWithProblems)
		w.counts("PROBLEM", s.Problems)
	}
}

func (w *summaryWriter) integrityRows(s *replay.Summary) [][]string {
	st := s.Stream
	sig := "not signed"
	switch {
	case s.File == nil && st.Unsigned > 0:
		sig = fmt.Sprintf("%d of %d files not signed", st.Unsigned, s.Files)
	case st.Signed && !st.SignatureOK:
		sig = "signed, signature DOES NOT VERIFY"
	case st.Signed && st.KeyTrusted:
		sig = "signed, verified against the given key"
	case st.Signed:
		sig = "signed, verified against the key the file names (not a trusted key)"
	}
	rows := [][]string{
		{"stop", sumYesNo(st.Clean, "clean (trailer read)", "UNCLEAN (no trailer: recorder killed or still running)")},
		{"chain", chainText(s)},
		{"signature", sig},
	}
	if st.SignerKey != "" {
		rows = append(rows, []string{"signer key", st.SignerKey}) // in full: it names who signed
	}
	rows = append(rows, []string{"chunks", fmt.Sprintf("%d chunks, %d records", st.Chunks, st.Records)})
	if len(st.Gaps) > 0 {
		rows = append(rows, []string{"gaps", strings.Join(st.Gaps, ", ")})
	}
	rows = append(rows, []string{"damage", sumYesNo(len(s.Damage) == 0, "none", fmt.Sprintf("%d problems (below)", len(s.Damage)))})
	return rows
}

// chainText says whether the hash chain held. Without a trailer there is no
// final head to check the chain against: the format reports ChainOK false,
// but every chunk read still chained to the one before it.
func chainText(s *replay.Summary) string {
	switch {
	case s.Stream.ChainOK:
		return "ok"
	case !s.Stream.Clean && len(s.Damage) == 0:
		return "ok up to the last sealed chunk (no trailer to check the head)"
	}
	return "BROKEN"
}

// counts prints a "calls by X" table.
func (w *summaryWriter) counts(what string, cs []replay.Count) {
	if len(cs) == 0 {
		return
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{fmt.Sprint(c.Calls), c.Key})
	}
	w.table([]string{"CALLS", what}, rows)
}

func sumOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
