package vmtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/recorder/trigger"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// TestAArch32Checks: the AArch32 scenario's checks accept a capture that
// holds the trigger's calls exactly, and name each way one can differ (an
// argument, a segment table entry, the entry size, a segment's bytes, the
// result, the ABI).
func TestAArch32Checks(t *testing.T) {
	exp := expectations{arch: guestArches["arm64"], noFileLoad: true, aarch32Cmdline: Sha256Hex([]byte(plan.AArch32Cmdline + "\x00"))}
	var tr trigger.Result
	tr.PID, tr.TID, tr.Nr, tr.Ret, tr.CapDropped = 300, 301, nrLoadAArch32, eperm, true
	tr.Args = [6]uint64{0x100000, uint64(len(plan.AArch32Sizes)), 0xf7f00000, plan.AArch32Flags}
	var segs []layout.Segment
	var payloads []layout.Payload
	for i, n := range plan.AArch32Sizes {
		b := make([]byte, n)
		trigger.Pattern(b, plan.AArch32Seed*1000+uint64(i)+1)
		sha := Sha256Hex(b)
		exp.aarch32Segs = append(exp.aarch32Segs, sha)
		s := trigger.SegmentResult{Buf: 0xf7e00000 + uint64(i)<<16, BufSz: uint64(n), Mem: 0x1000000 + uint64(i)<<20, MemSz: 0x10000, SHA256: sha}
		tr.Segments = append(tr.Segments, s)
		segs = append(segs, layout.Segment{Buf: s.Buf, BufSz: s.BufSz, Mem: s.Mem, MemSz: s.MemSz})
		payloads = append(payloads, layout.Payload{Kind: layout.KindSegment, Index: uint16(i), Source: layout.SrcSyscallEntry,
			Total: uint64(n), Captured: uint64(n), SHA256: sha, Complete: true})
	}
	w := exp.wants(plan.AArch32)
	if len(w) != 2 || w[0].nr != 347 || w[1].nr != 401 || w[0].abi != layout.ABIAArch32 || w[1].ret != enosys {
		t.Fatalf("wants %+v", w)
	}
	call := func() *CapCall {
		return &CapCall{
			Enter: &layout.Enter{PID: 300, TID: 301, SyscallNr: 347, ABI: layout.ABIAArch32, Hook: layout.HookRawSyscall,
				Comm: aarch32Comm, Args: tr.Args},
			Process:  &layout.Process{},
			Exit:     &layout.Exit{Ret: eperm, SyscallNr: 347},
			Segments: &layout.Segments{NrPassed: 3, NrCopied: 3, EntrySize: 16, Segs: append([]layout.Segment(nil), segs...)},
			Payloads: append([]layout.Payload(nil), payloads...),
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(c *CapCall)
		problem string // "" = none
	}{
		{name: "as made"},
		{name: "an argument", edit: func(c *CapCall) { c.Enter.Args[2] = 0xf7f00004 }, problem: "args"},
		{name: "upper half of an argument", edit: func(c *CapCall) { c.Enter.Args[0] |= 1 << 32 }, problem: "args"},
		{name: "abi arm64", edit: func(c *CapCall) { c.Enter.ABI = layout.ABIARM64 }, problem: "abi 4"},
		{name: "native entry size", edit: func(c *CapCall) { c.Segments.EntrySize = 32 }, problem: "16-byte compat entries"},
		{name: "a table entry", edit: func(c *CapCall) { c.Segments.Segs[1].Mem++ }, problem: "segment 1 recorded as"},
		{name: "a segment's bytes", edit: func(c *CapCall) { c.Payloads[2].SHA256 = strings.Repeat("0", 64) }, problem: "segment 2"},
		{name: "the result", edit: func(c *CapCall) { c.Exit.Ret = 0 }, problem: "returned 0"},
		{name: "another thread", edit: func(c *CapCall) { c.Enter.TID = 300 }, problem: "tid 300"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := call()
			if tc.edit != nil {
				tc.edit(c)
			}
			var problems []string
			collect := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
			checkCall(c, nil, w[0], layout.HookRawSyscall, collect)
			checkTriggerCall(c, tr, w[0], collect)
			got := strings.Join(problems, "; ")
			if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q, want %q", got, tc.problem)
			}
		})
	}

	// The guest side reads the trigger's JSON as it prints it.
	out, _ := json.MarshalIndent(tr, "", "  ")
	file := tr
	file.Nr, file.Ret, file.Segments = nrFileAArch32, enosys, nil
	outFile, _ := json.MarshalIndent(file, "", "  ")
	r := plan.Result{Scenario: plan.AArch32, Commands: []plan.Command{{Output: string(out) + "\n"}, {Output: string(outFile) + "\n"}}}
	var problems []string
	checkGuestSide(r, true, func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
	if len(problems) > 0 {
		t.Errorf("guest side: %v", problems)
	}
	r.Commands[1].Output = strings.Replace(r.Commands[1].Output, `"ret": -38`, `"ret": -1`, 1)
	problems = nil
	checkGuestSide(r, true, func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) })
	if len(problems) != 1 || !strings.Contains(problems[0], "returned -1") {
		t.Errorf("guest side with kexec_file_load EPERM on a kernel without KEXEC_FILE: %v", problems)
	}
}
