package replay

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderFleetInert(t *testing.T) {
	s := newSummary()
	s.setFile(FileInfo{Path: "s3://b/k/0.zst"})
	s.Host = &HostInfo{Hostname: "evil\x1b[2J\thost", BootID: "0123456789abcdef", Part: 3}
	s.Calls = 2
	s.ByOutcome = []Count{{Key: "ok", Calls: 1}, {Key: "error", Calls: 1}}
	s.Stream = &StreamInfo{Clean: true}
	damaged := newSummary()
	damaged.Damage = []string{"chunk 3: bad hash"}
	rows := Fleet([]*Summary{s, damaged})
	if rows[0].KernelsLoaded != 1 || rows[0].Verdict != "intact" || rows[1].Verdict != "damaged" {
		t.Fatalf("rows %+v", rows)
	}
	var b bytes.Buffer
	if err := RenderFleet(&b, rows, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `"evil\x1b[2J\thost"`) {
		t.Errorf("hostile host name not inert:\n%q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], " 01234567 ") || strings.Contains(lines[1], "89abcdef") {
		t.Errorf("table:\n%s", out)
	}
	if f := strings.Fields(lines[2]); f[0] != "-" || f[len(f)-2] != "damaged" {
		t.Errorf("damaged row %q", lines[2])
	}
}
