package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/synth"
)

func sample(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "testdata", "samples", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("sample %s missing: %v", name, err)
	}
	return p
}

// badFiles derives broken captures from a good one.
func badFiles(t *testing.T) map[string]string {
	t.Helper()
	good, err := os.ReadFile(sample(t, "synthetic-kexec_load.zst"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte(strings.Repeat("not a capture at all ", 50)),
		"truncated": good[:len(good)*2/3],
		"header":    good[:40],
	}
	flipped := append([]byte(nil), good...)
	for i := len(flipped) / 2; i < len(flipped)/2+64; i++ {
		flipped[i] ^= 0x5a
	}
	files["damaged"] = flipped
	out := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name+".zst")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	out["missing"] = filepath.Join(dir, "does-not-exist.zst")
	out["directory"] = dir
	return out
}

// Every reading command on every broken file: a clear error on stderr, exit
// 2, never a panic; what could be read is shown and marked partial.
func TestReadingCommandsOnBrokenFiles(t *testing.T) {
	for name, path := range badFiles(t) {
		for _, cmd := range [][]string{
			{"show", path},
			{"show", "--format", "json", path},
			{"show", "--format", "ndjson", path},
			{"replay", path},
			{"extract", "-d", filepath.Join(t.TempDir(), "x"), path},
		} {
			t.Run(name+"/"+strings.Join(cmd[:len(cmd)-1], " "), func(t *testing.T) {
				code, out, errOut := cli(cmd...)
				if code != ExitTrouble {
					t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, ExitTrouble, out, errOut)
				}
				if errOut == "" || !strings.HasPrefix(errOut, "kexecrec: ") {
					t.Errorf("no clear error on stderr: %q", errOut)
				}
				if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
					t.Errorf("panic: %s", errOut)
				}
				if cmd[0] == "show" && len(cmd) == 2 && (name == "truncated" || name == "damaged") {
					if !strings.Contains(out, "PARTIAL: the capture is damaged") || !strings.Contains(errOut, "DAMAGED") {
						t.Errorf("partial output not marked:\n%s\n%s", out, errOut)
					}
				}
				if cmd[0] == "show" && cmd[1] == "--format" && cmd[2] == "json" && name == "truncated" {
					var doc []map[string]any
					if err := json.Unmarshal([]byte(out), &doc); err != nil {
						t.Fatalf("json of a truncated file does not parse: %v\n%s", err, out)
					}
					if st, _ := doc[0]["status"].(map[string]any); st == nil || st["partial"] != true {
						t.Errorf("json not marked partial: %v", doc[0]["status"])
					}
				}
			})
		}
	}
}

func TestShowTruncatedShowsWhatItCan(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Calls: 30, PayloadBytes: 300, SealEvery: 1}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.zst")
	if err := os.WriteFile(p, buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli("show", "--no-identify", p)
	n := strings.Count(out, "=== call ")
	if code != ExitTrouble || n < 5 || n >= 30 || !strings.Contains(out, "PARTIAL") || !strings.Contains(errOut, "DAMAGED") {
		t.Errorf("exit %d, %d calls shown of the readable half\n%s\n%s", code, n, out, errOut)
	}
}

