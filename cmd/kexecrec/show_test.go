package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// Golden files: go test ./cmd/kexecrec -run Golden -update
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/golden")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// cli runs kexecrec in-process and returns exit status, stdout and stderr.
func cli(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func samples(t *testing.T) []string {
	t.Helper()
	s, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "samples", "*.zst"))
	if len(s) == 0 {
		t.Fatal("no sample captures in testdata/samples (go generate ./internal/mksamples)")
	}
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if updatingGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestShowGolden(t *testing.T) {
	for _, s := range samples(t) {
		base := strings.TrimSuffix(filepath.Base(s), ".zst")
		t.Run(base, func(t *testing.T) {
			// --no-identify: the goldens pin the decoder and the layout;
			// identification has its own test (TestShowIdentifies) so that
			// its wording can evolve without rewriting these files.
			code, out, errOut := cli("show", "--no-identify", s)
			for i, l := range strings.Split(out, "\n") {
				if n := len([]rune(l)); n > 80 {
					t.Errorf("table line %d is %d columns: %q", i+1, n, l)
				}
			}
			golden(t, "show-"+base+".txt", out+"--- stderr\n"+errOut+"--- exit "+strconv.Itoa(code)+"\n")

			code, out, errOut = cli("show", "--format", "json", "--no-identify", s)
			var doc []struct {
				File   string            `json:"file"`
				Calls  []json.RawMessage `json:"calls"`
				Status struct {
					Clean   bool `json:"clean"`
					Partial bool `json:"partial"`
				} `json:"status"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc) != 1 || len(doc[0].Calls) == 0 {
				t.Fatalf("json output does not parse into one file with calls: %v\n%s", err, out)
			}
			if doc[0].Status.Partial || code != 0 {
				t.Errorf("sample reported damaged: exit %d %s", code, errOut)
			}
			golden(t, "show-"+base+".json", out)
		})
	}
}

// show reports, for every payload, what identify.Identify says about the
// payload's bytes, in the table (--wide, unwrapped) and in JSON.
func TestShowIdentifies(t *testing.T) {
	for _, s := range samples(t) {
		c, err := replay.Open(s, replay.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The JSON gives each payload's SHA-256; the capture names its blob
		// (the same in format 1.0, the piece-list id in 1.1).
		blobs := map[string]string{}
		if err := c.Calls(func(call *replay.Call) error {
			for _, p := range call.Payloads {
				blobs[p.SHA256] = p.Blob
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// The table pass identifies everything again: only on small
		// samples, to spare CI a second decompression of real kernels.
		table, small := "", false
		if st, err := os.Stat(s); err == nil && st.Size() < 1<<20 {
			_, table, _ = cli("show", "--wide", s)
			small = true
		}
		_, nd, _ := cli("show", "--format", "ndjson", s)
		checked := 0
		for _, line := range strings.Split(strings.TrimSpace(nd), "\n") {
			var call replay.Call
			if err := json.Unmarshal([]byte(line), &call); err != nil {
				t.Fatal(err)
			}
			for _, p := range call.Payloads {
				if p.Captured == 0 {
					continue
				}
				rc, err := c.Payload(blobs[p.SHA256])
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				want := identify.Identify(bytes.NewReader(b), int64(len(b)), identify.Options{})
				if p.Identity == nil || p.Identity.Summary != want.Summary || p.Identity.Type != want.Type {
					t.Errorf("%s call %d %s %d: identity %+v, want %+v", s, call.ID, p.Kind, p.Index, p.Identity, want)
				}
				if small && !strings.Contains(table, sanitizeForTest(want.Summary)) {
					t.Errorf("%s: table lacks %q", s, want.Summary)
				}
				checked++
			}
		}
		c.Close()
		if checked == 0 && !strings.Contains(s, "unclean") {
			t.Errorf("%s: no payload identified", s)
		}
	}
}

// sanitizeForTest mirrors the table's escaping of control characters.
func sanitizeForTest(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
