package main

import (
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/recorder"
)

func TestUnprivRateFlag(t *testing.T) {
	for in, want := range map[string]unprivRate{
		"1M":      {1 << 20, 16 << 20}, // burst: 16 s of the rate
		"1M/16M":  {1 << 20, 16 << 20},
		"512K/2M": {512 << 10, 2 << 20},
		"100/1":   {100, 1},
		"0":       {0, 0},
		"0/5M":    {0, 0}, // no bucket: the burst means nothing
	} {
		var r unprivRate
		if err := r.Set(in); err != nil || r != want {
			t.Errorf("%q: %+v %v, want %+v", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "/", "1M/", "x", "1M/0", "1M/2M/3M", "17G", "-1"} {
		var r unprivRate
		if err := r.Set(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, r)
		}
	}
	if d := defaultUnprivRate(); d.String() != "1048576/16777216" {
		t.Errorf("default %q", d.String())
	}
}

func TestRecordUnprivilegedFlags(t *testing.T) {
	cfg := useFakeAttach(t, 1)
	ios, _, errOut := testIO()
	path := t.TempDir() + "/cap.kxr"
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--unprivileged-snaplen", "0", "--unprivileged-rate", "2M/4M", "--ringbuf-size", "4M"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := (recorder.UnprivilegedPolicy{Snaplen: 0, Rate: 2 << 20, Burst: 4 << 20, RingBytes: 1 << 20}); cfg.Unprivileged != want {
		t.Errorf("policy %+v, want %+v", cfg.Unprivileged, want)
	}
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", t.TempDir()+"/x.kxr", "--unprivileged-rate", "1M/0"); code == ExitOK || !strings.Contains(errOut.String(), "burst 0") {
		t.Errorf("--unprivileged-rate 1M/0: exit %d, stderr %q", code, errOut)
	}
}
