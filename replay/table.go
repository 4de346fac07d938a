package replay

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// table is the one borderless table style of the text output (aligned
// columns, a header rule, nothing else, like kubectl or docker ps). The
// last column is free text and takes what the others leave of the width:
// wrapped onto more lines (call details) or, with cut, shortened with
// "..." to keep one line per row (summaries). tablewriter's own MaxWidth
// shrinks the wrong columns, so the fitting is done here.
type table struct {
	header []string
	rows   [][]string
	// indent goes before every line; the columns start right after it
	// (without indent the first column has a one-space margin).
	indent string
	// cut: shorten the last column instead of wrapping it.
	cut bool
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// render writes the table fitted to o's width (unless o.Wide).
func (t *table) render(w io.Writer, o TableOptions) error {
	if len(t.rows) == 0 {
		return nil
	}
	if !o.Wide {
		t.fitLastColumn(o.width())
	}
	// Columns are two spaces apart; the first starts one space in unless
	// the table is indented.
	pad := tw.Padding{Left: " ", Right: " ", Overwrite: true}
	if t.indent != "" {
		pad = tw.Padding{Left: "", Right: "  ", Overwrite: true}
	}
	var buf strings.Builder
	tb := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleASCII),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
				Alignment: tw.CellAlignment{Global: tw.AlignLeft}},
			Row: tw.CellConfig{Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment: tw.CellAlignment{Global: tw.AlignLeft}},
		}),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(pad),
	)
	if t.header != nil {
		tb.Header(t.header)
	}
	for _, r := range t.rows {
		if err := tb.Append(r); err != nil {
			return err
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	// tablewriter pads every cell: trailing blanks only make diffs noisy.
	// The header rule runs as long as the widest line, not the padding.
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	widest := 0
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
		if !isRule(lines[i]) {
			widest = max(widest, utf8.RuneCountInString(lines[i]))
		}
	}
	for _, l := range lines {
		if isRule(l) {
			l = strings.Repeat("-", widest)
		}
		if _, err := fmt.Fprintln(w, t.indent+l); err != nil {
			return err
		}
	}
	return nil
}

func isRule(l string) bool { return l != "" && strings.Trim(l, "-") == "" }

// fitLastColumn makes the last column fit what the others leave of width.
func (t *table) fitLastColumn(width int) {
	n := len(t.rows[0])
	if t.header != nil {
		n = len(t.header)
	}
	colWidth := func(col int) int {
		cw := 0
		if t.header != nil {
			cw = utf8.RuneCountInString(t.header[col])
		}
		for _, r := range t.rows {
			for l := range strings.SplitSeq(r[col], "\n") {
				cw = max(cw, utf8.RuneCountInString(l))
			}
		}
		return cw
	}
	used := len(t.indent)
	for col := range n - 1 {
		used += colWidth(col) + 2
	}
	if t.cut {
		room := max(width-used, 12)
		for _, r := range t.rows {
			r[n-1] = cutRunes(r[n-1], room)
		}
		return
	}
	last := max(width-used-2, 12)
	for _, r := range t.rows {
		r[n-1] = strings.Join(wrap(r[n-1], last), "\n")
	}
}

// wrap cuts s into lines of at most width bytes, at spaces when it can.
func wrap(s string, width int) []string {
	var out []string
	for len(s) > width {
		cut := width
		if i := strings.LastIndexByte(s[:width+1], ' '); i > width/3 {
			cut = i
		}
		out = append(out, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(out, s)
}
