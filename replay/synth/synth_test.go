package synth

import (
	"bytes"
	"testing"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
)

// TestFollowsContentContract: synthetic captures pass the content
// contract's checks, clean or not, with and without payloads.
func TestFollowsContentContract(t *testing.T) {
	for _, o := range []Options{
		{Calls: 20, PayloadBytes: 5000, DistinctPayloads: true, SealEvery: 3},
		{Calls: 5},
		{Calls: 4, PayloadBytes: 10, Unclean: true},
	} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, o)
		if err != nil {
			t.Fatal(err)
		}
		for range o.Calls {
			if err := w.Call(); err != nil {
				t.Fatal(err)
			}
		}
		seg := Segment{Data: []byte("kernel"), Mem: 0x100000, MemSz: 0x1000}
		if err := w.KexecLoad([]Segment{seg, {Data: Purgatory([]Segment{seg}, false), Mem: 0x9d000000, MemSz: 0x1000}}, 0x9d000000); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(bytes.NewReader(buf.Bytes()), format.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := content.Check(r)
		want := 2 // KexecLoad's two segments
		if o.PayloadBytes > 0 {
			want += o.Calls
		}
		if err != nil || res.Payloads != want || res.EndPairs != want || r.Status().Clean == o.Unclean {
			t.Fatalf("%+v: Check = %+v, %v (clean %v); want %d payloads after their PAYLOAD_END", o, res, err, r.Status().Clean, want)
		}
	}
}
