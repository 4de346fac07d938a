package recorder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
)

// TestRecordingFollowsContentContract: what the recorder writes from a ring
// with lost pieces, a lost PAYLOAD_END, an unreadable piece and a call
// without exit passes the content contract's checks (format/CONTENT.md).
// Every record is sealed in its own chunk, so a PAYLOAD_END stored before
// its blob was complete in the file would be caught.
func TestRecordingFollowsContentContract(t *testing.T) {
	calls := []callSpec{
		{id: 1, pieceLen: 1024, payloads: [][]byte{randBytes(10000), randBytes(5000), randBytes(3000)},
			drop: map[int]map[int]bool{1: {1: true}}, noEnd: map[int]bool{2: true}},
		{id: 2, pieceLen: 1024, payloads: [][]byte{randBytes(2000)}, readErr: map[int]map[int]bool{0: {0: true}}, noExit: true},
	}
	var recs [][]byte
	for _, c := range calls {
		recs = append(recs, c.records()...)
	}
	path := filepath.Join(t.TempDir(), "cap.zst")
	if _, err := record(t, Config{Sink: &FileSink{Base: path}, Writer: format.WriterOptions{SealBytes: 1, PieceSize: 4096}}, recs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := content.Check(r)
	if err != nil {
		t.Fatal(err)
	}
	// Call 1: two payloads closed on their END, one closed as lost-end at
	// the exit; call 2: one closed on its END.
	if res.Payloads != 4 || res.EndPairs != 3 || !r.Status().Clean {
		t.Fatalf("checked %+v (clean %v), want 4 payloads, 3 after their PAYLOAD_END", res, r.Status().Clean)
	}

	// Call 1's payloads, the lost-end one included, precede its exit.
	c := readCapture(t, path)
	var payloads1 int
	for _, rec := range c.records {
		switch rec.Type {
		case layout.RecPayload:
			var p layout.Payload
			if err := json.Unmarshal(rec.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.CallID == 1 {
				payloads1++
			}
		case layout.RecExit:
			if h, _ := layout.ParseHeader(rec.Data, bo); h.CallID == 1 && payloads1 != 3 {
				t.Fatalf("call 1's exit after %d of its 3 payloads", payloads1)
			}
		}
	}
}
