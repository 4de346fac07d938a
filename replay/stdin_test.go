package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stdinSample is small: identifying its payloads takes no time (the real
// samples' kernels hit identify's decompression time limit under -race,
// and that would differ between two passes).
const stdinSample = "../testdata/samples/synthetic-kexec_load.zst"

// callsOf decodes every call of a capture (payloads identified) into its
// JSON lines, the form readers print.
func callsOf(t *testing.T, path string, o OpenOptions) (string, []string, []string) {
	t.Helper()
	o.Identify = true
	c, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	if err := c.Calls(func(call *Call) error { return RenderJSON(&out, call) }); err != nil {
		t.Fatal(err)
	}
	damage, warnings := c.Trouble()
	return out.String(), damage, warnings
}

// A capture read from standard input decodes exactly as the file does,
// payload bytes included, and the private copy leaves nothing in the
// temporary directory, even while it is in use.
func TestStdinDecodesLikeTheFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	want, _, _ := callsOf(t, stdinSample, OpenOptions{})
	f, err := os.Open(stdinSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := NewStdin(f, 0)
	defer in.Close()
	got, damage, _ := callsOf(t, StdinName, OpenOptions{Stdin: in})
	if got != want || len(damage) > 0 {
		t.Errorf("from stdin (damage %v):\n%s\nfrom the file:\n%s", damage, got, want)
	}
	if !strings.Contains(got, `"sha256"`) || !strings.Contains(got, `"identity"`) {
		t.Errorf("payloads not identified through the copy: %s", got)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the copy of stdin is visible in TMPDIR: %v", ents)
	}
	// A second pass reads the copy: the same again.
	again, _, _ := callsOf(t, StdinName, OpenOptions{Stdin: in})
	if again != want {
		t.Error("second pass over stdin differs")
	}
}

// The copy is private: mode 0600 while it exists (it is unlinked at once;
// its descriptor is what is checked).
func TestStdinCopyIsPrivate(t *testing.T) {
	in := NewStdin(strings.NewReader("0123456789"), 0)
	defer in.Close()
	if _, n, err := in.All(); err != nil || n != 10 {
		t.Fatalf("All: %d %v", n, err)
	}
	fi, err := in.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("copy mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), fi.Name())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("copy still has a name: %v", err)
	}
}

// Past the limit reading stops with one line that says what to do; the
// capture reports that, not damage of the file.
func TestStdinLimit(t *testing.T) {
	f, err := os.Open("../testdata/samples/real-6.1-kprobe-kexec_load.zst") // 8 MiB
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := NewStdin(f, 1<<20)
	defer in.Close()
	c, err := Open(StdinName, OpenOptions{Stdin: in, Salvage: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Calls(func(*Call) error { return nil })
	damage, _ := c.Trouble()
	if len(damage) != 1 || !strings.Contains(damage[0], "larger than the limit") || !strings.Contains(damage[0], "1 MiB") ||
		!strings.Contains(damage[0], "save it to a file") || strings.Contains(damage[0], "\n") {
		t.Errorf("damage %q, want the one-line limit error", damage)
	}
	if in.Size() > 1<<20 {
		t.Errorf("copy grew to %d bytes past the 1 MiB limit", in.Size())
	}
	if _, _, err := in.All(); !errors.Is(err, ErrStdinLimit) {
		t.Errorf("All after the limit: %v", err)
	}
}

// Readers report the limit as a problem of the input, not as damage of the
// capture (the CLI then prints no "DAMAGED:" label for it).
func TestStdinLimitIsNotDamage(t *testing.T) {
	f, err := os.Open("../testdata/samples/real-6.1-kprobe-kexec_load.zst") // 8 MiB
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := NewStdin(f, 1<<20)
	defer in.Close()
	var kinds []string
	bad, err := Show(io.Discard, []string{StdinName}, ShowOptions{Format: "ndjson", Stdin: in,
		Problem: func(_, kind, _ string) { kinds = append(kinds, kind) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || len(kinds) != 1 || kinds[0] != "input" {
		t.Errorf("bad %v, problem kinds %v; want one problem of kind input", bad, kinds)
	}
}

// Without a Stdin, "-" is refused in one line.
func TestStdinNotOffered(t *testing.T) {
	if _, err := Open(StdinName, OpenOptions{}); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("Open(-) without Stdin: %v", err)
	}
	if _, err := OpenInput(StdinName, nil); err == nil {
		t.Error("OpenInput(-) without Stdin succeeded")
	}
}

// A pipe is decoded as it arrives: the first call comes out before the
// writer has finished, and payload bytes already passed are served while
// the stream waits for more.
func TestStdinStreamsAPipe(t *testing.T) {
	data, err := os.ReadFile("../testdata/samples/synthetic-kexec_load.zst")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	in := NewStdin(pr, 0)
	defer in.Close()
	// Everything but the last 16 bytes (in the trailer): every call is whole.
	go pw.Write(data[:len(data)-16])
	c, err := Open(StdinName, OpenOptions{Stdin: in})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The callback runs on the decoding goroutine, as identification does.
	type firstCall struct {
		call *Call
		n    int64
		err  error
	}
	first := make(chan firstCall, 1)
	done := make(chan error, 1)
	go func() {
		seen := false
		done <- c.Calls(func(call *Call) error {
			if seen {
				return nil
			}
			seen = true
			fc := firstCall{call: call}
			if len(call.Payloads) == 0 || call.Payloads[0].SHA256 == "" {
				fc.err = errors.New("first call has no payload")
			} else if rc, err := c.Payload(call.Payloads[0].Blob); err != nil {
				fc.err = err
			} else {
				fc.n, fc.err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			first <- fc
			return nil
		})
	}()
	select {
	case fc := <-first:
		if fc.err != nil || uint64(fc.n) != fc.call.Payloads[0].Captured {
			t.Fatalf("payload of the first call while the pipe is open: %d bytes, %v", fc.n, fc.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no call decoded while the pipe stayed open")
	}
	go func() {
		pw.Write(data[len(data)-16:])
		pw.Close()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !c.Status().Clean {
		t.Error("trailer not read once the pipe closed")
	}
}

// A follower of standard input stops when told, even while the pipe stays
// open and silent.
func TestStdinFollowStopsOnCancel(t *testing.T) {
	data, err := os.ReadFile("../testdata/samples/synthetic-kexec_load.zst")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(data[:len(data)-16]) // never the end of the trailer, never closed
	in := NewStdin(pr, 0)
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := Open(StdinName, OpenOptions{Stdin: in, Follow: true, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		n := 0
		c.Calls(func(*Call) error {
			if n++; n == 3 {
				close(all)
			}
			return nil
		})
		done <- n
	}()
	select {
	case <-all: // every call of the sample; now the pipe is silent
	case <-time.After(20 * time.Second):
		t.Fatal("the sample's 3 calls were not decoded")
	}
	cancel()
	select {
	case n := <-done:
		if n != 3 {
			t.Errorf("%d calls, want the sample's 3", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Calls still waits for input after the cancel")
	}
}
