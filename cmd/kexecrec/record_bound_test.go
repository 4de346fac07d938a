package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/ship"
)

func TestRecordMaxTotalFlagErrors(t *testing.T) {
	useFakeAttach(t, 1)
	out := filepath.Join(t.TempDir(), "c.kxr")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", out, "--max-total", "1G"}, "--max-total needs --rotate-size or --rotate-every"},
		{[]string{"-o", out, "--rotate-size", "64M", "--max-total", "100M"}, "less than two parts of --rotate-size"},
		{[]string{"-o", out, "--rotate-size", "1M", "--max-total", "lots"}, "invalid size \"lots\""},
	} {
		ios, _, errOut := testIO()
		code := runRecordCLI(t, ios, tc.args...)
		if code == ExitOK || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused recording left a file")
	}
}

// With --upload, --max-total removes a part only once its upload is
// confirmed: while the store is down nothing goes, one warning says the
// bound is exceeded; once the store is back the shipped parts go, oldest
// first, and the bound holds again.
func TestRecordMaxTotalRemovesOnlyShippedParts(t *testing.T) {
	srv, c := startStore(t)
	srv.Stop()
	old := shipDrainTimeout
	shipDrainTimeout = 200 * time.Millisecond
	t.Cleanup(func() { shipDrainTimeout = old })
	const maxTotal = 700 << 10
	dir := t.TempDir()
	pattern := filepath.Join(dir, "kexec-{start}.kxr")
	args := []string{"-o", pattern, "--rotate-size", "100K", "--max-total", "700K", "--upload", "s3://evidence/fleet"}

	useFakeAttach(t, 6) // 6 calls of 300 KiB: a part each, 1.8 MB in all
	oldRefresh := statusRefresh
	statusRefresh = 20 * time.Millisecond
	t.Cleanup(func() { statusRefresh = oldRefresh })
	ios, _, errOut := testIO()
	ios.ErrIsTerminal = true // the status line is drawn
	if code := runRecordCLI(t, ios, append(args, "--duration", "1s")...); code != ExitOK {
		t.Fatalf("store down: exit %d: %s", code, errOut)
	}
	first := wroteFiles(t, errOut.String())
	if len(first) != 7 {
		t.Fatalf("store down: wrote %v, want a part per call and the last, empty one", first)
	}
	if !regexp.MustCompile(`calls 6 .*pending 6 .*over_max_total [0-9.]+M`).MatchString(errOut.String()) {
		t.Errorf("store down: the status line does not show over_max_total:\n%q", errOut)
	}
	if n := strings.Count(errOut.String(), "warning: --max-total 716800 bytes exceeded by "); n != 1 {
		t.Errorf("store down: %d warnings about the bound, want 1:\n%s", n, errOut)
	}
	for _, f := range first {
		if _, err := os.Stat(f + ship.PendingSuffix); err != nil {
			t.Errorf("store down: %s removed or not pending: %v", f, err)
		}
	}
	if dirBytes(t, dir) <= maxTotal {
		t.Fatalf("store down: %d bytes on disk: the test needs more than --max-total", dirBytes(t, dir))
	}

	srv.Start()
	time.Sleep(1100 * time.Millisecond) // the next {start} names a new set
	useFakeAttach(t, 1)
	ios, _, errOut = testIO()
	// Running long enough for the uploads of the earlier set and the
	// bound's look at them (once a second while it is exceeded).
	if code := runRecordCLI(t, ios, append(args, "--duration", "4s")...); code != ExitOK {
		t.Fatalf("store back: exit %d: %s", code, errOut)
	}
	second := wroteFiles(t, errOut.String())
	if n := dirBytes(t, dir); n > maxTotal {
		t.Errorf("store back: %d bytes left, over --max-total %d:\n%s", n, maxTotal, errOut)
	}
	if _, err := os.Stat(first[0]); err == nil {
		t.Errorf("store back: the oldest part %s (uploaded) is still there", first[0])
	}
	if _, err := os.Stat(second[len(second)-1]); err != nil {
		t.Errorf("the last part written: %v", err)
	}
	if keys := storedKeys(t, c); len(keys) != len(first)+len(second) {
		t.Errorf("stored %d objects, want the %d parts of both runs (none removed before it was uploaded)", len(keys), len(first)+len(second))
	}
	for _, m := range []string{ship.PendingSuffix, ship.ShippedSuffix} {
		if _, err := os.Stat(first[0] + m); err == nil {
			t.Errorf("the marker %s of a removed part was left behind", first[0]+m)
		}
	}
}

// dirBytes is the size of the capture parts in dir (markers excluded).
func dirBytes(t *testing.T, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ship.PendingSuffix) || strings.HasSuffix(e.Name(), ship.ShippedSuffix) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func TestRecordMinFreeFlagErrors(t *testing.T) {
	useFakeAttach(t, 1)
	out := filepath.Join(t.TempDir(), "c.kxr")
	for _, spec := range []string{"150%", "lots", "-5%", "x%"} {
		ios, _, errOut := testIO()
		code := runRecordCLI(t, ios, "-o", out, "--count", "1", "--min-free", spec)
		if code == ExitOK || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "--min-free") {
			t.Errorf("--min-free %s: exit %d, stderr %q, want one line", spec, code, errOut)
		}
	}
}

// Below half of --min-free the recording stops at once: one error line, a
// file closed with its trailer whose last note says why.
func TestRecordMinFreeStops(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 3<<20+512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	useFakeAttach(t, 1)
	path := filepath.Join(dir, "c.kxr")
	ios, _, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", path, "--min-free", "2M", "--duration", "20s")
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	last := lines[len(lines)-1]
	if code != ExitTrouble || !regexp.MustCompile(`^kexecrec: record: disk guard: [0-9]+ bytes free, below half of --min-free 2097152: stopped; `+
		regexp.QuoteMeta(path)+` is closed with its trailer \([0-9]+ calls recorded\)$`).MatchString(last) {
		t.Fatalf("exit %d, last line %q\n%s", code, last, errOut)
	}
	code, out, _ := runCLI(t, "summarize", "--wide", path)
	if code != ExitOK || !strings.Contains(out, "stop       clean") || !strings.Contains(out, "min_free=2097152") {
		t.Errorf("summarize: exit %d\n%s", code, out)
	}
	if code, out, _ = runCLI(t, "verify", path); code != ExitOK {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	if code, out, _ = runCLI(t, "summarize", "--format", "json", path); code != ExitOK || !strings.Contains(out, "below half of --min-free 2097152: recording stopped") {
		t.Errorf("summarize does not say why the recording stopped: exit %d\n%s", code, out)
	}
}
