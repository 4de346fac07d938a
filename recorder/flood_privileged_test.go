package recorder

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

func TestPrivilegedFlood(t *testing.T) {
	pol := DefaultUnprivilegedPolicy(0)
	// The flood gets no ring wait (the default); the real load may wait
	// the most the recorder allows, 10 s: where other test packages run
	// beside this one on two cores, the reader alone can need more than
	// the default 5 s to drain 128 MiB (a run took 5.1 s and lost pieces
	// while the flood was held to its ring share), and what this test
	// asserts is that the flood does not crowd the real load out.
	src := attachRaw(t, AttachConfig{RingWait: MaxRingWait, RingWaitUnprivileged: -1, Unprivileged: pol})
	path := filepath.Join(t.TempDir(), "flood.kxr")
	rec := New(Config{Source: src, Sink: &FileSink{Base: path}, Header: HostHeader("test")})
	// The real load, a third into the flood.
	run := runFlood(t, rec, floodFor, privSegSize, 77)
	fl, priv := run.fl, run.priv

	// Every call is recorded or counted as dropped: wait until the recorder
	// has read all the calls BPF saw (the deadline only stops a broken run).
	total := uint64(fl.calls + 1)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		cnt := counterMap(mustCounters(t, src))
		p := rec.Progress()
		if cnt["calls"] == total && p.CallsCompleted+cnt["exit_dropped"] == total && p.CallsSeen+cnt["enter_dropped"] == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls %d (made %d): %d entered and %d exited in the recorder; counters %v", cnt["calls"], total, p.CallsSeen, p.CallsCompleted, cnt)
		}
	}
	sum := run.stop(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, path)
	if !c.status.Clean {
		t.Fatalf("capture not clean: %+v", c.status)
	}

	// The calls in the file, by thread.
	floodIDs, privID := map[uint64]bool{}, uint64(0)
	var meta int64 // uncompressed bytes of every record but the payload blobs
	for _, r := range c.records {
		meta += int64(len(r.Data))
		if r.Type != layout.RecEnter {
			continue
		}
		e, err := layout.ParseEnter(r.Data, bo)
		if err != nil {
			t.Fatal(err)
		}
		switch int(e.TID) {
		case fl.tid:
			if e.UID != floodUID {
				t.Errorf("flood call %d with uid %d", e.CallID, e.UID)
			}
			floodIDs[e.CallID] = true
		case priv.TID:
			privID = e.CallID
		}
	}
	st := c.stats
	if got := uint64(len(floodIDs)) + st["enter_dropped"]; got != uint64(fl.calls) || privID == 0 {
		t.Errorf("flood calls: %d made, %d in the file + %d counted dropped; privileged call in the file: %v",
			fl.calls, len(floodIDs), st["enter_dropped"], privID != 0)
	}

	// The real load's 128 MiB complete and exact.
	var privDone int
	var floodPayload uint64
	for _, p := range c.payloads(t) {
		switch {
		case p.CallID == privID:
			if int(p.Index) < floodSegs && p.Complete && p.Total == privSegSize && p.SHA256 == priv.Segments[p.Index].SHA256 {
				privDone++
			} else {
				t.Errorf("privileged segment %d: %d of %d bytes, complete %v, reasons %v", p.Index, p.Captured, p.Total, p.Complete, p.Reasons)
			}
		case floodIDs[p.CallID]:
			floodPayload += p.Captured
			if p.Captured > pol.Snaplen || !slices.Contains(p.Reasons, "policy") && p.Captured < pol.Snaplen {
				t.Errorf("flood payload of call %d: %d bytes, reasons %v", p.CallID, p.Captured, p.Reasons)
			}
		}
	}
	if privDone != floodSegs {
		t.Errorf("%d of %d privileged segments complete and exact", privDone, floodSegs)
	}

	// The bound: the smaller of the uid's bucket and the bucket shared by
	// all unprivileged uids (burst + rate x flood time) for the flood's
	// payload bytes; the file holds at most those, the real load, and the
	// records uncompressed (the writer compresses them), plus 1 MiB for
	// framing and the header.
	bucket := func(rate, burst uint64) uint64 { return burst + uint64(float64(rate)*fl.elapsed.Seconds()) + 1 }
	payloadBound := min(bucket(pol.Rate, pol.Burst), bucket(pol.TotalRate, pol.TotalBurst))
	if floodPayload > payloadBound {
		t.Errorf("flood payload bytes in the file %d > the buckets' %d (burst %d + %d/s x %v)", floodPayload, payloadBound, pol.Burst, pol.Rate, fl.elapsed)
	}
	fileBound := int64(payloadBound) + floodSegs*privSegSize + meta + 1<<20
	if fi.Size() > fileBound {
		t.Errorf("capture %d bytes > bound %d", fi.Size(), fileBound)
	}
	if st["policy_calls"] == 0 || st["policy_bytes"] == 0 {
		t.Errorf("policy counters %d calls %d bytes", st["policy_calls"], st["policy_bytes"])
	}
	t.Logf("flood: %d calls in %v (%.0f/s) as uid %d, %d recorded, %d entries dropped; without the policy they pass %d GiB",
		fl.calls, fl.elapsed.Round(time.Millisecond), float64(fl.calls)/fl.elapsed.Seconds(), floodUID, len(floodIDs), st["enter_dropped"],
		uint64(fl.calls)*floodSegs*floodSegSize>>30)
	t.Logf("capture %.1f MB (bound %.1f MB): real load 134.2 MB, flood payload %.1f MB (bucket bound %.1f MB), records %.1f MB uncompressed; %.1f MB per second of flood beyond the real load",
		float64(fi.Size())/1e6, float64(fileBound)/1e6, float64(floodPayload)/1e6, float64(payloadBound)/1e6, float64(meta)/1e6,
		(float64(fi.Size())-floodSegs*privSegSize)/1e6/fl.elapsed.Seconds())
	t.Logf("policy: %d calls cut, %d bytes (rate %d, ring %d); privileged call %v; stats %v", st["policy_calls"], st["policy_bytes"],
		st["policy_rate_bytes"], st["policy_ring_bytes"], time.Duration(priv.DurationNS).Round(time.Millisecond), sum.Stats)
}
