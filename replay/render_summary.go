package replay

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// textWriter prints summaries and diffs for people: sections of small
// tables and lines that fit the width (unless wide), hashes shortened. The
// first write error sticks and ends the output.
type textWriter struct {
	out io.Writer
	o   TableOptions
	err error
}

// line prints one line. Strings from a capture (comm, exe, paths, command
// lines) come out inert: control characters are escaped.
func (w *textWriter) line(format string, a ...any) {
	if w.err != nil {
		return
	}
	_, w.err = fmt.Fprintln(w.out, sanitize(fmt.Sprintf(format, a...)))
}

// cutLine prints a line cut to the width unless wide.
func (w *textWriter) cutLine(s string) {
	if !w.o.Wide {
		s = cutRunes(s, w.o.width())
	}
	w.line("%s", s)
}

func (w *textWriter) hash(s string) string { return shortHash(s, w.o.Wide) }

// table prints rows under an optional header, indented, one line per row
// (the last column is cut to the width unless wide).
func (w *textWriter) table(header []string, rows [][]string) {
	if w.err != nil {
		return
	}
	for _, r := range rows {
		for i := range r {
			r[i] = sanitize(r[i])
		}
	}
	t := &table{header: header, rows: rows, indent: "  ", cut: true}
	w.err = t.render(w.out, w.o)
}

// RenderSummary writes a summary report as text: each file, then the TOTAL.
func RenderSummary(out io.Writer, rep *SummaryReport, o TableOptions) error {
	w := &textWriter{out: out, o: o}
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
	return w.err
}

