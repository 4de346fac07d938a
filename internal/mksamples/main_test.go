package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
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
	if len(files) != 5 {
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

// TestSamplesContract: the samples follow the capture content contract.
func TestSamplesContract(t *testing.T) {
	for _, name := range []string{"synthetic-kexec_load.zst", "synthetic-kexec_file_load.zst", "synthetic-unclean.zst", "synthetic-signed.zst"} {
		data, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(bytes.NewReader(data), format.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		if h.ByteOrder != "little" || h.RecordLayout != layout.Version || h.AttachMode != "fentry" || h.BootStartNS == 0 || h.WallStart.IsZero() {
			t.Fatalf("%s: header %+v", name, h)
		}
		var payloads []layout.Payload
		var prev uint16
		enters, exits := 0, 0
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch rec.Type {
			case layout.RecEnter, layout.RecSegments, layout.RecPayloadEnd, layout.RecExit, layout.RecFile:
				hd, err := layout.ParseHeader(rec.Data, binary.LittleEndian)
				if err != nil || hd.Type != rec.Type || int(hd.Size) != len(rec.Data) {
					t.Fatalf("%s: raw record %d: %v size %d/%d", name, rec.Type, err, hd.Size, len(rec.Data))
				}
				if rec.Type == layout.RecEnter {
					enters++
				}
				if rec.Type == layout.RecExit {
					exits++
				}
			case layout.RecProcess:
				if prev != layout.RecEnter {
					t.Fatalf("%s: process record after type %d", name, prev)
				}
			case layout.RecPayload:
				if prev != layout.RecPayloadEnd {
					t.Fatalf("%s: payload record after type %d", name, prev)
				}
				var p layout.Payload
				if err := json.Unmarshal(rec.Data, &p); err != nil {
					t.Fatal(err)
				}
				payloads = append(payloads, p)
			case layout.RecNote:
			default:
				t.Fatalf("%s: record type %d", name, rec.Type)
			}
			prev = rec.Type
		}
		blobs := r.Blobs()
		for _, p := range payloads {
			var sum [32]byte
			hex.Decode(sum[:], []byte(p.SHA256))
			info, ok := blobs[sum]
			if !ok || !info.Present || info.Ref.Size != p.Captured {
				t.Fatalf("%s: payload %+v has no blob", name, p)
			}
		}
		st := r.Status()
		if clean := name != "synthetic-unclean.zst"; st.Clean != clean {
			t.Fatalf("%s: clean %v", name, st.Clean)
		}
		if r.Stats()["calls"] == 0 {
			t.Fatalf("%s: no stats", name)
		}
		if name == "synthetic-kexec_load.zst" && (enters != 3 || exits != 3 || len(payloads) != 11 || len(blobs) != 5) {
			t.Fatalf("%s: %d enters %d exits %d payloads %d blobs", name, enters, exits, len(payloads), len(blobs))
		}
		if name == "synthetic-unclean.zst" && enters != exits+1 {
			t.Fatalf("%s: want one unfinished call", name)
		}
	}
}
