package recorder

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// A payload the unprivileged policy cut after its first 64 KiB: the
// PAYLOAD record says so (reason policy, the rest missing), and the call's
// other payload, under the cut, stays complete.
func TestPolicyCutPayload(t *testing.T) {
	const cut = 64 << 10
	data, small := randBytes(1<<20), randBytes(1000)
	call := callSpec{id: 3, payloads: [][]byte{data, small}, pieceLen: cut, stopAt: map[int]int{0: 1}}
	recs := call.records()
	for i, r := range recs {
		if h, _ := layout.ParseHeader(r, bo); h.Type == layout.RecPayloadEnd {
			e, _ := layout.ParsePayloadEnd(r, bo)
			if e.Index == 0 {
				e.Flags = layout.PFPolicy
				recs[i] = e.Marshal(bo)
			}
		}
	}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	ps := readCapture(t, sink.Base).payloads(t)
	if len(ps) != 2 {
		t.Fatalf("%d payloads", len(ps))
	}
	p := ps[0]
	if p.Complete || p.Captured != cut || p.SHA256 != hexSHA(data[:cut]) ||
		!reflect.DeepEqual(p.Missing, []layout.Range{{Off: cut, Len: 1<<20 - cut}}) || !reflect.DeepEqual(p.Reasons, []string{"policy"}) {
		t.Errorf("cut payload %+v, want %d bytes, the rest missing, reason policy", p, cut)
	}
	if q := ps[1]; !q.Complete || q.SHA256 != hexSHA(small) || len(q.Reasons) != 0 {
		t.Errorf("payload under the cut %+v", q)
	}
}
