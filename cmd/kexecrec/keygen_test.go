package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/format"
)

func TestKeygen(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "signer")
	code, out, errOut := runCmd("keygen", "-o", prefix)
	if code != ExitOK || !strings.Contains(out, "signer.pub") {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st.Mode(), err)
	}
	priv, err := format.LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := format.LoadPublicKey(prefix + ".pub")
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("public key does not match: %v", err)
	}
	// Sign a capture with it and verify with --pubkey.
	var buf bytes.Buffer
	w, _ := format.NewWriter(&buf, format.Header{}, format.WriterOptions{SignKey: priv})
	w.WriteRecord(format.Record{Type: 1, Data: []byte("x")})
	w.Close()
	cp := writeTemp(t, "c.zst", buf.Bytes())
	if code, out, _ := runCmd("verify", "--pubkey", prefix+".pub", cp); code != ExitOK {
		t.Fatalf("verify signed: %d\n%s", code, out)
	}
	// No overwrite without --force.
	if code, _, _ := runCmd("keygen", "-o", prefix); code != ExitTrouble {
		t.Fatalf("overwrote keys: exit %d", code)
	}
	if code, _, _ := runCmd("keygen", "-o", prefix, "--force"); code != ExitOK {
		t.Fatalf("--force: exit %d", code)
	}
	code, out, _ = runCmd("keygen", "-o", prefix, "--force", "--format", "json")
	var res keygenResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != ExitOK || res.PublicKey != prefix+".pub" {
		t.Fatalf("--format json: exit %d %v\n%s", code, err, out)
	}
	if pub, err := format.LoadPublicKey(prefix + ".pub"); err != nil || hex.EncodeToString(pub) != res.KeyID {
		t.Fatalf("key id %s does not name the public key: %v", res.KeyID, err)
	}
	if code, _, _ := runCmd("keygen"); code != ExitTrouble {
		t.Fatalf("no -o: exit %d", code)
	}
}
