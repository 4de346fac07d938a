package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// The unprivileged policy, as BPF applies it to a caller without
// CAP_SYS_BOOT (every trigger call without KeepSysBoot).

// fourMiB is the call of these tests: 4 segments of 1 MiB.
func fourMiB(seed uint64) trigger.LoadSpec {
	segs := make([]trigger.Segment, 4)
	for i := range segs {
		segs[i] = trigger.Segment{Size: 1 << 20}
	}
	return trigger.LoadSpec{Entry: 0x100000, Segments: segs, Seed: seed}
}

// prefixSum is the SHA-256 of the first n bytes of segment i of a trigger
// call with that seed.
func prefixSum(seed uint64, i int, size, n int) string {
	buf := make([]byte, size)
	trigger.Pattern(buf, seed*1000+uint64(i)+1)
	s := sha256.Sum256(buf[:n])
	return hex.EncodeToString(s[:])
}

// checkCut checks that each segment of call was captured to want[i] bytes
// (its prefix, exactly), with the policy flag when cut.
func checkCut(t *testing.T, call *rawCall, seed uint64, size int, want []int) {
	t.Helper()
	if call.segs == nil || int(call.segs.NrCopied) != len(want) {
		t.Fatalf("segment table %+v, want %d entries", call.segs, len(want))
	}
	for i, n := range want {
		p := call.payloads[pkey{layout.KindSegment, uint16(i), layout.SrcSyscallEntry}]
		if p == nil || p.end == nil {
			t.Fatalf("segment %d: no payload end", i)
		}
		flags := uint32(0)
		if n < size {
			flags = layout.PFPolicy
		}
		e := p.end
		if e.Total != uint64(size) || e.Emitted != uint64(n) || e.Dropped != 0 || e.Flags != flags || p.captured != uint64(n) {
			t.Errorf("segment %d: end %+v captured %d, want total %d, emitted %d, flags %#x", i, *e, p.captured, size, n, flags)
		}
		if got := p.hex(); got != prefixSum(seed, i, size, n) {
			t.Errorf("segment %d: captured bytes are not the first %d of the buffer", i, n)
		}
	}
}

func TestPrivilegedUnprivilegedSnaplen(t *testing.T) {
	const cut = 64 << 10
	src := attachRaw(t, AttachConfig{Unprivileged: UnprivilegedPolicy{Snaplen: cut}})
	c := newRawCollector(src)
	c.start()
	res, call := c.loadAndWait(t, fourMiB(21))
	if !res.CapDropped {
		t.Fatal("the trigger kept CAP_SYS_BOOT")
	}
	checkEnter(t, res, call.enter)
	checkErrno(t, res, call.exit)
	checkCut(t, call, 21, 1<<20, []int{cut, cut, cut, cut})
	cnt := counterMap(mustCounters(t, src))
	if cnt["policy_calls"] != 1 || cnt["policy_bytes"] != 4*(1<<20-cut) || cnt["policy_rate_bytes"] != 0 || cnt["policy_ring_bytes"] != 0 {
		t.Errorf("counters %v: want policy_calls 1, policy_bytes %d, nothing by rate or ring", cnt, 4*(1<<20-cut))
	}
}

func TestPrivilegedUnprivilegedSnaplenZero(t *testing.T) {
	// 0 = full capture; no bucket, no share.
	src := attachRaw(t, AttachConfig{Unprivileged: UnprivilegedPolicy{Snaplen: 0}})
	c := newRawCollector(src)
	c.start()
	res, call := c.loadAndWait(t, fourMiB(22))
	checkSegments(t, res, call, 4)
	if cnt := counterMap(mustCounters(t, src)); cnt["policy_calls"] != 0 || cnt["policy_bytes"] != 0 {
		t.Errorf("counters %v: nothing may be cut", cnt)
	}
}

