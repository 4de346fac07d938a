package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/replay"
)

func TestRecordAlerts(t *testing.T) {
	useFakeAttach(t, 3)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dir := t.TempDir()
	ios, out, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "cap.kxr"), "--count", "3", "--json",
		"--on-call", `cat > "`+dir+`/alert.$$"`, "--syslog=udp://"+pc.LocalAddr().String())
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// --on-call got each call's JSON, the same as --json printed.
	files, _ := filepath.Glob(filepath.Join(dir, "alert.*"))
	var fromAlerts []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		fromAlerts = append(fromAlerts, string(b))
	}
	lines := strings.SplitAfter(out.String(), "\n")
	lines = lines[:len(lines)-1] // after the last newline: nothing
	if len(files) != 3 || len(lines) != 3 {
		t.Fatalf("%d alerts, %d --json lines, want 3 each; stderr %s", len(files), len(lines), errOut)
	}
	for _, l := range lines {
		found := false
		for _, a := range fromAlerts {
			found = found || a == l
		}
		if !found {
			t.Errorf("--json line %q not given to --on-call", l)
		}
		var c replay.Call
		if err := json.Unmarshal([]byte(l), &c); err != nil || c.Syscall != "kexec_load" {
			t.Errorf("%q: %v", l, err)
		}
	}
	// One RFC 5424 message per call.
	seen := map[string]bool{}
	buf := make([]byte, 8192)
	for range 3 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(buf[:n])
		if !strings.HasPrefix(msg, "<36>1 ") || !strings.Contains(msg, `[kexec@32473 call_id="`) || !strings.Contains(msg, `result="EPERM"`) {
			t.Errorf("syslog message %q", msg)
		}
		seen[msg[strings.Index(msg, "call_id="):][:12]] = true
	}
	if len(seen) != 3 {
		t.Errorf("syslog messages for %d distinct calls, want 3", len(seen))
	}
}

func TestRecordAlertFlagErrors(t *testing.T) {
	useFakeAttach(t, 1)
	ios, _, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", filepath.Join(t.TempDir(), "c.kxr"), "--syslog=syslog.example:514")
	if code != ExitTrouble || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "--syslog") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
