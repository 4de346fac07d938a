package replay

import (
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

func sumPtr[T any](v T) *T { return &v }

// testCall builds a kexec_load call with the given segment hashes.
func sumTestCall(id uint64, comm, exe string, uid uint32, ret int64, errno string, shas ...string) *Call {
	c := &Call{
		ID: id, Syscall: "kexec_load", Time: time.Unix(1700000000+int64(id), 0).UTC(),
		Caller:  Caller{PID: 100 + uint32(id), UID: uid, EUID: uid, LoginUID: noLoginUID, Comm: comm, Exe: exe},
		Args:    Args{Flags: 0x3e0000, FlagNames: []string{"KEXEC_ARCH_X86_64"}, NrSegments: sumPtr(uint64(len(shas)))},
		Outcome: "ok", Ret: sumPtr(ret),
	}
	if ret < 0 {
		c.Outcome, c.Errno = "error", errno
	}
	for i, s := range shas {
		c.Payloads = append(c.Payloads, &Payload{Kind: "segment", Index: i, Source: "syscall-entry",
			Total: 4096, Captured: 4096, SHA256: s, Complete: true})
	}
	return c
}

func sumCountOf(cs []Count, key string) int {
	for _, c := range cs {
		if c.Key == key {
			return c.Calls
		}
	}
	return 0
}

func TestSummaryCounts(t *testing.T) {
	s := newSummary()
	s.setHeader(format.Header{Hostname: "h1", MachineID: "m1", KernelRelease: "6.1.0-56-amd64", AttachMode: "raw", RecordLayout: 1})
	s.addCall(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb"))
	s.addCall(sumTestCall(2, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "cc"))
	s.addCall(sumTestCall(3, "evil", "/tmp/evil", 1000, -1, "EPERM", "aa"))
	u := sumTestCall(4, "kexec", "/usr/sbin/kexec", 0, 0, "")
	u.Outcome, u.Ret = "unfinished", nil
	u.Syscall = "kexec_file_load"
	u.Payloads = []*Payload{{Kind: "kernel", SHA256: "dd", Total: 100, Captured: 60, Reasons: []string{"ring-full"},
		Identity: &identify.Report{Type: "bzimage", Summary: "Linux bzImage 6.1.0-57", KernelVersion: "6.1.0-57-amd64"}}}
	u.Problems = []string{"lost exit"}
	s.addCall(u)
	bad := sumTestCall(5, "kexec", "/usr/sbin/kexec", 0, 0, "", "ee")
	bad.Purgatory = &identify.PurgatoryVerdict{Found: true, Match: false, Stored: "11", Computed: "22", Detail: "segment 3 differs"}
	s.addCall(bad)
	good := sumTestCall(6, "kexec", "/usr/sbin/kexec", 0, 0, "", "ee")
	good.Purgatory = &identify.PurgatoryVerdict{Found: true, Match: true}
	s.addCall(good)
	s.finish()

	if s.Calls != 6 {
		t.Errorf("calls = %d, want 6", s.Calls)
	}
	checks := []struct {
		name string
		cs   []Count
		key  string
		want int
	}{
		{"syscall", s.BySyscall, "kexec_load", 5},
		{"syscall", s.BySyscall, "kexec_file_load", 1},
		{"outcome", s.ByOutcome, "ok", 4},
		{"outcome", s.ByOutcome, "error", 1},
		{"outcome", s.ByOutcome, "unfinished", 1},
		{"errno", s.ByErrno, "EPERM", 1},
		{"process", s.ByProcess, "kexec /usr/sbin/kexec", 5},
		{"process", s.ByProcess, "evil /tmp/evil", 1},
		{"user", s.ByUser, "uid 0", 5},
		{"user", s.ByUser, "uid 1000", 1},
		{"truncated", s.TruncatedByReason, "ring-full", 1},
		{"problems", s.Problems, "lost exit", 1},
	}
	for _, c := range checks {
		if got := sumCountOf(c.cs, c.key); got != c.want {
			t.Errorf("by %s[%q] = %d, want %d (%v)", c.name, c.key, got, c.want, c.cs)
		}
	}
	// Most calls first.
	if s.BySyscall[0].Key != "kexec_load" {
		t.Errorf("by syscall not sorted by count: %v", s.BySyscall)
	}
	// Distinct payloads: aa (3 uses), bb, cc, dd, ee (2 uses).
	if len(s.Payloads) != 5 {
		t.Fatalf("distinct payloads = %d, want 5", len(s.Payloads))
	}
	uses := map[string]int{}
	for _, p := range s.Payloads {
		uses[p.SHA256] = p.Uses
	}
	if uses["aa"] != 3 || uses["ee"] != 2 || uses["dd"] != 1 {
		t.Errorf("uses = %v", uses)
	}
	if s.PayloadRefs != 8 || s.Truncated != 1 {
		t.Errorf("payload refs %d truncated %d, want 8, 1", s.PayloadRefs, s.Truncated)
	}
	if len(s.Kernels) != 1 || s.Kernels[0].KernelVersion != "6.1.0-57-amd64" || s.Kernels[0].SHA256 != "dd" {
		t.Errorf("kernels = %+v", s.Kernels)
	}
	p := s.Purgatory
	if p.Checked != 2 || p.Match != 1 || p.Mismatch != 1 || len(p.Mismatches) != 1 || p.Mismatches[0].CallID != 5 {
		t.Errorf("purgatory = %+v", p)
	}
	if s.CallsWithProblems != 1 {
		t.Errorf("calls with problems = %d", s.CallsWithProblems)
	}
	if !s.Span.FirstCall.Equal(time.Unix(1700000001, 0)) || !s.Span.LastCall.Equal(time.Unix(1700000006, 0)) {
		t.Errorf("span = %v .. %v", s.Span.FirstCall, s.Span.LastCall)
	}
}

func TestSummaryTotal(t *testing.T) {
	a := newSummary()
	a.setHeader(format.Header{Hostname: "h1", MachineID: "m1"})
	a.setStatus(format.Status{Clean: true, ChainOK: true, Signed: true, SignatureOK: true})
	a.setStats(format.Stats{"enter_dropped": 2})
	a.addCall(sumTestCall(1, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa"))
	a.finish()
	b := newSummary()
	b.setHeader(format.Header{Hostname: "h2", MachineID: "m2"})
	b.setStatus(format.Status{Clean: false, ChainOK: true})
	b.setStats(format.Stats{"enter_dropped": 3})
	b.addCall(sumTestCall(2, "kexec", "/usr/sbin/kexec", 0, 0, "", "aa", "bb"))
	b.addCall(sumTestCall(3, "kexec", "/usr/sbin/kexec", 0, -16, "EBUSY"))
	b.finish()

	tot := totalOf([]*Summary{a, b})
	if tot.Files != 2 || tot.Calls != 3 {
		t.Errorf("files %d calls %d, want 2, 3", tot.Files, tot.Calls)
	}
	if tot.Host != nil {
		t.Errorf("total over two hosts kept host %+v", tot.Host)
	}
	if tot.Stream.Clean || !tot.Stream.ChainOK || tot.Stream.Signed {
		t.Errorf("total integrity = %+v, want worst of the files", tot.Stream)
	}
	if tot.Stats["enter_dropped"] != 5 {
		t.Errorf("stats summed = %v", tot.Stats)
	}
	if len(tot.Payloads) != 2 || tot.Payloads[0].SHA256 != "aa" || tot.Payloads[0].Uses != 2 {
		t.Errorf("total payloads = %+v", tot.Payloads)
	}
	// The total does not write into the files' summaries.
	if got := a.Payloads[0].Kinds; len(got) != 1 || got[0] != "segment 0" {
		t.Errorf("file summary changed by Total: kinds %v", got)
	}
	if sumCountOf(tot.ByErrno, "EBUSY") != 1 || sumCountOf(tot.ByOutcome, "ok") != 2 {
		t.Errorf("total counts %v %v", tot.ByErrno, tot.ByOutcome)
	}
}

// The lists that could grow with the calls are capped; counts stay exact.
func TestSummaryBounded(t *testing.T) {
	s := newSummary()
	for i := range 3 * MaxExamples {
		c := sumTestCall(uint64(i), "kexec", "/usr/sbin/kexec", 0, 0, "", "aa")
		c.Payloads[0].Complete = false
		c.Payloads[0].Reasons = []string{"snaplen"}
		c.Problems = []string{"problem in call " + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		c.Purgatory = &identify.PurgatoryVerdict{Found: true}
		s.addCall(c)
	}
	s.finish()
	if s.Truncated != 3*MaxExamples || len(s.TruncatedExamples) != MaxExamples {
		t.Errorf("truncated %d examples %d", s.Truncated, len(s.TruncatedExamples))
	}
	if s.Purgatory.Mismatch != 3*MaxExamples || len(s.Purgatory.Mismatches) != MaxExamples {
		t.Errorf("mismatch %d listed %d", s.Purgatory.Mismatch, len(s.Purgatory.Mismatches))
	}
	if len(s.Problems) != MaxExamples || s.CallsWithProblems != 3*MaxExamples {
		t.Errorf("problems listed %d, calls with problems %d", len(s.Problems), s.CallsWithProblems)
	}
}

// summarizePath runs the summary the way `kexecrec summarize` does (calls
// in reused memory, decoded on another goroutine), without identification.
func summarizePath(t testing.TB, path string) (*Summary, error) {
	t.Helper()
	c, err := Open(path, OpenOptions{Salvage: true, Reuse: true, Pipelined: true})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s := newSummary()
	err = summarizeCapture(s, c, nil)
	return s.finish(), err
}

// Counts over calls that went through the real byte layout, the container
// and the decoder.
func TestSummaryFromCapture(t *testing.T) {
	path := t.TempDir() + "/cap.kxr"
	sw, f := newSynthWriter(t, path)
	kernel := make([]byte, 8192)
	copy(kernel, "kernel bytes")
	purg := []byte("purgatory bytes")
	sw.call(t, synthCall{id: 1, comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{purg, kernel}, trunc: -1})
	sw.call(t, synthCall{id: 2, comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{purg, kernel}, trunc: -1})
	sw.call(t, synthCall{id: 3, comm: "evil", exe: "/tmp/evil", uid: 1000, flags: 0x3e0000, ret: -1, segs: [][]byte{purg}, trunc: -1})
	sw.call(t, synthCall{id: 4, comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{purg, kernel[:100]}, trunc: 1, reasons: []string{"snaplen"}})
	sw.call(t, synthCall{id: 5, comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{purg}, trunc: -1, noExit: true})
	sw.finish(t, f, format.Stats{"calls": 5, "enter_dropped": 2}, true)

	s, err := summarizePath(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Calls != 5 {
		t.Fatalf("calls = %d, want 5", s.Calls)
	}
	for _, c := range []struct {
		cs   []Count
		key  string
		want int
	}{
		{s.BySyscall, "kexec_load", 5},
		{s.ByOutcome, "ok", 3},
		{s.ByOutcome, "error", 1},
		{s.ByOutcome, "unfinished", 1},
		{s.ByErrno, "EPERM", 1},
		{s.ByProcess, "kexec /usr/sbin/kexec", 4},
		{s.ByProcess, "evil /tmp/evil", 1},
		{s.ByUser, "uid 1000", 1},
		{s.TruncatedByReason, "snaplen", 1},
	} {
		if got := sumCountOf(c.cs, c.key); got != c.want {
			t.Errorf("%q = %d, want %d", c.key, got, c.want)
		}
	}
	// purg, kernel, kernel[:100]
	if len(s.Payloads) != 3 || s.PayloadRefs != 8 || s.Truncated != 1 {
		t.Errorf("payloads %d refs %d truncated %d, want 3, 8, 1", len(s.Payloads), s.PayloadRefs, s.Truncated)
	}
	if s.Payloads[0].Uses != 5 || s.Payloads[0].Size != uint64(len(purg)) {
		t.Errorf("first payload = %+v, want the purgatory bytes used 5 times", s.Payloads[0])
	}
	if s.Stats["enter_dropped"] != 2 {
		t.Errorf("stats = %v", s.Stats)
	}
	if !s.Stream.Clean || !s.Stream.ChainOK || s.Partial {
		t.Errorf("integrity = %+v partial %v", s.Stream, s.Partial)
	}
	if s.Host == nil || s.Host.Hostname != "testhost" || s.Host.AttachMode != "raw" {
		t.Errorf("host = %+v", s.Host)
	}
	want := synthHeader.WallStart.Add(1 * time.Millisecond)
	if !s.Span.FirstCall.Equal(want) {
		t.Errorf("first call at %v, want %v", s.Span.FirstCall, want)
	}
}

// addExamples keeps appending until MaxExamples, one or many at a time.
func TestAddExamples(t *testing.T) {
	var got []int
	for i := range MaxExamples - 2 {
		got = addExamples(got, i)
	}
	got = addExamples(got, 1000, 1001, 1002, 1003)
	if len(got) != MaxExamples || got[MaxExamples-2] != 1000 || got[MaxExamples-1] != 1001 {
		t.Fatalf("len %d, tail %v", len(got), got[len(got)-3:])
	}
	if got = addExamples(got, 7); len(got) != MaxExamples {
		t.Fatalf("appended past the cap: %d", len(got))
	}
	if got := addExamples[int](nil); got != nil {
		t.Fatalf("nothing to add gave %v", got)
	}
}
