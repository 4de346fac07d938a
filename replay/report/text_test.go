package report

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"kexec":                 "kexec",
		"\x1b[31mred":           `\x1b[31mred`,
		"a\nb\r\tc\x00":         `a\nb\r\tc\x00`,
		"bidi \u202egnp.exe":    `bidi \u202egnp.exe`,
		"bad \xff utf8":         `bad \xff utf8`,
		"ünïcode stays":         "ünïcode stays",
		"zero\u200bwidth":       `zero\u200bwidth`,
		"line\u2028separator":   `line\u2028separator`,
		"<script>|`*_[x]</a>\\": "<script>|`*_[x]</a>\\",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain words 123":           "plain words 123",
		"a|b":                       `a\|b`,
		"`code`":                    "\\`code\\`",
		"<script>":                  `\<script\>`,
		"[l](javascript:x)":         `\[l\]\(javascript\:x\)`,
		"*b* _i_":                   `\*b\* \_i\_`,
		"\x1b[1m\n":                 `\\x1b\[1m\\n`,
		"&lt; entity":               `\&lt\; entity`,
		"# heading\n- item":         `\# heading\\n\- item`,
		"https://evil.example/path": `https\:\/\/evil\.example\/path`,
	} {
		if got := MarkdownEscape(in); got != want {
			t.Errorf("MarkdownEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// inertMarkdown checks what MarkdownEscape promises: no control character
// and no ASCII punctuation without a backslash before it.
func inertMarkdown(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("MarkdownEscape(%q) is not UTF-8", in)
	}
	escaped := false
	for _, r := range out {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			t.Fatalf("MarkdownEscape(%q) = %q has control %U", in, out, r)
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
			t.Fatalf("MarkdownEscape(%q) = %q: %q not escaped", in, out, r)
		}
	}
	if escaped {
		t.Fatalf("MarkdownEscape(%q) = %q ends in a lone backslash", in, out)
	}
}

func FuzzMarkdownEscape(f *testing.F) {
	for _, s := range []string{"", "a|b", "\x1b[31m<b>|`*_[x", "\xff\xfe", "\\", "\u202e", "line\nbreak", "[x](y)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inertMarkdown(t, s, MarkdownEscape(s))
		p := Printable(s)
		if strings.ContainsFunc(p, unsafeRune) || !utf8.ValidString(p) {
			t.Fatalf("Printable(%q) = %q is not printable", s, p)
		}
	})
}

func TestRiskyArgs(t *testing.T) {
	got := RiskyArgs("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro init=/bin/sh quiet selinux=0 single rdinit=/x initrd=/boot/i singleton")
	want := []string{"init=/bin/sh", "selinux=0", "single", "rdinit=/x"}
	if len(got) != len(want) {
		t.Fatalf("RiskyArgs = %q, want %d hits", got, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+" (") {
			t.Errorf("hit %d = %q, want %s (...)", i, got[i], w)
		}
	}
	if r := RiskyArgs("root=/dev/vda1 ro console=ttyS0 initrd=/x singleuser"); len(r) != 0 {
		t.Errorf("false positives: %q", r)
	}
}
