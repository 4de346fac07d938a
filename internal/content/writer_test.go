package content

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// readBack is a capture read back: its header, records and status.
type readBack struct {
	h      format.Header
	recs   []format.Record
	status format.Status
}

func readAll(t *testing.T, b []byte) readBack {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(b), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := readBack{h: r.Header()}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Data = bytes.Clone(rec.Data)
		rb.recs = append(rb.recs, rec)
	}
	rb.status = r.Status()
	return rb
}

func types(recs []format.Record) []uint16 {
	var ts []uint16
	for _, r := range recs {
		ts = append(ts, r.Type)
	}
	return ts
}

// TestPayloadOrder: a payload's blob is complete in the file before its
// PAYLOAD_END record, which is followed by its PAYLOAD record; Captured and
// SHA256 describe the blob. Every record is sealed in its own chunk, so a
// PAYLOAD_END written before the blob's last piece and map would be read
// before the blob is present, which Check reports.
func TestPayloadOrder(t *testing.T) {
	for _, bo := range []ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var buf bytes.Buffer
		var seen []uint16
		w, err := NewWriter(&buf, format.Header{ByteOrder: "middle", RecordLayout: 99},
			Options{ByteOrder: bo, OnRecord: func(r format.Record) { seen = append(seen, r.Type) },
				Format: format.WriterOptions{SealBytes: 1, PieceSize: 4096}, PayloadSHA256: true})
		if err != nil {
			t.Fatal(err)
		}
		hdr := layout.Header{CallID: 7, TimeNS: 100}
		if err := w.WriteRaw(layout.Enter{Header: hdr, PID: 1, Comm: "kexec"}.Marshal(bo)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteProcess(layout.Process{CallID: 7, PID: 1, Exe: "/sbin/kexec"}); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("0123456789"), 1000) // three 4 KiB pieces
		pw := w.NewPayload()
		for off := 0; off < len(data); off += 3000 {
			if _, err := pw.Write(data[off:min(off+3000, len(data))]); err != nil {
				t.Fatal(err)
			}
		}
		end := layout.PayloadEnd{Header: hdr, Kind: layout.KindSegment, Index: 2, Source: layout.SrcSyscallEntry,
			Total: 20000, Emitted: 10000, Pieces: 1, Flags: layout.PFSnaplen}
		p, err := pw.Finish(end.Marshal(bo), layout.Payload{CallID: 7, Kind: layout.KindSegment, Index: 2,
			Source: layout.SrcSyscallEntry, Total: 20000, Missing: []layout.Range{{Off: 10000, Len: 10000}}, Reasons: []string{"snaplen"}})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if p.Captured != uint64(len(data)) || p.SHA256 != hex.EncodeToString(sum[:]) || p.Blob == "" {
			t.Fatalf("Finish returned captured %d sha %s blob %q, want %d %x", p.Captured, p.SHA256, p.Blob, len(data), sum)
		}
		if err := w.WriteNote("info", "done"); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}

		rb := readAll(t, buf.Bytes())
		wantName := map[bool]string{true: "little", false: "big"}[bo == binary.LittleEndian]
		if rb.h.ByteOrder != wantName || rb.h.RecordLayout != layout.Version || w.Header().ByteOrder != wantName {
			t.Fatalf("header says byte order %q layout %d, want %q %d", rb.h.ByteOrder, rb.h.RecordLayout, wantName, layout.Version)
		}
		want := []uint16{layout.RecEnter, layout.RecProcess, layout.RecPayloadEnd, layout.RecPayload, layout.RecNote}
		if got := types(rb.recs); !slices.Equal(got, want) || !slices.Equal(seen, want) || w.Records() != uint64(len(want)) {
			t.Fatalf("records %v, OnRecord saw %v, Records() %d; want %v", got, seen, w.Records(), want)
		}
		if !rb.status.Clean {
			t.Fatal("capture not clean after Close")
		}
		if res, err := check(t, buf.Bytes()); err != nil || res.EndPairs != 1 {
			t.Fatalf("Check = %+v, %v", res, err)
		}
		if !bytes.Equal(rb.recs[2].Data, end.Marshal(bo)) {
			t.Fatalf("PAYLOAD_END not stored verbatim: %x", rb.recs[2].Data)
		}
		var gotP layout.Payload
		if err := json.Unmarshal(rb.recs[3].Data, &gotP); err != nil || gotP.SHA256 != p.SHA256 || gotP.Captured != p.Captured ||
			gotP.Total != 20000 || gotP.Complete || len(gotP.Missing) != 1 {
			t.Fatalf("PAYLOAD record %s (%v)", rb.recs[3].Data, err)
		}
	}
}

