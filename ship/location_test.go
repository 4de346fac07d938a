package ship

import (
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
)

func TestParseLocation(t *testing.T) {
	for in, want := range map[string]Location{
		"s3://evidence":             {Bucket: "evidence"},
		"s3://evidence/":            {Bucket: "evidence"},
		"s3://evidence/fleet/kexec": {Bucket: "evidence", Prefix: "fleet/kexec"},
		"s3://evidence//fleet/":     {Bucket: "evidence", Prefix: "fleet"},
	} {
		got, err := ParseLocation(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "evidence/x", "s3://", "s3:///x", "https://evidence/x", "s3://a b/x"} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1d": 24 * time.Hour, "2160h": 2160 * time.Hour, "10m": 10 * time.Minute} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "90", "d", "1y", "-5h", "99999999d"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestObjectKeyInert: header strings cannot add, remove or climb out of key
// segments.
func TestObjectKeyInert(t *testing.T) {
	h := format.Header{Hostname: "../../etc/x y", MachineID: "", BootID: "..", Part: 7}
	h.SetID[0] = 0xab
	key := ObjectKey("p", h)
	segs := strings.Split(key, "/")
	if len(segs) != 6 || segs[0] != "p" || segs[1] != ".._.._etc_x_y" || segs[2] != "unknown" || segs[3] != "unknown" ||
		segs[4] != "ab000000000000000000000000000000" || segs[5] != "7.zst" {
		t.Errorf("key %q", key)
	}
	if got := ObjectKey("", format.Header{Hostname: "h", MachineID: "m", BootID: "b"}); !strings.HasPrefix(got, "h/m/b/") {
		t.Errorf("no prefix: %q", got)
	}
}
