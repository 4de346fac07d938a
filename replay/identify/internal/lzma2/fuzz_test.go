package lzma2

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// FuzzLZMA2: arbitrary bytes never panic, never make the window exceed its
// cap and always end; and whatever ulikunitz/xz's LZMA2 writer makes of the
// input decodes back to it, consuming exactly the stream.
func FuzzLZMA2(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), false)
	f.Add(bytes.Repeat([]byte{0}, 5000), false)
	f.Add([]byte{0xE0, 0x00, 0x10, 0x00, 0x05, 0x5D, 0, 0, 0, 0, 0, 0}, true)
	f.Add([]byte{0x01, 0x00, 0x02, 'a', 'b', 'c', 0x02, 0x00, 0x00, 'd', 0x00}, true)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		const dictCap = 1 << 16
		if raw {
			r := NewReader(bytes.NewReader(data), dictCap)
			n, _ := io.Copy(io.Discard, io.LimitReader(r, 8<<20))
			if len(r.w.buf) > dictCap {
				t.Fatalf("window grew to %d, cap %d", len(r.w.buf), dictCap)
			}
			_ = n
			return
		}
		var z bytes.Buffer
		w, err := lzma.Writer2Config{DictCap: dictCap}.NewWriter2(&z)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		in := bytes.NewReader(z.Bytes())
		got, err := io.ReadAll(NewReader(in, dictCap))
		if err != nil {
			t.Fatalf("decoding %d bytes: %v", len(data), err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes gave %d different bytes", len(data), len(got))
		}
		if in.Len() != 0 {
			t.Fatalf("%d bytes of the stream left unread", in.Len())
		}
	})
}
