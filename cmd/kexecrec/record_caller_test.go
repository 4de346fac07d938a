package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/replay"
)

// --max-args and --env reach the BPF configuration and the file header;
// a bound the BPF record cannot hold is refused.
func TestRecordMaxArgsAndEnv(t *testing.T) {
	cfg := useFakeAttach(t, 1)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--max-args", "9000", "--env"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if cfg.MaxArgs != 9000 || !cfg.Env {
		t.Errorf("attach config MaxArgs %d Env %v, want 9000 true", cfg.MaxArgs, cfg.Env)
	}
	r, err := replay.Open(path, replay.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if h := r.Header(); h.Options["max_args"] != "9000" || h.Options["env"] != "true" {
		t.Errorf("header options max_args %q env %q", h.Options["max_args"], h.Options["env"])
	}

	ios, _, errOut = testIO()
	code := runRecordCLI(t, ios, "-o", filepath.Join(t.TempDir(), "x.kxr"), "--max-args", "70000")
	if code != ExitTrouble || !strings.Contains(errOut.String(), fmt.Sprintf("--max-args 70000: at most %d bytes", recorder.MaxArgsLimit)) {
		t.Errorf("--max-args 70000: exit %d, stderr %q", code, errOut)
	}
}
