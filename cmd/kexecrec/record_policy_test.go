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

func TestRingShareFlag(t *testing.T) {
	for in, want := range map[string]ringShare{"0.25": 0.25, "0": 0, "1": 1, " 0.5 ": 0.5, "1e-1": 0.1} {
		var r ringShare
		if err := r.Set(in); err != nil || r != want {
			t.Errorf("%q: %v %v, want %v", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-0.1", "1.5", "NaN", "Inf", "25%"} {
		var r ringShare
		if err := r.Set(bad); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v %v, want a one-line error", bad, r, err)
		}
	}
}

func TestRecordUnprivilegedFlags(t *testing.T) {
	cfg := useFakeAttach(t, 1)
	ios, _, errOut := testIO()
	path := t.TempDir() + "/cap.kxr"
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--unprivileged-snaplen", "0", "--unprivileged-rate", "2M/4M", "--ringbuf-size", "4M"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The shared bucket follows the per-uid one: 4 uids' worth.
	if want := (recorder.UnprivilegedPolicy{Snaplen: 0, Rate: 2 << 20, Burst: 4 << 20, TotalRate: 8 << 20, TotalBurst: 16 << 20, RingBytes: 1 << 20}); cfg.Unprivileged != want {
		t.Errorf("policy %+v, want %+v", cfg.Unprivileged, want)
	}
	if code := runRecordCLI(t, ios, "-o", t.TempDir()+"/b.kxr", "--count", "1", "--unprivileged-total-rate", "3M/5M", "--unprivileged-ring-share", "0.5", "--ringbuf-size", "4M"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if p := cfg.Unprivileged; p.TotalRate != 3<<20 || p.TotalBurst != 5<<20 || p.Rate != 1<<20 || p.RingBytes != 2<<20 {
		t.Errorf("policy %+v, want total 3M/5M, rate 1M, ring share 2 MiB", p)
	}
	// Full capture: every bound off.
	if code := runRecordCLI(t, ios, "-o", t.TempDir()+"/c.kxr", "--count", "1", "--unprivileged-snaplen", "0", "--unprivileged-rate", "0", "--unprivileged-ring-share", "0"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if cfg.Unprivileged != (recorder.UnprivilegedPolicy{}) {
		t.Errorf("policy %+v, want nothing cut", cfg.Unprivileged)
	}
	for _, bad := range []struct{ flag, value, says string }{
		{"--unprivileged-rate", "1M/0", "burst 0"},
		{"--unprivileged-total-rate", "1M/0", "burst 0"},
		{"--unprivileged-total-rate", "1M/2T", "at most"},
		{"--unprivileged-ring-share", "2", "fraction of the ring"},
		{"--unprivileged-ring-share", "quarter", "fraction of the ring"},
	} {
		ios, _, errOut = testIO()
		code := runRecordCLI(t, ios, "-o", t.TempDir()+"/x.kxr", bad.flag, bad.value)
		if msg := strings.TrimSuffix(errOut.String(), "\n"); code == ExitOK || !strings.Contains(msg, bad.says) || !strings.Contains(msg, bad.flag) || strings.Contains(msg, "\n") {
			t.Errorf("%s %s: exit %d, stderr %q", bad.flag, bad.value, code, errOut)
		}
	}
}
