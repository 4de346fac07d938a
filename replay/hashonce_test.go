package replay

import (
	"fmt"
	"slices"
	"testing"
)

// payloadHashes lists "kind index sha256 captured" for every payload of
// every call of a capture, in file order.
func payloadHashes(t *testing.T, path string) []string {
	t.Helper()
	c, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []string
	if err := c.Calls(func(call *Call) error {
		if len(call.Problems) > 0 {
			t.Errorf("%s: call %d: %v", path, call.ID, call.Problems)
		}
		for _, p := range call.Payloads {
			out = append(out, fmt.Sprintf("%s %d %s %d", p.Kind, p.Index, p.SHA256, p.Captured))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFormat11ShowsPlainSHA256: a format 1.1 capture (payload bytes hashed
// once, by BLAKE3 piece ids; the PAYLOAD records name blobs by their piece
// list) gives readers the same plain SHA-256 of every payload as the 1.0
// capture of the same calls, computed from the checked pieces.
func TestFormat11ShowsPlainSHA256(t *testing.T) {
	old := payloadHashes(t, "../testdata/samples/synthetic-kexec_load.zst")
	got := payloadHashes(t, "../testdata/samples/synthetic-kexec_load-1.1.zst")
	if len(old) != 11 || !slices.Equal(old, got) {
		t.Fatalf("format 1.1 payloads\n%v\nformat 1.0 payloads\n%v", got, old)
	}
}
