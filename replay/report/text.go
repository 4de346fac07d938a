package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable makes a capture string safe to show anywhere: control
// characters (ESC, CR, LF, NUL ...), invalid UTF-8 and the Unicode format
// characters that reorder or hide text (bidi overrides, zero-width joiners)
// are written as Go escapes (\x1b, \n, \u202e). What is left is visible
// text; the renderers then escape it for HTML or Markdown.
func Printable(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i]), 16))
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError ||
		r == '\u2028' || r == '\u2029'
}

// MarkdownEscape makes text inert in GitHub-flavoured Markdown, inside a
// paragraph, a list item or a table cell: every ASCII punctuation character
// gets a backslash (CommonMark lets any of them be escaped so, and GFM's
// table cells take \| as a literal pipe), so no emphasis, code span, link,
// autolink, HTML tag, entity or cell boundary can start. Control
// characters are made printable first, so a line break cannot end the cell.
func MarkdownEscape(s string) string {
	s = Printable(s)
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for _, r := range s {
		if r < 0x80 && unicode.IsPunct(r) || r < 0x80 && unicode.IsSymbol(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
