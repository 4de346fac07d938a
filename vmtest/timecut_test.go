package vmtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// TestTimeCutRefusedCall checks the bed's rule for a refused unprivileged
// kexec_load on a slow guest: payloads the unprivileged time limit ended
// pass only in the shape the hook produces (complete, then one cut on a
// piece boundary, then cut at 0), as exact prefixes flagged loop-limit and
// nothing else, in a call that lasted the limit its capture header states.
// It runs without qemu: a slow guest is what cannot be arranged on demand.
func TestTimeCutRefusedCall(t *testing.T) {
	const piece = layout.PieceMax
	fx := newCutFixture(3*piece+1000, "loop-limit")
	kernel, initrd, exp, cut, whole := fx.kernel, fx.initrd, fx.exp, fx.cut, fx.whole
	// call builds the refused call: by default the kernel segment (0) cut
	// after two pieces and the initrd segment (1) not reached, the call
	// lasting `took`.
	call := func(took time.Duration, edit func(ps []layout.Payload)) *CapCall {
		ps := []layout.Payload{cut(0, kernel, 2*piece), cut(1, initrd, 0)}
		if edit != nil {
			edit(ps)
		}
		return &CapCall{
			Enter: &layout.Enter{PID: 42, SyscallNr: nrLoad, ABI: layout.ABIX64, Hook: layout.HookRawSyscall, Comm: "kexec",
				Args: [6]uint64{0, 2, 0, archX86}},
			Process:  &layout.Process{},
			Exit:     &layout.Exit{Ret: eperm, SyscallNr: nrLoad, DurationNS: uint64(took)},
			Segments: &layout.Segments{NrPassed: 2, NrCopied: 2, Segs: []layout.Segment{{BufSz: uint64(len(kernel))}, {BufSz: uint64(len(initrd))}}},
			Payloads: ps,
		}
	}
	header := map[string]string{"time_limit_unprivileged": "100ms"}

	for _, tc := range []struct {
		name          string
		took          time.Duration
		edit          func(ps []layout.Payload)
		options       map[string]string
		bytes, pieces uint64 // what timeCutCall must find cut (0: not a time cut)
		problem       string // checkCall must report this ("" = none)
	}{
		{name: "cut by the limit", took: 100 * time.Millisecond, bytes: piece + 1000 + 300, pieces: 2 + 1},
		{name: "cut between payloads", took: time.Second, bytes: 300, pieces: 1,
			edit: func(ps []layout.Payload) { ps[0] = whole(0, kernel) }},
		{name: "faster than the limit", took: 50 * time.Millisecond, problem: "incomplete"},
		{name: "no limit in the header", took: time.Second, options: map[string]string{}, problem: "incomplete"},
		{name: "ring-full too", took: time.Second, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0].Reasons = []string{"loop-limit", "ring-full"} }},
		{name: "not on a piece boundary", took: time.Second, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[0] = cut(0, kernel, 2*piece+5) }},
		{name: "hole inside", took: time.Second, problem: "incomplete",
			edit: func(ps []layout.Payload) {
				ps[0].Missing = []layout.Range{{Off: 100, Len: 10}, {Off: 2 * piece, Len: piece + 1000}}
			}},
		{name: "complete after the cut", took: time.Second, problem: "incomplete",
			edit: func(ps []layout.Payload) { ps[1] = whole(1, initrd) }},
		{name: "wrong prefix", took: time.Second, bytes: piece + 1000 + 300, pieces: 3, problem: "no complete kernel segment",
			edit: func(ps []layout.Payload) { ps[0].SHA256 = Sha256Hex(kernel[1 : 2*piece+1]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Capture{Header: format.Header{Options: header}}
			if tc.options != nil {
				c.Header.Options = tc.options
			}
			cc := call(tc.took, tc.edit)
			tcut := timeCutCall(c, cc)
			switch {
			case tc.bytes == 0 && tcut != nil:
				t.Fatalf("timeCutCall = %+v, want no time cut", *tcut)
			case tc.bytes != 0 && (tcut == nil || tcut.bytes != tc.bytes || tcut.pieces != tc.pieces):
				t.Fatalf("timeCutCall = %+v, want %d bytes in %d pieces", tcut, tc.bytes, tc.pieces)
			}
			w := exp.wants(plan.NoPerm)[0]
			w.timeCut = tcut != nil
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

// cutFixture is a known kernel segment of kernelLen bytes and a 300-byte
// initrd, their expectations, and payload builders: cut holds the first n
// bytes of data flagged reason, whole all of it.
type cutFixture struct {
	kernel, initrd []byte
	exp            expectations
	cut            func(index uint16, data []byte, n uint64) layout.Payload
	whole          func(index uint16, data []byte) layout.Payload
}

func newCutFixture(kernelLen int, reason string) cutFixture {
	kernel := make([]byte, kernelLen)
	initrd := make([]byte, 300)
	for i := range kernel {
		kernel[i] = byte(i * 7)
	}
	for i := range initrd {
		initrd[i] = byte(i*3 + 1)
	}
	return cutFixture{
		kernel: kernel, initrd: initrd,
		exp: expectations{kernelSeg: Sha256Hex(kernel), initrd: Sha256Hex(initrd), kernelSegBytes: kernel, initrdBytes: initrd, arch: guestArches["amd64"]},
		cut: func(index uint16, data []byte, n uint64) layout.Payload {
			return layout.Payload{Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry,
				Total: uint64(len(data)), Captured: n, SHA256: Sha256Hex(data[:n]),
				Missing: []layout.Range{{Off: n, Len: uint64(len(data)) - n}}, Reasons: []string{reason}}
		},
		whole: func(index uint16, data []byte) layout.Payload {
			return layout.Payload{Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry,
				Total: uint64(len(data)), Captured: uint64(len(data)), SHA256: Sha256Hex(data), Complete: true}
		},
	}
}