func TestPrivilegedUnprivilegedRate(t *testing.T) {
	// A burst of 100000 bytes and 1 byte per second (nothing refills within
	// the test): 65536 + 34464 bytes, then empty payloads; the next call
	// gets nothing at all but its records.
	const cut, burst = 64 << 10, 100000
	src := attachRaw(t, AttachConfig{Unprivileged: UnprivilegedPolicy{Snaplen: cut, Rate: 1, Burst: burst}})
	c := newRawCollector(src)
	c.start()
	_, call := c.loadAndWait(t, fourMiB(23))
	checkCut(t, call, 23, 1<<20, []int{cut, burst - cut, 0, 0})
	res, call := c.loadAndWait(t, fourMiB(24))
	checkEnter(t, res, call.enter)
	checkErrno(t, res, call.exit)
	checkCut(t, call, 24, 1<<20, []int{0, 0, 0, 0})
	cnt := counterMap(mustCounters(t, src))
	snapCut := uint64(8 * (1<<20 - cut))
	if cnt["policy_calls"] != 2 || cnt["policy_bytes"] != 8<<20-burst || cnt["policy_rate_bytes"] != 8<<20-burst-snapCut {
		t.Errorf("counters %v: want policy_calls 2, policy_bytes %d, policy_rate_bytes %d", cnt, 8<<20-burst, 8<<20-burst-snapCut)
	}
}

func TestPrivilegedUnprivilegedRingShare(t *testing.T) {
	// A share smaller than one piece: no piece of this caller is copied,
	// while its call records all are.
	src := attachRaw(t, AttachConfig{Unprivileged: UnprivilegedPolicy{RingBytes: 4096}})
	c := newRawCollector(src)
	c.start()
	res, call := c.loadAndWait(t, fourMiB(25))
	checkEnter(t, res, call.enter)
	checkErrno(t, res, call.exit)
	checkCut(t, call, 25, 1<<20, []int{0, 0, 0, 0})
	cnt := counterMap(mustCounters(t, src))
	if cnt["policy_calls"] != 1 || cnt["policy_bytes"] != 4<<20 || cnt["policy_ring_bytes"] != 4<<20 {
		t.Errorf("counters %v: want policy_calls 1, policy_bytes and policy_ring_bytes %d", cnt, 4<<20)
	}
}

func TestPrivilegedUnprivilegedTotalRate(t *testing.T) {
	// Each uid's own bucket would let each call keep its four 64 KiB
	// prefixes; the bucket shared by every unprivileged uid holds 100000
	// bytes (1 byte per second: nothing refills within the test). The
	// first uid gets 65536 + 34464 bytes, the second uid, with a full
	// bucket of its own, nothing: a range of uids shares one burst. What
	// the shared bucket refused goes back to the uid's bucket and is
	// counted under its own cause.
	const cut, total = 64 << 10, 100000
	src := attachRaw(t, AttachConfig{Unprivileged: UnprivilegedPolicy{Snaplen: cut, Rate: 1, Burst: 1 << 20, TotalRate: 1, TotalBurst: total}})
	c := newRawCollector(src)
	c.start()
	for i, want := range [][]int{{cut, total - cut, 0, 0}, {0, 0, 0, 0}} {
		seed := uint64(26 + i)
		spec := fourMiB(seed)
		spec.UID = uint32(65534 - i)
		res, call := c.loadAndWait(t, spec)
		if res.UID != spec.UID || call.enter == nil || call.enter.UID != spec.UID {
			t.Fatalf("call %d: made as uid %d, recorded %+v, want uid %d", i, res.UID, call.enter, spec.UID)
		}
		checkEnter(t, res, call.enter)
		checkErrno(t, res, call.exit)
		checkCut(t, call, seed, 1<<20, want)
	}
	cnt := counterMap(mustCounters(t, src))
	if cnt["policy_calls"] != 2 || cnt["policy_bytes"] != 8<<20-total || cnt["policy_total_rate_bytes"] != 8*cut-total || cnt["policy_rate_bytes"] != 0 {
		t.Errorf("counters %v: want policy_calls 2, policy_bytes %d, policy_total_rate_bytes %d, nothing by the per-uid rate", cnt, 8<<20-total, 8*cut-total)
	}
}
