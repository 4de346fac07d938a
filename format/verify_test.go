package format_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testfixture"
)

func verifyBytes(t *testing.T, data []byte, o format.VerifyOptions) *format.VerifyReport {
	t.Helper()
	rep, err := format.Verify(bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		return &format.VerifyReport{Error: err.Error()}
	}
	return rep
}

func checkOf(rep *format.VerifyReport, name string) *format.VerifyCheck {
	for i := range rep.Checks {
		if rep.Checks[i].Name == name {
			return &rep.Checks[i]
		}
	}
	return nil
}

func TestVerifyGood(t *testing.T) {
	data, pub := testfixture.SmallCapture(t, true)
	rep := verifyBytes(t, data, format.VerifyOptions{})
	if !rep.Verified {
		t.Fatalf("good capture does not verify: %+v", rep)
	}
	for _, name := range []string{"header", "chunks", "integrity", "sequence", "chain", "trailer", "blobs", "signature"} {
		if c := checkOf(rep, name); c == nil || !c.OK {
			t.Errorf("check %q: %+v", name, c)
		}
	}
	if c := checkOf(rep, "blobs"); !strings.HasPrefix(c.Detail, "1 blobs, 49 bytes") {
		t.Errorf("blobs: %q", c.Detail)
	}
	if c := checkOf(rep, "signature"); !strings.Contains(c.Detail, "the key the file names") {
		t.Errorf("signature without a key: %q", c.Detail)
	}
	if rep := verifyBytes(t, data, format.VerifyOptions{PublicKey: pub}); !rep.Verified ||
		!strings.Contains(checkOf(rep, "signature").Detail, "verified with --pubkey") {
		t.Errorf("with the signer's key: %+v", rep)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if rep := verifyBytes(t, data, format.VerifyOptions{PublicKey: other}); rep.Verified ||
		!strings.Contains(checkOf(rep, "signature").Detail, "does NOT verify") {
		t.Errorf("with another key: %+v", rep)
	}
}

func TestVerifyUnclean(t *testing.T) {
	data, _ := testfixture.SmallCapture(t, false)
	rep := verifyBytes(t, data, format.VerifyOptions{})
	if rep.Verified || checkOf(rep, "trailer").OK || !strings.Contains(checkOf(rep, "trailer").Detail, "unclean stop") {
		t.Fatalf("unclean capture: %+v", rep)
	}
	if c := checkOf(rep, "chain"); c.OK || !strings.Contains(c.Detail, "not anchored by a trailer") {
		t.Errorf("chain: %+v", c)
	}
}

func TestVerifyNotACapture(t *testing.T) {
	junk := []byte("this is not a capture at all, not even close")
	if rep, err := format.Verify(bytes.NewReader(junk), int64(len(junk)), format.VerifyOptions{}); err == nil {
		t.Fatalf("junk verifies: %+v", rep)
	}
	dir := t.TempDir()
	if _, err := format.VerifyFile(dir, format.VerifyOptions{}); err == nil || err.Error() != "not a regular file" {
		t.Errorf("directory: %v", err)
	}
	if _, err := format.VerifyFile(filepath.Join(dir, "missing"), format.VerifyOptions{}); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	data, _ := testfixture.SmallCapture(t, true)
	p := filepath.Join(dir, "c.zst")
	os.WriteFile(p, data, 0o644)
	if rep, err := format.VerifyFile(p, format.VerifyOptions{}); err != nil || !rep.Verified || rep.File != p {
		t.Errorf("file: %v %+v", err, rep)
	}
}

// Changing any single byte of a small capture makes verification fail;
// so does cutting it anywhere or adding a byte.
func TestVerifyEveryByteFlip(t *testing.T) {
	data, _ := testfixture.SmallCapture(t, true)
	for off := range data {
		d := append([]byte{}, data...)
		d[off] ^= 0x01
		if off%2 == 1 {
			d[off] ^= 0x81 // another bit pattern too
		}
		if rep := verifyBytes(t, d, format.VerifyOptions{}); rep.Verified {
			t.Fatalf("byte %d of %d changed: verify still passes", off, len(data))
		}
	}
	for cut := range data {
		if rep := verifyBytes(t, data[:cut], format.VerifyOptions{}); rep.Verified {
			t.Fatalf("cut at %d verifies", cut)
		}
	}
	if rep := verifyBytes(t, append(append([]byte{}, data...), 0), format.VerifyOptions{}); rep.Verified {
		t.Fatal("trailing byte verifies")
	}
}

func TestVerifyReportText(t *testing.T) {
	data, _ := testfixture.SmallCapture(t, false)
	rep := verifyBytes(t, data, format.VerifyOptions{})
	rep.File = "c.zst"
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "c.zst:\n  ok    header     file id ") || !strings.Contains(out, "\n  FAIL  trailer    no trailer") ||
		!strings.HasSuffix(out, "\n  NOT VERIFIED\n") {
		t.Errorf("text:\n%s", out)
	}
	buf.Reset()
	(&format.VerifyReport{File: "x", Error: "not a regular file"}).WriteText(&buf)
	if buf.String() != "x:\n  UNREADABLE  not a regular file\n" {
		t.Errorf("unreadable: %q", buf.String())
	}
}
