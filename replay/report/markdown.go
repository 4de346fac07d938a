package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Markdown writes the report as GitHub-flavoured Markdown for a ticket: the
// same sections as the HTML, tables as GFM tables. Every text from the
// view goes through MarkdownEscape; only the report's own structure is
// written as Markdown.
func Markdown(w io.Writer, e *Evidence) error {
	v := newView(e)
	m := &mdWriter{w: bufio.NewWriter(w)}
	m.line("# %s", esc(v.Title))
	m.line("")
	meta := "made by " + v.Tool
	if v.Generated != "" {
		meta += " at " + v.Generated
	}
	m.line("_%s_", esc(meta))
	m.line("")

	mark := "✅"
	if !v.Verdict.Verified {
		mark = "❌"
	}
	m.line("> %s **%s**", mark, esc(v.Verdict.Headline))
	m.line(">")
	for _, l := range v.Verdict.Lines {
		m.line("> - %s", esc(l))
	}
	m.line("")

	m.line("## Findings")
	m.line("")
	if len(v.Findings) == 0 {
		m.line("No findings in the calls read: no purgatory mismatch, no risky command line, no failed attempt, no unusual caller.")
		m.line("")
	}
	for _, f := range v.Findings {
		m.line("**%s**: %s", strings.ToUpper(f.Severity), esc(f.Title))
		m.line("")
		for _, it := range f.Items {
			m.line("- %s", esc(it))
		}
		m.line("")
	}

	if d := v.Diff; d != nil {
		m.line("## Comparison with the baseline")
		m.line("")
		m.line("%s", esc(d.Headline))
		m.line("")
		if d.Error != "" {
			m.line("%s", esc(d.Error))
			m.line("")
		}
		for _, c := range d.Changed {
			m.line("### %s", esc(c.Title))
			m.line("")
			for _, l := range c.Lines {
				m.line("- %s", esc(l))
			}
			m.line("")
		}
		m.list("### Only in the baseline", d.OnlyBase)
		m.list("### New: not in the baseline", d.OnlyNew)
	}

	m.line("## Chain of custody")
	m.line("")
	for _, c := range v.Custody {
		m.line("### %s", esc(c.Name))
		m.line("")
		m.kv(c.Rows)
	}

	m.line("## Timeline")
	m.line("")
	if t := v.Timeline; t != nil {
		m.line("%s to %s (%s); the HTML report draws it.", esc(t.Start), esc(t.End), esc(t.Span))
		m.line("")
	}
	m.line("### Calls")
	m.line("")
	if len(v.Calls.Rows) == 0 {
		m.line("No calls were read.")
		m.line("")
	} else {
		m.table(v.Calls)
	}
	if v.CallsNote != "" {
		m.line("%s", esc(v.CallsNote))
		m.line("")
	}

	m.line("## Calls in detail")
	m.line("")
	for _, d := range v.Details {
		m.line("### %s", esc(d.Title))
		m.line("")
		m.kv(d.Rows)
		if len(d.Segments.Rows) > 0 {
			m.table(d.Segments)
		}
		for _, ir := range d.Initramfs {
			m.line("%s", esc(ir.Title))
			m.line("")
			m.table(ir.Files)
		}
		m.list("Problems the decoder met:", d.Problems)
	}
	return m.flush()
}

// esc is MarkdownEscape, short for the renderer.
func esc(s string) string { return MarkdownEscape(s) }

type mdWriter struct {
	w   *bufio.Writer
	err error
}

func (m *mdWriter) line(format string, a ...any) {
	if m.err != nil {
		return
	}
	_, m.err = fmt.Fprintf(m.w, format+"\n", a...)
}

func (m *mdWriter) list(title string, items []string) {
	if len(items) == 0 {
		return
	}
	m.line("%s", title)
	m.line("")
	for _, it := range items {
		m.line("- %s", esc(it))
	}
	m.line("")
}

func (m *mdWriter) kv(rows [][2]string) {
	t := tableView{Header: []string{"", ""}}
	for _, r := range rows {
		t.Rows = append(t.Rows, rowView{Cells: []string{r[0], r[1]}})
	}
	m.table(t)
}

func (m *mdWriter) table(t tableView) {
	cells := func(cs []string) string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = esc(c)
		}
		return "| " + strings.Join(out, " | ") + " |"
	}
	m.line("%s", cells(t.Header))
	m.line("|%s", strings.Repeat(" --- |", len(t.Header)))
	for _, r := range t.Rows {
		m.line("%s", cells(r.Cells))
	}
	m.line("")
}

func (m *mdWriter) flush() error {
	if m.err != nil {
		return m.err
	}
	return m.w.Flush()
}
