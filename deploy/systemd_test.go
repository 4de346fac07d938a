package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

const unitFile = "kexecrec.service"

// verifyUnit runs systemd-analyze verify on the unit text, with ExecStart
// pointing at a freshly built binary (verify checks the command exists).
// It needs no running systemd: verify loads the unit offline.
func verifyUnit(t *testing.T, text string) (string, error) {
	t.Helper()
	analyze := testenv.Tool(t, "systemd-analyze")
	bin := kexecrecBinary(t)
	text = strings.ReplaceAll(text, "/usr/local/bin/kexecrec", bin)
	path := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := verifyUnit(t, string(b))
	if err != nil || out != "" {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}

	// The check sees mistakes: a misspelt key is reported.
	bad := strings.Replace(string(b), "NoNewPrivileges=", "NoNewPrivilege=", 1)
	if out, _ := verifyUnit(t, bad); !strings.Contains(out, "NoNewPrivilege") {
		t.Errorf("a misspelt key passed systemd-analyze verify: %q", out)
	}
}

// TestUnitPolicy pins what the issue asks of the unit, so that an edit that
// drops a hardening line fails here.
func TestUnitPolicy(t *testing.T) {
	u := parseUnit(t, unitFile)
	for key, want := range map[string]string{
		"Unit.Before":             "multi-user.target",
		"Install.WantedBy":        "multi-user.target",
		"Service.Restart":         "on-failure",
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.StateDirectory":  "kexecrec",
		"Service.ProtectHome":     "yes",
		"Service.PrivateTmp":      "yes",
		"Service.UMask":           "0077",
		"Service.EnvironmentFile": "/etc/default/kexecrec",
		"Service.KillSignal":      "SIGTERM",
	} {
		if got := u.get(t, key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	for _, key := range []string{"Unit.StartLimitIntervalSec", "Unit.StartLimitBurst"} {
		if got := u.get(t, key); got == "" || got == "0" {
			t.Errorf("%s=%q: no start limit", key, got)
		}
	}
	if b, a := u.get(t, "Service.CapabilityBoundingSet"), u.get(t, "Service.AmbientCapabilities"); b != a {
		t.Errorf("bounding set %q and ambient set %q differ", b, a)
	}
	exec := u.get(t, "Service.ExecStart")
	for _, flag := range []string{"--rotate-size", "--max-files", "--max-total", "%S/kexecrec/"} {
		if !strings.Contains(exec, flag) {
			t.Errorf("ExecStart %q lacks %s: disk use would be unbounded or outside the state directory", exec, flag)
		}
	}
	env := parseUnit(t, "kexecrec.env")
	for _, key := range []string{"KEXECREC_ROTATE_SIZE", "KEXECREC_ROTATE_EVERY", "KEXECREC_MAX_FILES", "KEXECREC_MAX_TOTAL", "KEXECREC_ARGS"} {
		if !strings.Contains(exec, key) {
			t.Errorf("ExecStart does not use %s", key)
		}
		env.get(t, key)
	}
}
