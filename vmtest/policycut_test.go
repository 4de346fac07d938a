package vmtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// TestPolicyCutRefusedCall checks the bed's rule for a kexec_load refused
// with EPERM whose payloads the unprivileged policy cut: it passes only
// when every payload holds exactly its first min(snaplen, length) bytes,
// the cut ones flagged policy and nothing else, and the policy counters say
// exactly that; a shorter cut (a bucket, the ring share), another reason, a
// wrong prefix or a call the kernel did not refuse stays a failure.
func TestPolicyCutRefusedCall(t *testing.T) {
	const snaplen = 1000
	fx := newCutFixture(5000, "policy")
	kernel, initrd, exp, cut, whole := fx.kernel, fx.initrd, fx.exp, fx.cut, fx.whole
	other := make([]byte, 3000) // a segment whose bytes the bed does not know (purgatory)
	// call builds the refused call: the kernel segment (0) cut at the
	// snaplen, the initrd segment (1), shorter, whole, another segment (2)
	// cut.
	call := func(ret int64, edit func(ps []layout.Payload)) *CapCall {
		ps := []layout.Payload{cut(0, kernel, snaplen), whole(1, initrd), cut(2, other, snaplen)}
		if edit != nil {
			edit(ps)
		}
		return &CapCall{
			Enter: &layout.Enter{PID: 42, SyscallNr: nrLoad, ABI: layout.ABIX64, Hook: layout.HookRawSyscall, Comm: "kexec",
				Args: [6]uint64{0, 3, 0, archX86}},
			Process:  &layout.Process{},
			Exit:     &layout.Exit{Ret: ret, SyscallNr: nrLoad, DurationNS: 1e6},
			Segments: &layout.Segments{NrPassed: 3, NrCopied: 3, Segs: []layout.Segment{{BufSz: uint64(len(kernel))}, {BufSz: uint64(len(initrd))}, {BufSz: uint64(len(other))}}},
			Payloads: ps,
		}
	}
	header := map[string]string{"unprivileged_snaplen": "1000", "time_limit_unprivileged": "100ms"}

	for _, tc := range []struct {
		name    string
		ret     int64
		edit    func(ps []layout.Payload)
		options map[string]string
		bytes   uint64 // what policyCutCall must find cut (0: not a policy cut)
		problem string // checkCall must report this ("" = none)
	}{
		{name: "cut at the snaplen", ret: eperm, bytes: 4000 + 2000},
		{name: "an unknown segment short", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[2] = cut(2, other, 10) }},
		{name: "not refused", ret: 0, problem: "incomplete"},
		{name: "no snaplen in the header", ret: eperm, options: map[string]string{}, problem: "incomplete"},
		{name: "snaplen 0 in the header", ret: eperm, options: map[string]string{"unprivileged_snaplen": "0"}, problem: "incomplete"},
		{name: "shorter than the snaplen (a bucket)", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0] = cut(0, kernel, snaplen-100) }},
		{name: "nothing kept (the ring share)", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0] = cut(0, kernel, 0) }},
		{name: "ring-full too", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0].Reasons = []string{"policy", "ring-full"} }},
		{name: "loop-limit instead", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0].Reasons = []string{"loop-limit"} }},
		{name: "hole inside", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) {
				ps[0].Missing = []layout.Range{{Off: 100, Len: 10}, {Off: snaplen, Len: 4000}}
			}},
		{name: "a short payload cut", ret: eperm, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[1] = cut(1, initrd, 200) }},
		{name: "wrong prefix", ret: eperm, bytes: 4000 + 2000, problem: "no complete kernel segment",
			edit: func(ps []layout.Payload) { ps[0].SHA256 = Sha256Hex(kernel[1 : snaplen+1]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Capture{Header: format.Header{Options: header}}
			if tc.options != nil {
				c.Header.Options = tc.options
			}
			cc := call(tc.ret, tc.edit)
			pcut := policyCutCall(c, cc)
			switch {
			case tc.bytes == 0 && pcut != nil:
				t.Fatalf("policyCutCall = %+v, want no policy cut", *pcut)
			case tc.bytes != 0 && (pcut == nil || pcut.bytes != tc.bytes || pcut.calls != 1 || pcut.snaplen != snaplen):
				t.Fatalf("policyCutCall = %+v, want %d bytes at snaplen %d", pcut, tc.bytes, snaplen)
			}
			w := exp.wants(plan.NoPerm)[0]
			w.ret = tc.ret
			if pcut != nil {
				w.policyCut = pcut.snaplen
			}
			var problems []string
			checkCall(cc, nil, w, layout.HookRawSyscall, func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf(format, args...))
			})
			got := strings.Join(problems, "; ")
			if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Errorf("checkCall problems %q, want %q", got, tc.problem)
			}
		})
	}
}

// TestPolicyCounters: the counters must say exactly what the rule found
// cut, and nothing for a call it found whole.
func TestPolicyCounters(t *testing.T) {
	pcut := &policyCut{snaplen: 1000, bytes: 4000, calls: 1}
	for _, tc := range []struct {
		name  string
		stats format.Stats
		pcut  *policyCut
		want  string // a problem naming this counter ("" = none)
	}{
		{"as found", format.Stats{"policy_calls": 1, "policy_bytes": 4000}, pcut, ""},
		{"none, no cut", format.Stats{"policy_calls": 0}, nil, ""},
		{"bytes differ", format.Stats{"policy_calls": 1, "policy_bytes": 3999}, pcut, "policy_bytes"},
		{"a bucket cut too", format.Stats{"policy_calls": 1, "policy_bytes": 4000, "policy_rate_bytes": 1}, pcut, "policy_rate_bytes"},
		{"the shared bucket", format.Stats{"policy_calls": 1, "policy_bytes": 4000, "policy_total_rate_bytes": 1}, pcut, "policy_total_rate_bytes"},
		{"the ring share", format.Stats{"policy_calls": 1, "policy_bytes": 4000, "policy_ring_bytes": 5}, pcut, "policy_ring_bytes"},
		{"a cut the rule did not find", format.Stats{"policy_calls": 1, "policy_bytes": 10}, nil, "policy_calls"},
	} {
		var problems []string
		checkPolicyCounters(tc.stats, tc.pcut, func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf(format, args...))
		})
		got := strings.Join(problems, "; ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, "counter "+tc.want+" ") {
			t.Errorf("%s: problems %q, want %q", tc.name, got, tc.want)
		}
	}
}
