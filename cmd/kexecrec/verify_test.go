package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testfixture"
)

func writeTemp(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func TestVerifyGood(t *testing.T) {
	data, pub := testfixture.SmallCapture(t, true)
	p := writeTemp(t, "c.zst", data)
	code, out, _ := runCmd("verify", p)
	if code != ExitOK || !strings.Contains(out, "VERIFIED") || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, name := range []string{"integrity", "sequence", "chain", "trailer", "blobs", "signature"} {
		if !strings.Contains(out, name) {
			t.Fatalf("check %q not printed:\n%s", name, out)
		}
	}
	pubPEM, _ := format.MarshalPublicKey(pub)
	kp := writeTemp(t, "k.pub", pubPEM)
	if code, out, _ := runCmd("verify", "--pubkey", kp, p); code != ExitOK || !strings.Contains(out, "verified with --pubkey") {
		t.Fatalf("--pubkey: exit %d\n%s", code, out)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	otherPEM, _ := format.MarshalPublicKey(other)
	op := writeTemp(t, "o.pub", otherPEM)
	if code, out, _ := runCmd("verify", "--pubkey", op, p); code != ExitFinding || !strings.Contains(out, "does NOT verify") {
		t.Fatalf("wrong key: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd("verify", "--json", p)
	var reps []format.VerifyReport
	if err := json.Unmarshal([]byte(out), &reps); err != nil || code != ExitOK || len(reps) != 1 || !reps[0].Verified {
		t.Fatalf("json: %v exit %d\n%s", err, code, out)
	}
	if code, out2, _ := runCmd("verify", "--format", "json", p); code != ExitOK || out2 != out {
		t.Fatalf("--format json differs from --json: exit %d\n%s", code, out2)
	}
	if code, _, errOut := runCmd("verify", "--format", "xml", p); code != ExitTrouble || !strings.Contains(errOut, "want text or json") {
		t.Fatalf("--format xml: exit %d %s", code, errOut)
	}
}

func TestVerifyUnclean(t *testing.T) {
	data, _ := testfixture.SmallCapture(t, false)
	p := writeTemp(t, "c.zst", data)
	code, out, _ := runCmd("verify", p)
	if code != ExitFinding || !strings.Contains(out, "unclean stop") || !strings.Contains(out, "NOT VERIFIED") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestVerifyUnreadable(t *testing.T) {
	p := writeTemp(t, "junk", []byte("this is not a capture at all, not even close"))
	if code, _, errOut := runCmd("verify", p); code != ExitTrouble || !strings.Contains(errOut, "kexecrec:") {
		t.Fatalf("junk: exit %d %s", code, errOut)
	}
	if code, _, _ := runCmd("verify", filepath.Join(t.TempDir(), "missing")); code != ExitTrouble {
		t.Fatalf("missing file: exit %d", code)
	}
}
