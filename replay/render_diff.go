package replay

import (
	"cmp"
	"fmt"
	"io"
	"strings"
)

// RenderDiff writes a diff(1)-like report: the two files, the counts, each
// changed call with what changed, then the calls only in A (-) and only in
// B (+).
func RenderDiff(out io.Writer, r *DiffResult, o TableOptions) error {
	w := &textWriter{out: out, o: o}
	stop := func(unclean bool) string {
		if unclean {
			return ", unclean stop"
		}
		return ""
	}
	w.line("--- %s (%d calls%s)", r.A, r.CallsA, stop(r.UncleanA))
	w.line("+++ %s (%d calls%s)", r.B, r.CallsB, stop(r.UncleanB))
	w.line("%d same, %d changed, %d only in A, %d only in B", r.Same, len(r.Changed), len(r.OnlyA), len(r.OnlyB))
	for _, c := range r.Changed {
		w.line("")
		w.cutLine(fmt.Sprintf("~ call %d -> call %d: %s by %s", c.A.ID, c.B.ID, c.A.Syscall, diffCaller(c.A)))
		for _, ch := range c.Changes {
			w.cutLine("    " + ch.Text(w.hash))
		}
	}
	for _, side := range []struct {
		title, mark string
		calls       []*CallDigest
	}{{"only in A:", "-", r.OnlyA}, {"only in B:", "+", r.OnlyB}} {
		if len(side.calls) == 0 {
			continue
		}
		w.line("")
		w.line("%s", side.title)
		for _, d := range side.calls {
			w.callLines(side.mark, d)
		}
	}
	return w.err
}

func diffCaller(d *CallDigest) string {
	if d.Exe == "" {
		return d.Comm
	}
	return fmt.Sprintf("%s (%s)", d.Comm, d.Exe)
}

// callLines prints one call: what, who and the result, then what it loaded.
func (w *textWriter) callLines(mark string, d *CallDigest) {
	w.cutLine(fmt.Sprintf("%s call %d: %s by %s -> %s", mark, d.ID, d.Syscall, diffCaller(d), d.ResultText()))
	w.cutLine("    at " + textTime(d.Time))
	detail := "flags " + d.FlagsText()
	if d.Syscall == "kexec_load" {
		detail += fmt.Sprintf(", %d segments", d.NrSegments)
	}
	w.cutLine("    " + detail)
	if len(d.Kernels) > 0 {
		w.cutLine("    kernel " + strings.Join(d.Kernels, ", "))
	}
	if d.Cmdline != "" {
		w.cutLine("    cmdline " + d.Cmdline)
	}
	for _, p := range d.Payloads {
		what := cmp.Or(p.What, p.Type)
		if !p.Complete {
			what = strings.TrimSpace(fmt.Sprintf("TRUNCATED %d of %d bytes %s", p.Size, p.Total, what))
		}
		w.cutLine(strings.TrimRight(fmt.Sprintf("    %s %s %s", p.Name, w.hash(p.SHA256), what), " "))
	}
	if d.Purgatory == "MISMATCH" {
		w.line("    !! PURGATORY DIGEST MISMATCH")
	}
	if d.DTBInitrd == "MISMATCH" {
		w.line("    !! DTB INITRD RANGE MISMATCH")
	}
	if strings.Contains(d.Loaded, VerdictDifferent) {
		w.cutLine("    !! LOADED " + d.Loaded)
	}
}
