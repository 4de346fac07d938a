package replay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/format"
)

// passVariants are a capture's bytes as they come, and damaged: single
// bytes changed across the file, the file cut short, a byte added.
func passVariants(data []byte) map[string][]byte {
	v := map[string][]byte{"as is": data, "byte added": append(bytes.Clone(data), 0x5a)}
	for i := 1; i < 24; i++ {
		off := len(data) * i / 24
		d := bytes.Clone(data)
		d[off] ^= 0x41
		v[fmt.Sprintf("byte %d changed", off)] = d
	}
	for _, cut := range []int{len(data) / 3, len(data) / 2, len(data) - 1} {
		v[fmt.Sprintf("cut at %d", cut)] = data[:cut]
	}
	return v
}

// One read gives what reading the capture separately for each gives:
// verify's report, the file's size and SHA-256, the calls and the error
// that stopped reading them; on intact and damaged captures alike.
func TestReadPassIsVerifyAndSummarize(t *testing.T) {
	files, err := filepath.Glob("../testdata/samples/*.zst")
	if err != nil || len(files) < 6 {
		t.Fatalf("samples: %v %v", files, err)
	}
	key, err := format.LoadPublicKey("../testdata/samples/synthetic-signed.pub")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	compared := 0
	for _, sample := range files {
		data, err := os.ReadFile(sample)
		if err != nil {
			t.Fatal(err)
		}
		variants := map[string][]byte{"as is": data}
		if len(data) < 1<<20 { // the damaged variants of the small samples
			variants = passVariants(data)
		}
		for name, d := range variants {
			path := filepath.Join(dir, "v.zst")
			if err := os.WriteFile(path, d, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, pub := range []ed25519.PublicKey{nil, key} {
				what := fmt.Sprintf("%s, %s, key %v", filepath.Base(sample), name, pub != nil)
				comparePass(t, what, path, d, pub)
				compared++
			}
		}
	}
	if compared < 200 {
		t.Errorf("only %d variants compared", compared)
	}
}

func comparePass(t *testing.T, what, path string, data []byte, pub ed25519.PublicKey) {
	t.Helper()
	var got bytes.Buffer
	pass, _ := ReadPass(path, PassOptions{Verify: true, PublicKey: pub, Each: func(c *Call) error {
		return RenderJSON(&got, c)
	}})
	wantVerify, verr := format.VerifyFile(path, format.VerifyOptions{PublicKey: pub})
	c, oerr := Open(path, OpenOptions{Salvage: true, PublicKey: pub})
	if oerr != nil {
		if pass.Verify != nil || pass.ReadErr == nil || pass.ReadErr.Error() != oerr.Error() {
			t.Errorf("%s: does not open (%v), but the pass gave verify %v, error %v", what, oerr, pass.Verify != nil, pass.ReadErr)
		}
		return
	}
	defer c.Close()
	var want bytes.Buffer
	cerr := c.Calls(func(c *Call) error { return RenderJSON(&want, c) })
	if verr != nil {
		t.Errorf("%s: opens as a capture, but verify says %v", what, verr)
	} else if !reflect.DeepEqual(pass.Verify, wantVerify) {
		t.Errorf("%s: verify\n got %+v\nwant %+v", what, pass.Verify, wantVerify)
	}
	sum := sha256.Sum256(data)
	if f := pass.Summary.File; f == nil || f.Size != int64(len(data)) || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("%s: file %+v, want %d bytes, SHA-256 %x", what, f, len(data), sum)
	}
	if fmt.Sprint(pass.ReadErr) != fmt.Sprint(cerr) {
		t.Errorf("%s: read error %v, want %v", what, pass.ReadErr, cerr)
	}
	if got.String() != want.String() {
		t.Errorf("%s: calls differ:\n got %.300s\nwant %.300s", what, got.String(), want.String())
	}
	if n := strings.Count(want.String(), "\n"); pass.Summary.Calls != n {
		t.Errorf("%s: summary counts %d calls, the stream has %d", what, pass.Summary.Calls, n)
	}
}
