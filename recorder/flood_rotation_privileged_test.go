package recorder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// TestPrivilegedFloodRotation: issue 11's rotation with --max-total. The
// flood of TestPrivilegedFlood runs for rotationFloodFor while the recorder rotates
// every rotSize under a --max-total of rotMax with keep-evidence; a third
// into it a caller with CAP_SYS_BOOT makes one call of 16 x 128 KiB. The
// flood rotates many times and --max-total removes parts, but never the one
// holding the real load, whose payloads stay complete and SHA-256 exact.
func TestPrivilegedFloodRotation(t *testing.T) {
	const (
		rotSize     = 512 << 10
		rotMax      = 4 << 20
		privSegSize = 128 << 10
	)
	src := attachRaw(t, AttachConfig{RingWait: DefaultRingWait, RingWaitUnprivileged: -1, Unprivileged: DefaultUnprivilegedPolicy(0)})
	pattern := filepath.Join(t.TempDir(), "rot.kxr")
	rec := New(Config{Source: src, Sink: &FileSink{Base: pattern}, Header: HostHeader("test"),
		Rotate: Rotation{Size: rotSize},
		Bound:  &TotalBound{Pattern: pattern, Max: rotMax, Reserve: rotSize, KeepEvidence: true}})
	run := runFlood(t, rec, rotationFloodFor, privSegSize, 78)
	fl, priv := run.fl, run.priv
	// Let the recorder read what BPF sent before stopping it.
	total := uint64(fl.calls + 1)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		cnt := counterMap(mustCounters(t, src))
		if p := rec.Progress(); p.CallsCompleted+cnt["exit_dropped"] >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recorder did not complete the %d calls in 2 min: %+v", total, rec.Progress())
		}
	}
	sum := run.stop(t)

	// The parts left, and the one holding the real load.
	var left []string
	var size int64
	var notes []string
	holder := ""
	for _, name := range sum.Files {
		fi, err := os.Stat(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
		size += fi.Size()
		c := readCapture(t, name)
		notes = append(notes, c.notes()...)
		var privID uint64
		for _, r := range c.records {
			if r.Type != layout.RecEnter {
				continue
			}
			if e, err := layout.ParseEnter(r.Data, bo); err == nil && int(e.TID) == priv.TID {
				privID = e.CallID
			}
		}
		if privID == 0 {
			continue
		}
		holder = name
		done := 0
		for _, p := range c.payloads(t) {
			if p.CallID != privID {
				continue
			}
			if int(p.Index) < floodSegs && p.Complete && p.Total == privSegSize && p.SHA256 == priv.Segments[p.Index].SHA256 {
				done++
			} else {
				t.Errorf("privileged segment %d: %d of %d bytes, complete %v, reasons %v", p.Index, p.Captured, p.Total, p.Complete, p.Reasons)
			}
		}
		if done != floodSegs {
			t.Errorf("%s: %d of %d privileged segments complete and exact", filepath.Base(name), done, floodSegs)
		}
	}
	if len(sum.Files) < 8 {
		t.Errorf("the flood rotated into %d parts, want many (at least 8)", len(sum.Files))
	}
	if holder == "" {
		t.Fatalf("no part left holds the privileged call: %d parts written, %d left; notes:\n%s", len(sum.Files), len(left), strings.Join(notes, "\n"))
	}
	removed := 0
	for _, n := range notes {
		if strings.Contains(n, "by --max-total") && strings.Contains(n, "oldest without a privileged caller's call") {
			removed++
		}
		if strings.Contains(n, filepath.Base(holder)+" by --max-total") {
			t.Errorf("a note says the holding part was removed: %s", n)
		}
	}
	if removed == 0 || len(left) >= len(sum.Files) {
		t.Errorf("--max-total removed %d parts by its notes (%d of %d parts left); notes:\n%s", removed, len(left), len(sum.Files), strings.Join(notes, "\n"))
	}
	if size > rotMax {
		t.Errorf("%d bytes in the parts left, over --max-total %d", size, rotMax)
	}
	t.Logf("flood: %d calls in %v; %d parts written, %d left (%d bytes, --max-total %d), %d removals noted; the real load in %s",
		fl.calls, fl.elapsed.Round(time.Millisecond), len(sum.Files), len(left), size, rotMax, removed, filepath.Base(holder))
}
