package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/report"
	"github.com/kexecrec/kexecrec/ship"
)

// uploadedCaptures records a rotated set with --upload, keeping every part
// locally too, and returns each local part with its s3:// URL.
func uploadedCaptures(t *testing.T) (local, remote []string) {
	t.Helper()
	startStore(t)
	useFakeAttach(t, 4)
	dir := t.TempDir()
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "cap.kxr"), "--count", "4", "--rotate-size", "100K",
		"--upload", "s3://evidence/fleet"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	local = wroteFiles(t, errOut.String())
	if len(local) < 2 {
		t.Fatalf("want a rotated set, got %v", local)
	}
	for _, f := range local {
		c, err := replay.Open(f, replay.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		remote = append(remote, "s3://evidence/"+ship.ObjectKey("fleet", c.Header()))
		c.Close()
	}
	return local, remote
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := testIO()
	code := run(args, ios)
	return code, out.String(), errOut.String()
}

// TestReadersOnS3 runs every reading command on the stored objects and on
// the local files: the same output, but for the name.
func TestReadersOnS3(t *testing.T) {
	local, remote := uploadedCaptures(t)
	same := func(t *testing.T, args func(files []string) []string, replace ...string) {
		t.Helper()
		lc, lout, lerr := runCLI(t, args(local)...)
		rc, rout, rerr := runCLI(t, args(remote)...)
		r := strings.NewReplacer(replace...)
		rout, rerr = r.Replace(rout), r.Replace(rerr)
		for i := range local {
			rout = strings.ReplaceAll(rout, remote[i], local[i])
			rerr = strings.ReplaceAll(rerr, remote[i], local[i])
		}
		// A long name is cut to the width; only local parts say where they were shipped.
		lout, rout = dropCaptureLines(lout), dropCaptureLines(rout)
		if lc != rc || lout != rout || lerr != rerr {
			t.Fatalf("%v: local exit %d, s3 exit %d\n--- local:\n%s%s\n--- s3:\n%s%s", args(remote), lc, rc, lout, lerr, rout, rerr)
		}
		if lout == "" {
			t.Fatalf("%v printed nothing", args(local))
		}
	}
	t.Run("show", func(t *testing.T) { same(t, func(f []string) []string { return []string{"show", f[0]} }) })
	t.Run("show json", func(t *testing.T) {
		same(t, func(f []string) []string { return append([]string{"show", "--format", "json"}, f...) })
	})
	t.Run("summarize", func(t *testing.T) { same(t, func(f []string) []string { return append([]string{"summarize"}, f...) }) })
	t.Run("verify", func(t *testing.T) { same(t, func(f []string) []string { return append([]string{"verify"}, f...) }) })
	t.Run("report", func(t *testing.T) {
		// The Markdown report escapes the name as it escapes every string.
		same(t, func(f []string) []string { return []string{"report", f[0], "-o", "-"} },
			report.MarkdownEscape(remote[0]), report.MarkdownEscape(local[0]))
	})
	t.Run("replay", func(t *testing.T) { same(t, func(f []string) []string { return []string{"replay", f[1]} }) })
	t.Run("replay follow", func(t *testing.T) {
		code, _, errOut := runCLI(t, "replay", "--follow", remote[0])
		if code != ExitTrouble || !strings.Contains(errOut, "cannot follow a stored object") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("diff", func(t *testing.T) { same(t, func(f []string) []string { return []string{"diff", f[0], f[1]} }) })
	t.Run("extract", func(t *testing.T) {
		ld, rd := t.TempDir(), t.TempDir()
		same(t, func(f []string) []string {
			d := ld
			if f[0] == remote[0] {
				d = rd
			}
			return []string{"extract", "-d", d, f[0]}
		}, rd, ld)
		for _, name := range []string{"manifest.json"} {
			a, _ := os.ReadFile(filepath.Join(ld, name))
			b, _ := os.ReadFile(filepath.Join(rd, name))
			if string(a) != strings.ReplaceAll(string(b), remote[0], local[0]) || len(a) == 0 {
				t.Errorf("%s differs", name)
			}
		}
		le, _ := os.ReadDir(ld)
		re, _ := os.ReadDir(rd)
		if len(le) != len(re) || len(le) < 2 {
			t.Errorf("extracted %d files locally, %d from s3", len(le), len(re))
		}
	})

	t.Run("prefix", func(t *testing.T) {
		code, out, errOut := runCLI(t, "summarize", "s3://evidence/fleet/")
		t.Logf("summarize s3://evidence/fleet/:\n%s", out)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.HasPrefix(lines[0], "HOST") || !strings.Contains(lines[0], "KERNELS LOADED") || !strings.Contains(lines[0], "VERDICT") {
			t.Fatalf("no fleet table:\n%s", out)
		}
		host, _ := os.Hostname()
		rows := 0
		for _, l := range lines[1:] {
			if strings.Contains(l, "s3://evidence/fleet/") {
				rows++
				if f := strings.Fields(l); f[0] != host || f[5] != "intact" || f[4] != "0" {
					t.Errorf("row %q: want host %s, 0 kernels loaded (every call EPERM), intact", l, host)
				}
			}
		}
		if rows != len(remote) {
			t.Errorf("%d rows for %d captures:\n%s", rows, len(remote), out)
		}
		if !strings.Contains(out, "calls") { // the total follows the table
			t.Errorf("no total after the table:\n%s", out)
		}
		code, out, _ = runCLI(t, "summarize", "--format", "json", "s3://evidence/fleet/")
		if code != ExitOK || !strings.Contains(out, `"fleet": [`) || !strings.Contains(out, `"verdict": "intact"`) {
			t.Errorf("json: exit %d\n%s", code, out)
		}
	})
	t.Run("missing object", func(t *testing.T) {
		code, _, errOut := runCLI(t, "show", "s3://evidence/fleet/nothing.zst")
		if code != ExitTrouble || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "no such object") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		code, _, errOut = runCLI(t, "summarize", "s3://evidence/empty/")
		if code != ExitTrouble || !strings.Contains(errOut, "no captures under this prefix") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// dropCaptureLines removes show's "capture NAME" lines (a long name wraps
// onto the next lines, up to the "host" line), summarize's "shipping"
// lines and the report's "made by ... at TIME" line.
func dropCaptureLines(s string) string {
	var keep []string
	skipping := false
	for _, l := range strings.SplitAfter(s, "\n") {
		switch {
		case strings.HasPrefix(l, "  capture "):
			skipping = true
		case strings.HasPrefix(l, "  shipping ") || strings.HasPrefix(strings.TrimSpace(l), `"shipping": `):
		case strings.HasPrefix(l, "_made by kexecrec "): // the report's time of making
		case skipping && strings.HasPrefix(l, "             "):
		default:
			skipping = false
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
