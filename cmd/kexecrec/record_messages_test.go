package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/replay"
)

// plainSource is a fake source that states its limitations in plain words,
// as the BPF source does.
type plainSource struct {
	*recorder.FakeSource
	limits []recorder.Limitation
}

func (p plainSource) Limitations() []recorder.Limitation { return p.limits }

// record prints one plain line per limitation; the error chain only with
// -v, and always in the capture's notes.
func TestRecordLimitationLines(t *testing.T) {
	limits := []recorder.Limitation{
		{Plain: "x32 kexec_load calls will not be seen: this kernel has no such function to kprobe", Detail: "no kprobe hook on __x32_compat_sys_kexec_load: token not found"},
		{Plain: "kexec_file_load's files will not be captured: this kernel refuses fentry there and has no kprobes", Detail: "no hook on security_kernel_post_read_file (fentry: EPERM; kprobe: no tracefs)"},
	}
	old := attach
	t.Cleanup(func() { attach = old })
	attach = func(recorder.AttachConfig) (recorder.Source, error) {
		var details []string
		for _, l := range limits {
			details = append(details, l.Detail)
		}
		src := recorder.NewFakeSource("raw", 1024, details...)
		for _, r := range fakeCall(1, 1000) {
			src.Push(r)
		}
		return plainSource{src, limits}, nil
	}
	for _, verbose := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "cap.zst")
		args := []string{"-o", path, "--count", "1"}
		if verbose {
			args = append(args, "-v")
		}
		ios, _, errOut := testIO()
		if code := runRecordCLI(t, ios, args...); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		want := []string{"kexecrec: attach mode raw; recording to " + path}
		for _, l := range limits {
			want = append(want, "kexecrec: warning: "+l.Plain)
			if verbose {
				want = append(want, "kexecrec:   because: "+l.Detail)
			}
		}
		if len(lines) != len(want)+1 || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") ||
			!strings.Contains(lines[len(want)], "1 calls recorded") {
			t.Errorf("-v %v: stderr\n%s\nwant\n%s\n(then the summary line)", verbose, errOut, strings.Join(want, "\n"))
		}
		c, err := replay.Open(path, replay.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		notes := c.HeaderNotes()
		c.Close()
		if len(notes) != 2 || notes[0].Message != limits[0].Detail || notes[1].Message != limits[1].Detail {
			t.Errorf("capture notes %+v, want the details", notes)
		}
	}
}

// On this kernel (no kprobes, fentry refused on
// security_kernel_post_read_file) the real recorder says so in plain words,
// the chain only with -v, and keeps the chain in the capture.
func TestRecordRealLimitationLines(t *testing.T) {
	testenv.Root(t)
	for _, verbose := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "cap.zst")
		args := []string{"-o", path, "--attach", "raw", "--duration", "100ms"}
		if verbose {
			args = append(args, "--verbose")
		}
		ios, _, errOut := testIO()
		if code := runRecordCLI(t, ios, args...); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		stderr := errOut.String()
		var warnings, because []string
		for _, l := range strings.Split(stderr, "\n") {
			if s, ok := strings.CutPrefix(l, "kexecrec: warning: "); ok {
				warnings = append(warnings, s)
			}
			if s, ok := strings.CutPrefix(l, "kexecrec:   because: "); ok {
				because = append(because, s)
			}
		}
		c, err := replay.Open(path, replay.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		notes := c.HeaderNotes()
		c.Close()
		if len(notes) == 0 {
			testenv.Skip(t, "this kernel offers every hook: no limitation to state")
		}
		if len(warnings) != len(notes) {
			t.Fatalf("%d warning lines for %d notes in the capture:\n%s", len(warnings), len(notes), stderr)
		}
		for i, w := range warnings {
			if len(w) > 200 || strings.Contains(w, "load program") || strings.Contains(w, "tracefs") {
				t.Errorf("warning is not plain: %q", w)
			}
			if !strings.Contains(notes[i].Message, ":") || notes[i].Message == w {
				t.Errorf("note %d keeps no error chain: %q", i, notes[i].Message)
			}
		}
		if verbose && strings.Join(because, "\n") != strings.Join(noteMessages(notes), "\n") {
			t.Errorf("-v: because lines %q, want the notes %q", because, noteMessages(notes))
		}
		if !verbose && len(because) != 0 {
			t.Errorf("error chain printed without -v: %q", because)
		}
	}
}

func noteMessages(notes []replay.Note) []string {
	var s []string
	for _, n := range notes {
		s = append(s, n.Message)
	}
	return s
}
