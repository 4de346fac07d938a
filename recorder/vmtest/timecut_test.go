package vmtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/recorder/vmtest/plan"
)

// TestTimeCutRefusedCall checks the bed's rule for a refused unprivileged
// kexec_load on a slow guest: payloads the unprivileged time limit ended
// pass only as exact prefixes, flagged loop-limit and nothing else, in a
// call that lasted at least the limit its capture header states. It runs
// without qemu: a slow guest is what cannot be arranged on demand.
func TestTimeCutRefusedCall(t *testing.T) {
	kernel := make([]byte, 1000)
	initrd := make([]byte, 300)
	for i := range kernel {
		kernel[i] = byte(i * 7)
	}
	for i := range initrd {
		initrd[i] = byte(i*3 + 1)
	}
	exp := expectations{kernelSeg: Sha256Hex(kernel), initrd: Sha256Hex(initrd), kernelSegBytes: kernel, initrdBytes: initrd}

	cut := func(index uint16, data []byte, n uint64) layout.Payload {
		return layout.Payload{Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry,
			Total: uint64(len(data)), Captured: n, SHA256: Sha256Hex(data[:n]),
			Missing: []layout.Range{{Off: n, Len: uint64(len(data)) - n}}, Reasons: []string{"loop-limit"}}
	}
	// call builds the refused call: kernel segment cut after 600 bytes,
	// initrd segment not reached, the call lasting `took`.
	call := func(took time.Duration, edit func(ps []layout.Payload)) *CapCall {
		ps := []layout.Payload{cut(0, kernel, 600), cut(1, initrd, 0)}
		if edit != nil {
			edit(ps)
		}
		return &CapCall{
			Enter: &layout.Enter{PID: 42, SyscallNr: nrLoad, ABI: layout.ABIX64, Hook: layout.HookRawSyscall, Comm: "kexec",
				Args: [6]uint64{0, 2, 0, archX86}},
			Process:  &layout.Process{},
			Exit:     &layout.Exit{Ret: eperm, SyscallNr: nrLoad, DurationNS: uint64(took)},
			Segments: &layout.Segments{NrPassed: 2, NrCopied: 2, Segs: []layout.Segment{{BufSz: 1000}, {BufSz: 300}}},
			Payloads: ps,
		}
	}
	capt := &Capture{Header: format.Header{Options: map[string]string{"time_limit_unprivileged": "100ms"}}}

	for _, tc := range []struct {
		name    string
		took    time.Duration
		edit    func(ps []layout.Payload)
		options map[string]string
		cut     bool   // timeCutCall must call it a time cut
		problem string // checkCall must report this ("" = none)
	}{
		{name: "cut by the limit", took: 100 * time.Millisecond, cut: true},
		{name: "faster than the limit", took: 50 * time.Millisecond, problem: "incomplete"},
		{name: "no limit in the header", took: time.Second, options: map[string]string{}, problem: "incomplete"},
		{name: "ring-full too", took: time.Second, edit: func(ps []layout.Payload) { ps[0].Reasons = []string{"loop-limit", "ring-full"} }, problem: "incomplete"},
		{name: "wrong prefix", took: time.Second, cut: true, edit: func(ps []layout.Payload) { ps[0].SHA256 = Sha256Hex(kernel[1:601]) }, problem: "no complete kernel segment"},
		{name: "hole inside", took: time.Second, cut: true,
			edit: func(ps []layout.Payload) { ps[0].Missing = []layout.Range{{Off: 100, Len: 10}, {Off: 600, Len: 400}} }, problem: "incomplete"},
		{name: "initrd complete", took: time.Second, cut: true,
			edit: func(ps []layout.Payload) {
				ps[1] = layout.Payload{Kind: layout.KindSegment, Index: 1, Source: layout.SrcSyscallEntry, Total: 300, Captured: 300, SHA256: exp.initrd, Complete: true}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *capt
			if tc.options != nil {
				c.Header.Options = tc.options
			}
			cc := call(tc.took, tc.edit)
			dropped, note := timeCutCall(&c, cc)
			if (note != "") != tc.cut {
				t.Fatalf("timeCutCall = %d, %q; want a cut: %v", dropped, note, tc.cut)
			}
			if tc.cut && tc.name == "cut by the limit" && dropped != 400+300 {
				t.Errorf("dropped %d bytes, want 700", dropped)
			}
			w := exp.wants(plan.NoPerm)[0]
			w.timeCut = note != ""
			var problems []string
			checkCall(cc, w, layout.HookRawSyscall, func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf(format, args...))
			})
			got := strings.Join(problems, "; ")
			if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Errorf("checkCall problems %q, want %q", got, tc.problem)
			}
		})
	}
}