// summary prints one summary (a file or the TOTAL).
func (w *textWriter) summary(s *Summary) {
	title := fmt.Sprintf("TOTAL (%d files)", s.Files)
	if s.File != nil {
		title = s.File.Path
	}
	w.line("== %s ==", title)

	// What must not be missed comes first.
	w.loadedFinding(s)
	if p := s.DTBInitrd; p.Mismatch > 0 {
		w.line("!! DTB INITRD RANGE MISMATCH in %d of %d checked device trees:", p.Mismatch, p.Checked)
		w.line("!! the next kernel would take its initramfs from memory that is not")
		w.line("!! the initrd segment of the call")
		for _, m := range p.Mismatches {
			w.cutLine(fmt.Sprintf("!!   call %d at %s: %s", m.CallID, textTime(m.Time), m.Detail))
		}
	}
	if p := s.Purgatory; p.Mismatch > 0 {
		w.line("!! PURGATORY DIGEST MISMATCH in %d of %d checked kexec_load calls:", p.Mismatch, p.Checked)
		w.line("!! the captured segments are NOT what purgatory will verify at boot")
		w.line("!! (segments changed after they were read: a race or tampering).")
		for _, m := range p.Mismatches {
			w.cutLine(fmt.Sprintf("!!   call %d at %s:", m.CallID, textTime(m.Time)))
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
			{"sha256", cmp.Or(s.File.SHA256, "-")},
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
	w.fileSection(s)
	w.hostSection(s.Host)
	w.timeSection(s.Span)
	w.callSection(s)
	w.payloadSection(s)
	w.dropSection(s)
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

func (w *textWriter) fileSection(s *Summary) {
	f := s.File
	if f == nil {
		w.line("Files: %d", s.Files)
		w.table(nil, integrityRows(s))
		return
	}
	w.line("File")
	rows := [][]string{
		{"size", fmt.Sprintf("%d bytes", f.Size)},
		{"sha256", f.SHA256}, // full even in tables: it goes into case notes
	}
	if s.Host != nil {
		rows = append(rows, []string{"format", fmt.Sprintf("kexecrec capture %s, record layout %d", cmp.Or(f.FormatVersion, "-"), s.Host.RecordLayout)})
	}
	if f.Shipping != "" {
		rows = append(rows, []string{"shipping", f.Shipping})
	}
	w.table(nil, append(rows, integrityRows(s)...))
}

func (w *textWriter) hostSection(h *HostInfo) {
	if h == nil {
		return
	}
	w.line("Host")
	rows := [][]string{
		{"hostname", cmp.Or(h.Hostname, "-")},
		{"machine id", cmp.Or(h.MachineID, "-")},
		{"boot id", cmp.Or(h.BootID, "-")},
		{"kernel", cmp.Or(strings.TrimSpace(h.KernelRelease+" "+h.KernelVersion), "-")},
		{"arch", cmp.Or(h.Arch, "-")},
		{"recorder", cmp.Or(h.RecorderVersion, "-")},
		{"attach mode", cmp.Or(h.AttachMode, "-")},
	}
	if h.SetID != "" {
		rows = append(rows, []string{"set", fmt.Sprintf("%s part %d", w.hash(h.SetID), h.Part)})
	}
	for _, n := range NoteLines(h.Notes) {
		rows = append(rows, []string{"note", n})
	}
	for i, k := range slices.Sorted(maps.Keys(h.Options)) {
		label := ""
		if i == 0 {
			label = "options"
		}
		rows = append(rows, []string{label, k + "=" + h.Options[k]})
	}
	w.table(nil, rows)
}

func (w *textWriter) timeSection(sp Span) {
	w.line("Time")
	end := "- (no trailer)"
	if !sp.RecordEnd.IsZero() {
		end = textTime(sp.RecordEnd)
	}
	rows := [][]string{
		{"first call", textTime(sp.FirstCall)},
		{"last call", textTime(sp.LastCall)},
		{"recording start", textTime(sp.RecordStart)},
		{"recording end", end},
	}
	if !sp.RecordStart.IsZero() && !sp.RecordEnd.IsZero() {
		rows = append(rows, []string{"duration", sp.RecordEnd.Sub(sp.RecordStart).String()})
	}
	w.table(nil, rows)
}

func (w *textWriter) callSection(s *Summary) {
	w.line("Calls: %d", s.Calls)
	w.counts("SYSCALL", s.BySyscall)
	w.counts("OUTCOME", s.ByOutcome)
	w.counts("ERRNO", s.ByErrno)
	w.counts("PROCESS (COMM EXE)", s.ByProcess)
	w.counts("USER", s.ByUser)
	w.counts("EXECUTABLE", s.ByExecutable)
	w.counts("TOP ANCESTOR (COMM EXE)", s.ByTopAncestor)
}

func (w *textWriter) payloadSection(s *Summary) {
	w.line("Payloads: %d distinct, %d references, %d truncated", len(s.Payloads), s.PayloadRefs, s.Truncated)
	var rows [][]string
	for _, p := range s.Payloads {
		what := cmp.Or(p.What, p.Type)
		if !p.Complete {
			what = fmt.Sprintf("TRUNCATED %d of %d bytes; %s", p.Size, p.Total, what)
		}
		rows = append(rows, []string{w.hash(p.SHA256), fmt.Sprint(p.Size), fmt.Sprint(p.Uses),
			strings.Join(p.Kinds, ","), cmp.Or(what, "-")})
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
	if p := s.DTBInitrd; p.Checked > 0 {
		w.line("DTB initrd range: %d checked, %d match, %d MISMATCH", p.Checked, p.Match, p.Mismatch)
	}
	w.loadedLine(s)
}

func (w *textWriter) dropSection(s *Summary) {
	w.line("Drops and truncation")
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(s.Stats)) {
		rows = append(rows, []string{k, fmt.Sprint(s.Stats[k])})
	}
	if len(rows) == 0 {
		w.line("  no counters in the capture (no STATS chunk)")
	}
	w.table(nil, rows)
	w.policyLines(s)
	if s.Truncated > 0 {
		w.counts("TRUNCATED BECAUSE", s.TruncatedByReason)
	} else {
		w.line("  no truncated payloads")
	}
}

func integrityRows(s *Summary) [][]string {
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
	stop := "UNCLEAN (no trailer: recorder killed or still running)"
	if st.Clean {
		stop = "clean (trailer read)"
	}
	rows := [][]string{
		{"stop", stop},
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
	damage := "none"
	if len(s.Damage) > 0 {
		damage = fmt.Sprintf("%d problems (below)", len(s.Damage))
	}
	return append(rows, []string{"damage", damage})
}

// chainText says whether the hash chain held. Without a trailer there is no
// final head to check the chain against: the format reports ChainOK false,
// but every chunk read still chained to the one before it.
func chainText(s *Summary) string {
	switch {
	case s.Stream.ChainOK:
		return "ok"
	case !s.Stream.Clean && len(s.Damage) == 0:
		return "ok up to the last sealed chunk (no trailer to check the head)"
	}
	return "BROKEN"
}

// counts prints a "calls by X" table.
func (w *textWriter) counts(what string, cs []Count) {
	if len(cs) == 0 {
		return
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{fmt.Sprint(c.Calls), c.Key})
	}
	w.table([]string{"CALLS", what}, rows)
}

// policyLines state the unprivileged policy in force and what it cut, when
// the capture says (captures from recorders without the policy say
// nothing, and nothing is printed for them).
func (w *textWriter) policyLines(s *Summary) {
	if s.Host != nil {
		o := s.Host.Options
		if v, ok := o["unprivileged_snaplen"]; ok {
			opt := func(k string) string { return cmp.Or(o[k], "-") }
			w.cutLine(fmt.Sprintf("  unprivileged policy (bytes, 0 = no bound): snaplen %s, rate %s/s per uid (burst %s), %s/s all uids (burst %s)",
				v, opt("unprivileged_rate"), opt("unprivileged_burst"), opt("unprivileged_total_rate"), opt("unprivileged_total_burst")))
			w.cutLine(fmt.Sprintf("  unprivileged ring share: %s of the ring (%s bytes; 0 = no cap)", opt("unprivileged_ring_share"), opt("unprivileged_ring_bytes")))
		}
	}
	if calls, ok := s.Stats["policy_calls"]; ok {
		w.line("  unprivileged payload cut by policy: %d calls, %d bytes", calls, s.Stats["policy_bytes"])
		if b := s.Stats["policy_bytes"]; b > 0 {
			rate, total, ring := s.Stats["policy_rate_bytes"], s.Stats["policy_total_rate_bytes"], s.Stats["policy_ring_bytes"]
			w.line("    by snaplen %d, per-uid rate %d, all-uid rate %d, ring share %d bytes", b-min(b, rate+total+ring), rate, total, ring)
		}
	}
}
