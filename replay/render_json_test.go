package replay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// RenderJSON must give exactly json.Marshal's bytes (the JSON field names
// and their encoding are a stable interface).
func TestRenderJSONIsEncodingJSON(t *testing.T) {
	calls := sampleCalls(t)
	odd := *calls[0]
	cmd := "root=/dev/sda <x> & \"q\" \\ \u2028 \xff\x01 é"
	odd.Cmdline = &cmd
	odd.Caller.Argv = []string{"", "a b", "<script>", "\t"}
	odd.Caller.Comm = "bad\x00comm"
	odd.Args.FlagNames = nil
	odd.Time = time.Time{}
	odd.Problems = []string{"p1", "p&2"}
	odd.Payloads = append(odd.Payloads, &Payload{Kind: "kernel", Identity: &identify.Report{Type: "kernel", Summary: "Linux <6.1>"}},
		&Payload{Missing: []Range{{1, 2}, {3, 4}}, Reasons: []string{"ring-full"}})
	odd.Purgatory = &identify.PurgatoryVerdict{Found: true, Detail: "x"}
	odd.SegmentTableError = "EFAULT"
	odd.Files = []File{{Kind: "initrd", Path: "/boot/\"x\"", Dev: "8:1"}}
	empty := &Call{}
	for i, c := range append(calls, &odd, empty) {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := RenderJSON(&got, c); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSuffix(got.String(), "\n") != string(want) {
			t.Errorf("call %d:\n got %s\nwant %s", i, got.String(), want)
		}
	}
}
