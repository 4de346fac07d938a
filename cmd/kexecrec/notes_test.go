package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The recorder's start-up notes are in the JSON of show (header.notes) and
// summarize (host.notes), and in neither command's warnings.
func TestHeaderNotesInJSON(t *testing.T) {
	sample := sampleFile("real-6.12-fentry-einval.zst")
	type note struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	check := func(cmd string, notes []note, warnings []string) {
		t.Helper()
		if len(notes) != 1 || notes[0].Level != "warn" || !strings.HasPrefix(notes[0].Message, "no fentry hook on __x32_compat_sys_kexec_load") {
			t.Errorf("%s: notes %+v", cmd, notes)
		}
		if len(warnings) != 0 {
			t.Errorf("%s: warnings %q", cmd, warnings)
		}
	}

	code, out, errOut := cli("show", "--format", "json", "--no-identify", sample)
	var show []struct {
		Header struct {
			Notes []note `json:"notes"`
		} `json:"header"`
		Status struct {
			Warnings []string `json:"warnings"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &show); err != nil || code != ExitOK || errOut != "" || len(show) != 1 {
		t.Fatalf("show: exit %d %q %v", code, errOut, err)
	}
	check("show", show[0].Header.Notes, show[0].Status.Warnings)

	code, out, errOut = cli("summarize", "--format", "json", "--no-identify", sample)
	var sum struct {
		Files []struct {
			Host struct {
				Notes []note `json:"notes"`
			} `json:"host"`
			Warnings []string `json:"warnings"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != ExitOK || errOut != "" || len(sum.Files) != 1 {
		t.Fatalf("summarize: exit %d %q %v", code, errOut, err)
	}
	check("summarize", sum.Files[0].Host.Notes, sum.Files[0].Warnings)
}
