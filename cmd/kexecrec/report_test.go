package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay/report"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// reportOut runs the report command in-process with a fixed tool name and
// no generation time, so its output is reproducible.
func reportOut(t *testing.T, format string, files []string, extra func(*reportOptions)) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts := &reportOptions{ios: &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Files: files, Output: "-", Format: format, Tool: "kexecrec test"}
	if extra != nil {
		extra(opts)
	}
	err := runReport(opts)
	return out.String(), err
}

func exitOf(err error) int {
	code, _ := exitCode(err)
	return code
}

// Golden reports, HTML and Markdown, on every committed sample (each
// sample read once for both: identification of a real kernel takes seconds).
func TestReportGolden(t *testing.T) {
	for _, p := range samples(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".zst")
		t.Run(name, func(t *testing.T) {
			pub := strings.TrimSuffix(p, ".zst") + ".pub"
			if !fileExists(pub) {
				pub = ""
			}
			ev, err := gatherEvidence([]string{p}, "", pub, report.MaxCalls)
			if err != nil {
				t.Fatal(err)
			}
			ev.Tool = "kexecrec test"
			if want := !strings.Contains(name, "unclean"); ev.Verified() != want {
				t.Errorf("verified %v, want %v", ev.Verified(), want)
			}
			var html, md bytes.Buffer
			if err := report.HTML(&html, ev); err != nil {
				t.Fatal(err)
			}
			if err := report.Markdown(&md, ev); err != nil {
				t.Fatal(err)
			}
			golden(t, "report-"+name+".html", html.String())
			golden(t, "report-"+name+".md", md.String())
		})
	}
}

// hostileCapture writes a capture whose caller, arguments, files, command
// line and initramfs file names carry markup, terminal escapes and
// Markdown syntax.
func hostileCapture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = w.KexecFileLoad(synth.FileLoad{
		Comm: "\x1b[31m<b>|`*_[x", Exe: "/tmp/<script>alert(1)</script>",
		Argv:       []string{"kexec", "\x1b]0;pwned\x07", "| col | `code` <img src=x onerror=alert(2)>", "[link](http://evil.example/)", "line1\nline2\r"},
		UID:        1000,
		KernelPath: "/boot/<script>k</script>|`x`", InitrdPath: "/boot/\x1b[2Jinit|rd",
		Kernel:  []byte("not a kernel"),
		Initrd:  synth.Cpio(map[string][]byte{"<script>alert(3)</script>": []byte("x"), "a|b`c`\x1b[1m*bold*": []byte("y")}),
		Cmdline: "root=/dev/sda1 init=/bin/sh <svg onload=alert(4)> | `x` \x1b[5m [l](javascript:alert(5))",
		Ret:     -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "hostile.zst", buf.Bytes())
}

// Hostile strings from a capture come out inert: no raw control character,
// no tag, no Markdown syntax, no extra table cell.
func TestReportHostileStringsInert(t *testing.T) {
	p := hostileCapture(t)
	html, err := reportOut(t, "html", []string{p}, nil)
	if code := exitOf(err); code != ExitOK {
		t.Fatalf("html: exit %d: %v", code, err)
	}
	md, err := reportOut(t, "md", []string{p}, nil)
	if code := exitOf(err); code != ExitOK {
		t.Fatalf("md: exit %d: %v", code, err)
	}
	for name, out := range map[string]string{"html": html, "md": md} {
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
			t.Errorf("%s: raw control character at %d: %q", name, i, out[max(0, i-40):min(len(out), i+40)])
		}
	}
	// The strings are there, made printable, not dropped.
	for _, s := range []string{`\x1b[31m`, `\x1b]0;pwned\a`, `line1\nline2\r`, `\x1b[2Jinit|rd`, `\x1b[1m*bold*`} {
		if !strings.Contains(html, s) {
			t.Errorf("html: %q not shown", s)
		}
		if !strings.Contains(md, mdEscapedForm(s)) {
			t.Errorf("md: %q not shown", mdEscapedForm(s))
		}
	}
	// HTML: no element from the capture; the text is there escaped.
	if n := strings.Count(strings.ToLower(html), "<script"); n != 0 {
		t.Errorf("html: %d <script tags", n)
	}
	// Every element is one the template writes; no event handler
	// attribute; every link stays inside the page.
	allowed := map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true,
		"h1": true, "h2": true, "h3": true, "div": true, "section": true, "ul": true, "li": true, "p": true,
		"table": true, "tr": true, "th": true, "td": true, "svg": true, "rect": true, "line": true, "text": true,
		"a": true, "i": true, "span": true}
	for _, m := range regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)`).FindAllStringSubmatch(html, -1) {
		if !allowed[strings.ToLower(m[1])] {
			t.Errorf("html: element <%s> not written by the template", m[1])
		}
	}
	if m := regexp.MustCompile(`<[^>]*\son[a-z]+\s*=`).FindString(html); m != "" {
		t.Errorf("html: event handler attribute in %q", m)
	}
	for _, m := range regexp.MustCompile(`(?:href|src)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("html: link out of the page: %q", m[1])
		}
	}
	for _, good := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(3)&lt;/script&gt;", "&lt;svg onload=alert(4)&gt;"} {
		if !strings.Contains(html, good) {
			t.Errorf("html: escaped %q missing", good)
		}
	}
	// Markdown: every <, `, |, [, *, _ from the capture is backslash-escaped;
	// the only unescaped ones are the report's own table pipes.
	for i, line := range strings.Split(md, "\n") {
		unesc := unescapedMarkdown(line)
		if strings.HasPrefix(line, "|") {
			// A table row: as many unescaped pipes as its header.
			unesc = strings.ReplaceAll(unesc, "|", "")
		}
		if strings.ContainsAny(unesc, "<`[]*|") {
			t.Errorf("md line %d: unescaped markup %q in %q", i+1, unesc, line)
		}
	}
	if !tablesWellFormed(md) {
		t.Errorf("md: a table row has more cells than its header")
	}
	for _, s := range []string{`\<script\>alert\(3\)\<\/script\>`, "a\\|b\\`c\\`", `init\=\/bin\/sh \(runs another program as PID 1\)`} {
		if !strings.Contains(md, s) {
			t.Errorf("md: %q missing", s)
		}
	}
}

