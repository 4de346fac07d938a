package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
)

// The caller facts read at syscall entry (cwd, tty, ancestry with exe
// paths) reach the per-call section of both formats, and a hostile comm in
// the ancestry stays text.
func TestReportCallerAncestry(t *testing.T) {
	cl := replay.Caller{PID: 1322, Comm: "kexec", Exe: "/usr/sbin/kexec", Cwd: "/root",
		TTY: &replay.TTY{Name: "pts0", Major: 136, Minor: 0},
		Ancestors: []replay.Ancestor{
			{PID: 1201, Comm: "bash", Exe: "/usr/bin/bash"},
			{PID: 812, Comm: "<script>x\x1b[2J|`", Exe: "/usr/sbin/sshd"},
		}}
	e := &Evidence{Captures: []*Capture{{Path: "c.zst", Calls: []*replay.Call{
		{ID: 1, Syscall: "kexec_load", Outcome: "error", Errno: "EPERM", Ret: ret(-1), Caller: cl},
	}}}}
	var md, html bytes.Buffer
	if err := Markdown(&md, e); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&html, e); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": html.String()} {
		for _, want := range []string{"ancestry", "bash(1201", "/usr/bin/bash", "cwd", "pts0 (136:0)"} {
			if !strings.Contains(out, want) && !strings.Contains(out, MarkdownEscape(want)) {
				t.Errorf("%s: no %q in the call section", name, want)
			}
		}
		if strings.Contains(out, "\x1b") || strings.Contains(out, "<script>x") {
			t.Errorf("%s: hostile ancestor comm not inert", name)
		}
	}
}
