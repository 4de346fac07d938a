package recorder

import (
	"testing"
	"time"
)

func TestExpandOutputName(t *testing.T) {
	at := time.Date(2026, 12, 3, 14, 30, 5, 999, time.FixedZone("x", 3600))
	for in, want := range map[string]string{
		"/var/lib/kexecrec/kexec-{start}.kxr": "/var/lib/kexecrec/kexec-20261203T133005Z.kxr",
		"plain.kxr":                           "plain.kxr",
		"{start}/{start}":                     "20261203T133005Z/20261203T133005Z",
		"{star}.kxr":                          "{star}.kxr",
	} {
		if got := ExpandOutputName(in, at); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