// mdEscapedForm is s as MarkdownEscape writes an already printable string.
func mdEscapedForm(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\[]();!*_`|<>=-./:#&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unescapedMarkdown removes every backslash-escaped character and the
// report's own markup (bold markers, list dashes, heading hashes).
func unescapedMarkdown(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) {
			i++
			continue
		}
		b.WriteByte(line[i])
	}
	s := b.String()
	s = strings.ReplaceAll(s, "**", "")
	s = regexp.MustCompile(`^_|_$`).ReplaceAllString(s, "")
	return s
}

// tablesWellFormed: every row of every table has as many unescaped pipes
// as its header row.
func tablesWellFormed(md string) bool {
	pipes := func(l string) int {
		n := 0
		for i := 0; i < len(l); i++ {
			if l[i] == '\\' {
				i++
				continue
			}
			if l[i] == '|' {
				n++
			}
		}
		return n
	}
	header := -1
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") {
			header = -1
			continue
		}
		if header < 0 {
			header = pipes(l)
		} else if pipes(l) != header {
			return false
		}
	}
	return true
}

// A damaged capture still gets a report: NOT verified, what was read.
func TestReportDamagedCapture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", "synthetic-kexec_load.zst"))
	if err != nil {
		t.Fatal(err)
	}
	cut := writeTemp(t, "cut.zst", data[:len(data)*2/3])
	bad := bytes.Clone(data)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0x5a
	}
	flipped := writeTemp(t, "flipped.zst", bad)
	garbage := writeTemp(t, "garbage.zst", []byte("this is not a capture <script>"))
	for _, p := range []string{cut, flipped, garbage} {
		for _, f := range []string{"html", "md"} {
			out, err := reportOut(t, f, []string{p}, nil)
			if code := exitOf(err); code != ExitFinding {
				t.Fatalf("%s %s: exit %d (%v), want %d", filepath.Base(p), f, code, err, ExitFinding)
			}
			if !strings.Contains(out, "NOT VERIFIED") {
				t.Errorf("%s %s: no NOT VERIFIED banner", filepath.Base(p), f)
			}
			if !strings.Contains(out, "FAILED") && !strings.Contains(out, "UNREADABLE") {
				t.Errorf("%s %s: banner does not say which check failed", filepath.Base(p), f)
			}
			// The chain of custody still has the file's own hash.
			sum, _, _ := strings.Cut(mustSha256sum(t, p), " ")
			if !strings.Contains(out, sum) {
				t.Errorf("%s %s: file SHA-256 %s missing", filepath.Base(p), f, sum)
			}
			if p != garbage && !strings.Contains(out, "PARTIAL") && !strings.Contains(out, "UNCLEAN") {
				t.Errorf("%s %s: does not say what was read", filepath.Base(p), f)
			}
		}
	}
}

func mustSha256sum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// --baseline adds the comparison, and a kernel the baseline never loaded is
// a finding.
func TestReportBaseline(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "samples")
	base := filepath.Join(dir, "real-6.1-raw-kexec_file_load.zst")
	inc := filepath.Join(dir, "real-6.1-kprobe-kexec_load.zst")
	for _, f := range []string{"html", "md"} {
		out, err := reportOut(t, f, []string{inc}, func(o *reportOptions) { o.Baseline = base })
		if code := exitOf(err); code != ExitOK {
			t.Fatalf("%s: exit %d: %v", f, code, err)
		}
		for _, s := range []string{"Comparison with the baseline", "Kernels that match no kernel of the baseline", "0 same"} {
			if !strings.Contains(out, s) && !strings.Contains(out, mdEscapedForm(s)) {
				t.Errorf("%s: %q missing", f, s)
			}
		}
		golden(t, "report-baseline."+f, out)
	}
	// The same capture as its own baseline: no kernel finding.
	out, err := reportOut(t, "md", []string{inc}, func(o *reportOptions) { o.Baseline = inc })
	if err != nil || strings.Contains(out, "match no kernel") || !strings.Contains(out, "1 same") {
		t.Errorf("self baseline: %v\n%s", err, out)
	}
}

// The format comes from -o's extension; files are not overwritten.
func TestReportOutputFile(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "samples", "synthetic-kexec_file_load.zst")
	dir := t.TempDir()
	for ext, marker := range map[string]string{".html": "<!DOCTYPE html>", ".md": "# kexec incident report"} {
		out := filepath.Join(dir, "r"+ext)
		if code, _, errOut := cli("report", sample, "-o", out); code != ExitOK {
			t.Fatalf("%s: exit %d: %s", ext, code, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil || !strings.HasPrefix(string(b), marker) {
			t.Errorf("%s: %v, starts %q", ext, err, string(b[:min(len(b), 40)]))
		}
		if code, _, errOut := cli("report", sample, "-o", out); code != ExitTrouble || !strings.Contains(errOut, "exists") {
			t.Errorf("%s: overwrite: exit %d %s", ext, code, errOut)
		}
	}
	if code, out, _ := cli("report", sample, "-o", "-"); code != ExitOK || !strings.HasPrefix(out, "# kexec incident report") {
		t.Errorf("-o -: exit %d, %q", code, out[:min(len(out), 40)])
	}
	if code, out, _ := cli("report", sample, "-o", "-", "--format", "html"); code != ExitOK || !strings.HasPrefix(out, "<!DOCTYPE html>") {
		t.Errorf("-o - --format html: exit %d", code)
	}
	for _, args := range [][]string{{"report", sample}, {"report", sample, "-o", filepath.Join(dir, "r.txt")}, {"report", sample, "-o", "-", "--format", "pdf"}} {
		if code, _, errOut := cli(args...); code != ExitTrouble || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// Several captures in one report: one verdict over all, a custody block
// and a file column for each.
func TestReportSeveralCaptures(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "samples")
	files := []string{filepath.Join(dir, "synthetic-kexec_load.zst"), filepath.Join(dir, "synthetic-unclean.zst")}
	out, err := reportOut(t, "md", files, nil)
	if code := exitOf(err); code != ExitFinding {
		t.Fatalf("exit %d (%v), want %d: one capture does not verify", code, err, ExitFinding)
	}
	for _, s := range []string{"NOT VERIFIED: 1 of 2 capture files", "| file | \\# | time \\(UTC\\)", "UNCLEAN STOP", "check trailer FAILED"} {
		if !strings.Contains(out, s) && !strings.Contains(out, mdEscapedForm(s)) {
			t.Errorf("%q missing", s)
		}
	}
	for _, f := range files {
		if !strings.Contains(out, mdEscapedForm(f)) {
			t.Errorf("no custody block for %s", f)
		}
	}
}

// A capture with more calls than a report keeps: the report lists the first
// report.MaxCalls, says how many more there are and what the summary
// counted over all of them.
func TestReportManyCalls(t *testing.T) {
	var buf bytes.Buffer
	n := report.MaxCalls + 7
	if err := synth.Write(&buf, synth.Options{Calls: n, PayloadBytes: 64}); err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, "many.zst", buf.Bytes())
	out, err := reportOut(t, "md", []string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out, "### Call "); got != report.MaxCalls {
		t.Errorf("%d calls in detail, want %d", got, report.MaxCalls)
	}
	for _, s := range []string{"7 more calls are counted in the summary but not listed here",
		fmt.Sprintf("7 calls after the first %d are not examined here; over all %d calls the summary counts 0 purgatory mismatches and %d failed calls", report.MaxCalls, n, n/7)} {
		if !strings.Contains(out, mdEscapedForm(s)) {
			t.Errorf("%q missing", s)
		}
	}
}
