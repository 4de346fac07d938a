package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
)

const committed = "../../testdata/samples"

// TestSamplesUpToDate: the committed samples are exactly what the generator
// makes (run `go generate ./internal/mksamples`).
func TestSamplesUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 7 {
		t.Fatalf("generated %d files", len(files))
	}
	for _, p := range files {
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join(committed, filepath.Base(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed sample (%v): regenerate", filepath.Base(p), err)
		}
	}
}

// TestSamplesContract: the samples pass the content contract's checks and
// hold the calls the generator means them to.
func TestSamplesContract(t *testing.T) {
	for _, name := range []string{"synthetic-kexec_load.zst", "synthetic-kexec_file_load.zst", "synthetic-unclean.zst",
		"synthetic-signed.zst", "synthetic-kexec_load-1.1.zst"} {
		data, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(bytes.NewReader(data), format.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := content.Check(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Payloads == 0 || res.EndPairs != res.Payloads {
			t.Fatalf("%s: %+v: every payload should follow its PAYLOAD_END", name, res)
		}
		h := r.Header()
		if h.AttachMode != "fentry" || h.BootStartNS == 0 || h.WallStart.IsZero() {
			t.Fatalf("%s: header %+v", name, h)
		}
		st := r.Status()
		if clean := name != "synthetic-unclean.zst"; st.Clean != clean {
			t.Fatalf("%s: clean %v", name, st.Clean)
		}
		if r.Stats()["calls"] == 0 {
			t.Fatalf("%s: no stats", name)
		}
		byType := st.ChunksByType
		enters, exits := countTypes(t, data, layout.RecEnter), countTypes(t, data, layout.RecExit)
		if strings.HasPrefix(name, "synthetic-kexec_load") && (enters != 3 || exits != 3 || res.Payloads != 11 || len(r.Blobs()) != 5) {
			t.Fatalf("%s: %d enters %d exits %d payloads %d blobs (%v)", name, enters, exits, res.Payloads, len(r.Blobs()), byType)
		}
		if name == "synthetic-unclean.zst" && enters != exits+1 {
			t.Fatalf("%s: want one unfinished call", name)
		}
	}
}

// countTypes counts the records of type typ in a capture.
func countTypes(t *testing.T, data []byte, typ uint16) int {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(data), format.ReaderOptions{SkipBlobData: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Type == typ {
			n++
		}
	}
}