func TestShowUncleanExitsZeroWithWarning(t *testing.T) {
	code, out, errOut := cli("show", sample(t, "synthetic-unclean.zst"))
	if code != ExitOK || !strings.Contains(errOut, "warning: no trailer") || !strings.Contains(out, "UNFINISHED") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestShowFilters(t *testing.T) {
	s := sample(t, "synthetic-kexec_load.zst")
	count := func(args ...string) int {
		t.Helper()
		code, out, errOut := cli(append(append([]string{"show", "--format", "ndjson", "--no-identify"}, args...), s)...)
		if code != 0 {
			t.Fatalf("show %v: exit %d %s", args, code, errOut)
		}
		return strings.Count(out, "\n")
	}
	all := count()
	if all != 3 {
		t.Fatalf("sample has %d calls, this test expects 3", all)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--failed"}, 1},
		{[]string{"--pid", "5151"}, 1},
		{[]string{"--pid", "4242,5151"}, 3},
		{[]string{"--comm", "loader"}, 1},
		{[]string{"--uid", "1000"}, 1},
		{[]string{"--syscall", "kexec_file_load"}, 0},
		{[]string{"--syscall", "load"}, 3},
		{[]string{"--since", "2026-11-20T10:00:00.0012Z"}, 1},
		{[]string{"--until", "2026-11-20T10:00:00.0012Z"}, 2},
		{[]string{"--since", "1100us"}, 2},
		{[]string{"--since", "1h"}, 0},
	} {
		if got := count(tc.args...); got != tc.want {
			t.Errorf("%v: %d calls, want %d", tc.args, got, tc.want)
		}
	}
	for _, bad := range [][]string{{"--since", "yesterday"}, {"--syscall", "open"}, {"--format", "xml"}, {"--hexdump", "-1"}} {
		code, _, errOut := cli(append(append([]string{"show"}, bad...), s)...)
		if code != ExitTrouble || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}

func TestShowHexdumpAndWide(t *testing.T) {
	s := sample(t, "synthetic-kexec_load.zst")
	code, out, _ := cli("show", "--hexdump", "16", "--wide", "--no-identify", s)
	if code != 0 || !strings.Contains(out, "segment 0: first 16 of 36 bytes") || !strings.Contains(out, "00000000  ") {
		t.Errorf("hexdump missing:\n%s", out)
	}
	// --wide prints whole hashes.
	var call replay.Call
	_, nd, _ := cli("show", "--format", "ndjson", "--no-identify", s)
	if err := json.Unmarshal([]byte(strings.SplitN(nd, "\n", 2)[0]), &call); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, call.Payloads[0].SHA256) {
		t.Errorf("--wide does not show the full SHA-256 %s", call.Payloads[0].SHA256)
	}
}

func TestExtract(t *testing.T) {
	s := sample(t, "synthetic-kexec_file_load.zst")
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := cli("extract", "-d", dir, s)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m replay.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 {
		t.Fatalf("manifest lists %d files", len(m.Files))
	}
	kinds := map[string]bool{}
	for _, e := range m.Files {
		kinds[e.Origin.Kind] = true
		want := strings.Join([]string{itoaU(e.Origin.CallID), e.Origin.Kind + "0", e.SHA256[:12]}, "-") + ".bin"
		if e.File != want || !e.Verified || e.Origin.Syscall != "kexec_file_load" || e.Origin.Comm != "kexec" {
			t.Errorf("entry %+v (want file %s)", e, want)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != e.SHA256 || uint64(len(data)) != e.Size {
			t.Errorf("%s: content does not match its manifest entry", e.File)
		}
	}
	if !kinds["kernel"] || !kinds["initrd"] || !kinds["cmdline"] {
		t.Errorf("kinds %v", kinds)
	}
	// No overwrite without --force.
	before, _ := os.ReadFile(filepath.Join(dir, m.Files[0].File))
	code, _, errOut = cli("extract", "-d", dir, s)
	if code != ExitTrouble || !strings.Contains(errOut, "exists (use --force") {
		t.Errorf("second extract: exit %d %s", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, m.Files[0].File))
	if string(before) != string(after) {
		t.Errorf("file changed without --force")
	}
	if code, _, errOut := cli("extract", "--force", "-d", dir, s); code != 0 {
		t.Errorf("--force: exit %d %s", code, errOut)
	}
	code, out, errOut = cli("extract", "--force", "--format", "json", "-d", dir, s)
	var res replay.ExtractResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res.Calls != 1 || res.Written != 3 ||
		res.Failed != 0 || res.Manifest != filepath.Join(dir, "manifest.json") || len(res.Damage) != 0 {
		t.Errorf("--format json: exit %d %v %+v\n%s%s", code, err, res, out, errOut)
	}
}

func itoaU(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A symlink planted in DIR under a payload's (predictable) name or as
// manifest.json must never be followed: the target outside DIR stays as it
// was, with or without --force.
func TestExtractSymlinkPlanted(t *testing.T) {
	s := sample(t, "synthetic-kexec_file_load.zst")
	probe := filepath.Join(t.TempDir(), "probe")
	if code, _, errOut := cli("extract", "-d", probe, s); code != 0 {
		t.Fatal(errOut)
	}
	names, _ := filepath.Glob(filepath.Join(probe, "*.bin"))
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	os.Mkdir(dir, 0o755)
	for _, n := range append(names, filepath.Join(probe, "manifest.json")) {
		if err := os.Symlink(outside, filepath.Join(dir, filepath.Base(n))); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := cli("extract", "-d", dir, s)
	if code != ExitTrouble || !strings.Contains(errOut, "exists") {
		t.Errorf("planted symlinks: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("extract wrote through a symlink: %q", b)
	}
	if code, _, errOut := cli("extract", "--force", "-d", dir, s); code != 0 {
		t.Fatalf("--force: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("extract --force wrote through a symlink: %q", b)
	}
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, filepath.Base(n)))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: not replaced by a regular file (%v)", n, err)
		}
	}
}

func TestReplayNDJSONMatchesShow(t *testing.T) {
	s := sample(t, "synthetic-kexec_load.zst")
	_, a, _ := cli("replay", s)
	_, b, _ := cli("show", "--format", "ndjson", "--no-identify", s)
	if a == "" || a != b {
		t.Errorf("replay and show ndjson differ:\n%s\n%s", a, b)
	}
	if _, c, _ := cli("replay", "--format", "json", s); c != a {
		t.Errorf("replay --format json is not its NDJSON:\n%s", c)
	}
	code, out, _ := cli("replay", "--format", "table", "--speed", "1000", s)
	if code != 0 || strings.Count(out, "=== call ") != 3 {
		t.Errorf("replay table: exit %d\n%s", code, out)
	}
}

func TestManAndCompletion(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := cli("man", "-d", dir)
	if code != 0 {
		t.Fatalf("man: %d %s", code, errOut)
	}
	for _, p := range []string{"kexecrec.1", "kexecrec-show.1", "kexecrec-extract.1", "kexecrec-replay.1"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || !strings.Contains(string(b), ".TH") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kexecrec-show.1")); !strings.Contains(string(b), "EXAMPLE") {
		t.Errorf("man page of show has no examples")
	}
	code, out, _ := cli("completion", "bash")
	if code != 0 || !strings.Contains(out, "kexecrec") {
		t.Errorf("completion bash: %d", code)
	}
	for _, c := range []string{"show", "replay", "extract"} {
		_, out, _ := cli("help", c)
		if !strings.Contains(out, "Examples:") {
			t.Errorf("help %s has no examples", c)
		}
	}
}

// A purgatory digest that does not match the captured segments must stand
// out in the table and be false in JSON; a matching one says so.
func TestShowPurgatoryVerdict(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		data := synth.Segment{Data: bytes.Repeat([]byte("kernel bytes "), 100), Mem: 0x1000000, MemSz: 0x2000}
		purg := synth.Segment{Data: synth.Purgatory([]synth.Segment{data}, tamper), Mem: 0x9d000000, MemSz: 0x1000}
		var buf bytes.Buffer
		w, err := synth.NewWriter(&buf, synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.KexecLoad([]synth.Segment{data, purg}, 0x9d000010); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "p.zst")
		os.WriteFile(p, buf.Bytes(), 0o644)
		code, out, errOut := cli("show", p)
		if code != 0 {
			t.Fatalf("exit %d %s", code, errOut)
		}
		alarm := strings.Contains(out, "!!! PURGATORY DIGEST MISMATCH")
		if alarm != tamper {
			t.Errorf("tamper=%v: alarm=%v\n%s", tamper, alarm, out)
		}
		if !tamper && !strings.Contains(out, "digest MATCHES") {
			t.Errorf("match not reported:\n%s", out)
		}
		_, nd, _ := cli("show", "--format", "ndjson", p)
		var call replay.Call
		if err := json.Unmarshal([]byte(nd), &call); err != nil {
			t.Fatal(err)
		}
		if call.Purgatory == nil || !call.Purgatory.Found || call.Purgatory.Match == tamper || !call.Purgatory.EntryInPurgatory {
			t.Errorf("tamper=%v: verdict %+v", tamper, call.Purgatory)
		}
	}
}

// replay --follow prints calls appended by a concurrent writer and returns
// by itself at the trailer.
func TestReplayFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f, synth.Options{PayloadBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(); err != nil { // header on disk before the reader starts
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range 12 {
			if err := w.Call(); err != nil {
				done <- err
				return
			}
			if err := w.Seal(); err != nil {
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	var out, errOut bytes.Buffer
	opts := &replayOptions{IO: &IOStreams{Out: &out, ErrOut: &errOut}, File: path, Format: "ndjson",
		Follow: true, Poll: 5 * time.Millisecond, ctx: ctx}
	if err := runReplay(opts); err != nil {
		t.Fatalf("%v %s", err, errOut.String())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("replay --follow did not stop at the trailer")
	}
	if n := strings.Count(out.String(), "\n"); n != 12 {
		t.Errorf("%d calls printed, want 12\n%s", n, errOut.String())
	}
}