// TestWriteRawRefuses: pieces, user-space types and records shorter than a
// header are not stored as raw BPF records.
func TestWriteRawRefuses(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, format.Header{}, Options{ByteOrder: binary.LittleEndian})
	if err != nil {
		t.Fatal(err)
	}
	bo := binary.LittleEndian
	user := layout.Exit{}.Marshal(bo)
	bo.PutUint16(user, layout.RecPayload)
	for name, rec := range map[string][]byte{
		"piece":      layout.Piece{Data: []byte("x")}.Marshal(bo),
		"user-space": user,
		"short":      layout.Exit{}.Marshal(bo)[:layout.HeaderSize-1],
	} {
		if err := w.WriteRaw(rec); err == nil {
			t.Errorf("%s record stored as raw", name)
		}
	}
	future := layout.Exit{}.Marshal(bo)
	bo.PutUint16(future, 9) // a type a newer BPF object may add
	if err := w.WriteRaw(future); err != nil {
		t.Fatalf("unknown BPF type refused: %v", err)
	}
	if w.Records() != 1 {
		t.Fatalf("%d records written, want 1", w.Records())
	}
}

// TestWriteWholePayload: the PAYLOAD_END and PAYLOAD records of a payload
// that arrived whole say what the recorder would: every byte emitted and
// captured, as many pieces as BPF cuts it into, complete.
func TestWriteWholePayload(t *testing.T) {
	for _, n := range []int{0, 1, layout.PieceMax, layout.PieceMax + 1} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, format.Header{}, Options{ByteOrder: binary.LittleEndian})
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte{0xA5}, n)
		in := layout.PayloadEnd{Header: layout.Header{CallID: 3, TimeNS: 9}, Kind: layout.KindKernel, Source: layout.SrcKernelRead,
			Dropped: 5, Flags: layout.PFRingFull} // contradicts "whole": overwritten
		if err := w.WriteWholePayload(in, data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rb := readAll(t, buf.Bytes())
		if len(rb.recs) != 2 {
			t.Fatalf("%d bytes: %d records", n, len(rb.recs))
		}
		end, err := layout.ParsePayloadEnd(rb.recs[0].Data, binary.LittleEndian)
		wantPieces := uint32((n + layout.PieceMax - 1) / layout.PieceMax)
		if err != nil || end.CallID != 3 || end.Kind != layout.KindKernel || end.Total != uint64(n) || end.Emitted != uint64(n) ||
			end.Pieces != wantPieces || end.Dropped != 0 || end.Flags != 0 {
			t.Fatalf("%d bytes: PAYLOAD_END %+v (%v), want %d pieces", n, end, err, wantPieces)
		}
		var p layout.Payload
		sum := sha256.Sum256(data)
		// Format 1.1: the record names the blob by its piece list and
		// leaves the SHA-256 to readers, who get it from the bytes.
		if err := json.Unmarshal(rb.recs[1].Data, &p); err != nil || !p.Complete || p.Captured != uint64(n) ||
			p.Total != uint64(n) || p.SHA256 != "" || p.CallID != 3 || p.Source != layout.SrcKernelRead {
			t.Fatalf("%d bytes: PAYLOAD %s (%v)", n, rb.recs[1].Data, err)
		}
		if got := blobSHA256(t, buf.Bytes(), p.Blob); got != sum {
			t.Fatalf("%d bytes: blob %s holds bytes hashing to %x, want %x", n, p.Blob, got, sum)
		}
	}
}

// blobSHA256 is the SHA-256 of the bytes of the blob named blob (hex) in
// the capture data, as a reader computes it.
func blobSHA256(t *testing.T, data []byte, blob string) [32]byte {
	t.Helper()
	var id [32]byte
	if n, err := hex.Decode(id[:], []byte(blob)); err != nil || n != 32 {
		t.Fatalf("blob id %q", blob)
	}
	ix, err := format.OpenIndex(bytes.NewReader(data), int64(len(data)), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ix.BlobSHA256(id)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
