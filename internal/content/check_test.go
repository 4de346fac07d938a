package content

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

var le = binary.LittleEndian

func check(t *testing.T, b []byte) (CheckResult, error) {
	t.Helper()
	r, err := format.NewReader(bytes.NewReader(b), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return Check(r)
}

// TestCheckAccepts: what the Writer writes passes, and Check says what it
// looked at.
func TestCheckAccepts(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, format.Header{}, Options{ByteOrder: le, Format: format.WriterOptions{SealBytes: 1, PieceSize: 4096}})
	if err != nil {
		t.Fatal(err)
	}
	hdr := layout.Header{CallID: 1, TimeNS: 5}
	steps := []error{
		w.WriteRaw(layout.Enter{Header: hdr, PID: 9}.Marshal(le)),
		w.WriteProcess(layout.Process{CallID: 1, PID: 9}),
		w.WriteWholePayload(layout.PayloadEnd{Header: hdr, Kind: layout.KindSegment}, bytes.Repeat([]byte("ab"), 5000)),
		w.WriteWholePayload(layout.PayloadEnd{Header: hdr, Kind: layout.KindSegment, Index: 1}, nil),
		w.WriteNote("warn", "x"),
		w.WriteRaw(layout.Exit{Header: hdr}.Marshal(le)),
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	res, err := check(t, buf.Bytes())
	if err != nil || res != (CheckResult{Records: 8, Payloads: 2, EndPairs: 2}) {
		t.Fatalf("Check = %+v, %v", res, err)
	}
}

// TestCheckCatches: each broken promise is reported. The captures are made
// with format.Writer directly, which knows no content rules.
func TestCheckCatches(t *testing.T) {
	hdr := layout.Header{CallID: 1, TimeNS: 5}
	payloadRec := func(ref format.BlobRef, p layout.Payload) format.Record {
		p.CallID, p.Kind, p.SHA256 = 1, layout.KindSegment, hex.EncodeToString(ref.ID[:])
		b, _ := json.Marshal(p)
		return format.Record{Type: layout.RecPayload, Data: b}
	}
	raw := func(b []byte) format.Record { return format.Record{Type: le.Uint16(b), Data: b} }
	data := bytes.Repeat([]byte("xy"), 5000)
	end := layout.PayloadEnd{Header: hdr, Kind: layout.KindSegment, Total: uint64(len(data)), Emitted: uint64(len(data))}.Marshal(le)
	cases := []struct {
		name, want string
		write      func(w *format.Writer) error
	}{
		{"end before its blob", "not complete in the file when its PAYLOAD_END", func(w *format.Writer) error {
			bw := w.NewBlob()
			bw.Write(data)
			w.WriteRecord(raw(end)) // sealed at once (SealBytes 1), before the blob's last piece and map
			ref, _ := bw.Close()
			return w.WriteRecord(payloadRec(ref, layout.Payload{Total: ref.Size, Captured: ref.Size, Complete: true}))
		}},
		{"piece stored", "PIECE", func(w *format.Writer) error {
			return w.WriteRecord(raw(layout.Piece{Header: hdr, Data: []byte("z")}.Marshal(le)))
		}},
		{"raw size", "raw record header", func(w *format.Writer) error {
			return w.WriteRecord(raw(append(layout.Exit{Header: hdr}.Marshal(le), 0, 0, 0, 0, 0, 0, 0, 0)))
		}},
		{"process alone", "PROCESS of call 1 after", func(w *format.Writer) error {
			return w.WriteRecord(format.Record{Type: layout.RecProcess, Data: []byte(`{"call_id":1,"pid":2}`)})
		}},
		{"blob absent", "not complete in the file", func(w *format.Writer) error {
			return w.WriteRecord(payloadRec(format.BlobRef{Size: 3}, layout.Payload{Total: 3, Captured: 3}))
		}},
		{"complete but short", "complete, but", func(w *format.Writer) error {
			ref, _ := w.NewBlob().Close()
			return w.WriteRecord(payloadRec(ref, layout.Payload{Total: 10, Complete: true, Missing: []layout.Range{{Off: 0, Len: 10}}}))
		}},
		{"tail not named", "neither captured nor named missing", func(w *format.Writer) error {
			ref, _ := w.NewBlob().Close()
			return w.WriteRecord(payloadRec(ref, layout.Payload{Total: 10, Missing: []layout.Range{{Off: 0, Len: 6}}}))
		}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		w, err := format.NewWriter(&buf, format.Header{ByteOrder: "little", RecordLayout: layout.Version},
			format.WriterOptions{SealBytes: 1, PieceSize: 4096, PieceHash: format.PieceSHA256}) // payloadRec names blobs by SHA-256
		if err != nil {
			t.Fatal(err)
		}
		if err := c.write(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := check(t, buf.Bytes()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check said %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
