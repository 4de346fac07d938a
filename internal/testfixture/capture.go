// Package testfixture builds small captures for the tests of the packages
// that read them (format's verification and the CLI commands on top of it).
package testfixture

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/kexecrec/kexecrec/format"
)

// SmallCapture writes a small signed capture with records, a deduplicated
// blob (one 49-byte payload of two 32-byte pieces, written twice) and
// stats, and returns its bytes and the signer's public key. closeIt writes
// the trailer; without it the capture ends sealed but unclean, as a
// recorder that was killed leaves it.
func SmallCapture(tb testing.TB, closeIt bool) ([]byte, ed25519.PublicKey) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := format.NewWriter(&buf, format.Header{Hostname: "h", KernelRelease: "6.18", ByteOrder: "little"},
		format.WriterOptions{SealBytes: 64, PieceSize: 32, SignKey: priv})
	if err != nil {
		tb.Fatal(err)
	}
	check := func(err error) {
		if err != nil {
			tb.Helper()
			tb.Fatal(err)
		}
	}
	check(w.WriteRecord(format.Record{Type: 1, Data: []byte("enter record")}))
	payload := []byte("a payload of more than one thirty-two byte piece!")
	for range 2 {
		bw := w.NewBlob()
		_, err := bw.Write(payload)
		check(err)
		_, err = bw.Close()
		check(err)
	}
	check(w.WriteRecord(format.Record{Type: 5, Data: []byte("exit record")}))
	check(w.WriteStats(format.Stats{"calls": 1}))
	if closeIt {
		check(w.Close())
	} else {
		check(w.Seal())
	}
	return buf.Bytes(), pub
}
