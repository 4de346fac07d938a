package replay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

var wall0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const boot0 = 5_000_000_000

func testHeader() format.Header {
	return format.Header{ByteOrder: "little", RecordLayout: layout.Version, Arch: "amd64",
		WallStart: wall0, BootStartNS: boot0, AttachMode: "raw"}
}

func raw(b []byte) format.Record {
	return format.Record{Type: binary.LittleEndian.Uint16(b), Data: b}
}

func jrec(t *testing.T, typ uint16, v any) format.Record {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return format.Record{Type: typ, Data: b}
}

func enter(id, ts uint64, abi, nr uint32, args [6]uint64) layout.Enter {
	return layout.Enter{Header: layout.Header{CallID: id, TimeNS: ts}, PID: 4242, TID: 4243, PPID: 1,
		UID: 0, EUID: 0, LoginUID: 1000, SessionID: 7, SyscallNr: nr, ABI: abi, Hook: layout.HookRawSyscall,
		CPU: 1, MntNS: 4026531841, PidNS: 4026531836, CgroupID: 99, Args: args, Comm: "kexec"}
}

// feed adds records and collects every call returned, then flushes.
func feed(t *testing.T, d *Decoder, recs ...format.Record) []*Call {
	t.Helper()
	var out []*Call
	for _, r := range recs {
		calls, err := d.Add(r)
		if err != nil {
			t.Fatalf("Add(type %d): %v", r.Type, err)
		}
		out = append(out, calls...)
	}
	return append(out, d.Flush()...)
}

func hasProblem(c *Call, sub string) bool {
	for _, p := range c.Problems {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func kexecLoadRecords(t *testing.T, id uint64, flags uint64) []format.Record {
	le := binary.LittleEndian
	return []format.Record{
		raw(enter(id, boot0+2_000_000_000, layout.ABIX64, 246, [6]uint64{0x7ffff000, 2, 0xdead000, flags}).Marshal(le)),
		jrec(t, layout.RecProcess, layout.Process{CallID: id, PID: 4242, Exe: "/usr/sbin/kexec",
			Argv: []string{"kexec", "-l", "vmlinuz"}, Raced: []string{"argv"}, Missing: []string{"cgroup"}}),
		raw(layout.Segments{Header: layout.Header{CallID: id, TimeNS: boot0 + 2_000_000_100}, NrPassed: 2, NrCopied: 2,
			EntrySize: 32, Segs: []layout.Segment{{Buf: 0x1000, BufSz: 100, Mem: 0x100000, MemSz: 4096}, {Buf: 0x2000, BufSz: 50, Mem: 0x200000, MemSz: 4096}}}.Marshal(le)),
		raw(layout.PayloadEnd{Header: layout.Header{CallID: id}, Kind: layout.KindSegment, Index: 0,
			Source: layout.SrcSyscallEntry, Total: 100, Emitted: 100, Pieces: 1}.Marshal(le)),
		jrec(t, layout.RecPayload, layout.Payload{CallID: id, Kind: layout.KindSegment, Index: 0,
			Source: layout.SrcSyscallEntry, Total: 100, Captured: 100, SHA256: strings.Repeat("ab", 32), Complete: true}),
		raw(layout.PayloadEnd{Header: layout.Header{CallID: id}, Kind: layout.KindSegment, Index: 1,
			Source: layout.SrcSyscallEntry, Total: 50, Emitted: 40, Pieces: 1, Dropped: 1, Flags: layout.PFRingFull}.Marshal(le)),
		jrec(t, layout.RecPayload, layout.Payload{CallID: id, Kind: layout.KindSegment, Index: 1,
			Source: layout.SrcSyscallEntry, Total: 50, Captured: 50, SHA256: strings.Repeat("cd", 32),
			Missing: []layout.Range{{Off: 40, Len: 10}}, Reasons: []string{"ring-full"}}),
		raw(layout.Exit{Header: layout.Header{CallID: id, TimeNS: boot0 + 2_000_500_000}, Ret: -1,
			DurationNS: 500_000, TID: 4243, SyscallNr: 246, Hook: layout.HookRawSyscall}.Marshal(le)),
	}
}

func TestDecodeKexecLoad(t *testing.T) {
	const id = 7
	flags := uint64(0x3E0000 | 0x1 | 0x10 | 0x100 | 1<<40)
	recs := kexecLoadRecords(t, id, flags)
	d := NewDecoder(testHeader())
	var got []*Call
	for i, r := range recs {
		calls, err := d.Add(r)
		if err != nil {
			t.Fatal(err)
		}
		if i < len(recs)-1 && len(calls) != 0 {
			t.Fatalf("record %d completed a call before the exit", i)
		}
		got = append(got, calls...)
	}
	if len(got) != 1 || len(d.Flush()) != 0 {
		t.Fatalf("want exactly one call at the exit, got %d", len(got))
	}
	c := got[0]
	if c.Syscall != "kexec_load" || c.ABI != "x86_64" || c.Hook != "raw" || c.SyscallNr != 246 {
		t.Errorf("syscall %q abi %q hook %q nr %d", c.Syscall, c.ABI, c.Hook, c.SyscallNr)
	}
	wantFlags := []string{"KEXEC_ARCH_X86_64", "KEXEC_ON_CRASH", "KEXEC_DEBUG(proposed)", "0x100", "0x10000000000"}
	if !reflect.DeepEqual(c.Args.FlagNames, wantFlags) || c.Args.Arch != "KEXEC_ARCH_X86_64" || c.Args.Flags != flags {
		t.Errorf("flags %v arch %q", c.Args.FlagNames, c.Args.Arch)
	}
	if *c.Args.Entry != 0x7ffff000 || *c.Args.NrSegments != 2 || *c.Args.SegmentsPtr != 0xdead000 || c.Args.KernelFD != nil {
		t.Errorf("args %+v", c.Args)
	}
	if !c.Time.Equal(wall0.Add(2*time.Second)) || c.BootNS != boot0+2_000_000_000 {
		t.Errorf("time %v boot %d", c.Time, c.BootNS)
	}
	if c.Outcome != "error" || c.Ret == nil || *c.Ret != -1 || c.Errno != "EPERM" || c.DurationNS != 500_000 {
		t.Errorf("outcome %q ret %v errno %q dur %d", c.Outcome, c.Ret, c.Errno, c.DurationNS)
	}
	if c.Caller.PID != 4242 || c.Caller.Comm != "kexec" || c.Caller.Exe != "/usr/sbin/kexec" || c.Caller.LoginUID != 1000 ||
		len(c.Caller.Argv) != 3 || !reflect.DeepEqual(c.Caller.Raced, []string{"argv"}) {
		t.Errorf("caller %+v", c.Caller)
	}
	if !hasProblem(c, "caller cgroup: could not be read") {
		t.Errorf("missing /proc field not reported: %v", c.Problems)
	}
	if len(c.Segments) != 2 || c.Segments[1].Mem != 0x200000 || c.Segments[1].BufSz != 50 {
		t.Fatalf("segments %+v", c.Segments)
	}
	if len(c.Payloads) != 2 || c.Segments[0].Payload != c.Payloads[0] || c.Segments[1].Payload != c.Payloads[1] {
		t.Fatalf("payloads not linked to segments")
	}
	p := c.Payloads[1]
	if p.Complete || p.Kind != "segment" || p.Source != "syscall-entry" || len(p.Missing) != 1 || p.Reasons[0] != "ring-full" {
		t.Errorf("payload 1 %+v", p)
	}
	if !c.Payloads[0].Complete {
		t.Errorf("payload 0 should be complete")
	}
	st := d.Stats()
	if st.Records != len(recs) || st.Calls != 1 || st.Unfinished != 0 || st.Malformed != 0 || st.ByType["payload_end"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func fileLoadRecords(t *testing.T, id uint64) []format.Record {
	le := binary.LittleEndian
	return []format.Record{
		raw(enter(id, boot0+1000, layout.ABIX64, 320, [6]uint64{3, 0xffffffff, 20, 0x5000, 0x2 | 0x40}).Marshal(le)),
		raw(layout.File{Header: layout.Header{CallID: id}, Kind: layout.KindKernel, Dev: 8<<20 | 1, Ino: 77,
			Size: 1000, ISize: 1000, Path: "/boot/vmlinuz"}.Marshal(le)),
		jrec(t, layout.RecPayload, layout.Payload{CallID: id, Kind: layout.KindKernel, Source: layout.SrcKernelRead,
			Total: 1000, Captured: 1000, SHA256: strings.Repeat("11", 32), Complete: true}),
		jrec(t, layout.RecPayload, layout.Payload{CallID: id, Kind: layout.KindCmdline, Source: layout.SrcSyscallEntry,
			Total: 20, Captured: 20, SHA256: strings.Repeat("22", 32), Complete: true}),
		jrec(t, layout.RecNote, layout.Note{Level: "warn", Message: "ring was full"}),
		raw(layout.Exit{Header: layout.Header{CallID: id, TimeNS: boot0 + 3000}, Ret: 0, DurationNS: 2000, SyscallNr: 320}.Marshal(le)),
	}
}

func TestDecodeKexecFileLoad(t *testing.T) {
	const id = 9
	recs := fileLoadRecords(t, id)
	d := NewDecoder(testHeader())
	calls := feed(t, d, recs...)
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Syscall != "kexec_file_load" || c.Outcome != "ok" || c.Errno != "" || *c.Ret != 0 {
		t.Errorf("%q %q %q", c.Syscall, c.Outcome, c.Errno)
	}
	if !reflect.DeepEqual(c.Args.FlagNames, []string{"KEXEC_FILE_ON_CRASH", "0x40"}) || c.Args.Arch != "" {
		t.Errorf("flags %v", c.Args.FlagNames)
	}
	if *c.Args.KernelFD != 3 || *c.Args.InitrdFD != -1 || *c.Args.CmdlineLen != 20 || c.Args.Entry != nil {
		t.Errorf("args %+v", c.Args)
	}
	if len(c.Files) != 1 || c.Files[0].Dev != "8:1" || c.Files[0].Path != "/boot/vmlinuz" || c.Files[0].Payload != c.Payloads[0] {
		t.Errorf("files %+v", c.Files)
	}
	if len(c.Problems) != 0 {
		t.Errorf("unexpected problems %v", c.Problems)
	}
	if n := d.Notes(); len(n) != 1 || n[0].Message != "ring was full" {
		t.Errorf("notes %v", n)
	}
}

func TestDecodeTruncatedRaw(t *testing.T) {
	le := binary.LittleEndian
	full := enter(3, boot0, layout.ABIX64, 246, [6]uint64{}).Marshal(le)
	d := NewDecoder(testHeader())
	calls := feed(t, d,
		raw(full[:layout.EnterSize-10]),
		format.Record{Type: layout.RecSegments, Data: []byte{1, 2, 3}},
		raw(layout.Exit{Header: layout.Header{CallID: 3, TimeNS: boot0 + 100}, Ret: -38, DurationNS: 50, SyscallNr: 246}.Marshal(le)),
	)
	if st := d.Stats(); st.Malformed != 2 || st.Orphans != 1 {
		t.Errorf("stats %+v", st)
	}
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Syscall != "kexec_load" || c.ABI != "x86_64?" || c.Errno != "ENOSYS" || !hasProblem(c, "entry record lost") {
		t.Errorf("orphan exit decoded as %q %q %q %v", c.Syscall, c.ABI, c.Errno, c.Problems)
	}
	if c.BootNS != boot0+50 {
		t.Errorf("entry time from exit - duration: %d", c.BootNS)
	}
	if len(d.Problems()) != 2 || !strings.Contains(d.Problems()[0], "malformed enter record") {
		t.Errorf("problems %v", d.Problems())
	}
}

func TestDecodeUnknownTypes(t *testing.T) {
	d := NewDecoder(testHeader())
	calls := feed(t, d,
		format.Record{Type: 99, Data: []byte("x")},
		format.Record{Type: 99, Data: nil},
		format.Record{Type: 0x8000 | 50, Data: nil},
		format.Record{Type: layout.RecPiece, Data: nil},
	)
	st := d.Stats()
	if len(calls) != 0 || st.Unknown[99] != 2 || st.Unknown[0x8000|50] != 1 || st.Records != 4 {
		t.Errorf("calls %d stats %+v", len(calls), st)
	}
	if st.Problems != 3 { // one per unknown type + the stored piece
		t.Errorf("problems %v", d.Problems())
	}
}

func TestDecodeOrphanAndLateRecords(t *testing.T) {
	le := binary.LittleEndian
	d := NewDecoder(testHeader())
	calls := feed(t, d,
		// Segments for a call whose entry was lost, never exited.
		raw(layout.Segments{Header: layout.Header{CallID: 50}, NrPassed: 17, NrCopied: 16, Flags: layout.SFTooMany,
			Segs: make([]layout.Segment, 16)}.Marshal(le)),
		jrec(t, layout.RecProcess, layout.Process{CallID: 51, PID: 9}),
		raw(enter(52, boot0, layout.ABIX64, 246, [6]uint64{0, 1}).Marshal(le)),
		raw(layout.Exit{Header: layout.Header{CallID: 52}, Ret: -22, SyscallNr: 246}.Marshal(le)),
		jrec(t, layout.RecPayload, layout.Payload{CallID: 52, Kind: 1}),
	)
	if len(calls) != 3 {
		t.Fatalf("%d calls", len(calls))
	}
	// Completed first, then unfinished in order of appearance.
	if calls[0].ID != 52 || calls[0].Errno != "EINVAL" || calls[1].ID != 50 || calls[2].ID != 51 {
		t.Errorf("order %d %d %d", calls[0].ID, calls[1].ID, calls[2].ID)
	}
	if !hasProblem(calls[1], "entry record lost") || !hasProblem(calls[1], "17 passed, 16 read") || calls[1].Outcome != "unfinished" {
		t.Errorf("orphan segments call: %v", calls[1].Problems)
	}
	if calls[2].Caller.PID != 9 {
		t.Errorf("orphan process record lost its pid")
	}
	st := d.Stats()
	if st.Orphans != 2 || st.Late != 1 || st.Unfinished != 2 || st.Calls != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestDecodeLostExit(t *testing.T) {
	le := binary.LittleEndian
	d := NewDecoder(testHeader())
	calls := feed(t, d,
		raw(enter(1, boot0, layout.ABIX64, 246, [6]uint64{0, 1, 0, 0}).Marshal(le)),
		raw(layout.Segments{Header: layout.Header{CallID: 1}, NrPassed: 1, NrCopied: 1, Segs: []layout.Segment{{Buf: 1, BufSz: 10, Mem: 2, MemSz: 4096}}}.Marshal(le)),
		raw(layout.PayloadEnd{Header: layout.Header{CallID: 1}, Kind: 1, Source: 1, Total: 10, Emitted: 10}.Marshal(le)),
		raw(enter(1, boot0+5, layout.ABIX64, 246, [6]uint64{}).Marshal(le)), // id reused: first one is over
	)
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Outcome != "unfinished" || c.Ret != nil || !hasProblem(c, "no exit record") || !hasProblem(c, "second entry") {
		t.Errorf("%q %v", c.Outcome, c.Problems)
	}
	if !hasProblem(c, "BPF ended it (10 of 10 bytes) but the capture holds no payload record") || !hasProblem(c, "segment 0: no payload") {
		t.Errorf("lost payload not reported: %v", c.Problems)
	}
}

func TestDecodeInconsistentPayload(t *testing.T) {
	d := NewDecoder(testHeader())
	calls := feed(t, d, jrec(t, layout.RecPayload, layout.Payload{CallID: 1, Kind: 2, Source: 2, Total: 100, Captured: 10, Complete: true}),
		format.Record{Type: layout.RecPayload, Data: []byte("{not json")})
	if len(calls) != 1 || calls[0].Payloads[0].Complete || !hasProblem(calls[0], "marked complete but captured 10 of 100") {
		t.Errorf("%+v", calls)
	}
	if d.Stats().Malformed != 1 {
		t.Errorf("bad JSON not counted")
	}
}

func TestDecodeBigEndianAndLayout(t *testing.T) {
	h := testHeader()
	h.ByteOrder = "big"
	d := NewDecoder(h)
	b := enter(1, boot0, layout.ABIARM64, 294, [6]uint64{1, 2, 3, 4, 0x20}).Marshal(binary.BigEndian)
	calls := feed(t, d, format.Record{Type: layout.RecEnter, Data: b})
	if len(calls) != 1 || calls[0].Syscall != "kexec_file_load" || calls[0].ABI != "arm64" || calls[0].Args.FlagNames[0] != "KEXEC_FILE_FORCE_DTB" {
		t.Fatalf("%+v", calls)
	}
	if c := calls[0]; c.ID != 1 || c.BootNS != boot0 || c.Caller.PID != 4242 || c.Caller.LoginUID != 1000 || c.Args.Raw != [6]uint64{1, 2, 3, 4, 0x20} {
		t.Fatalf("big-endian fields read wrong: %+v", c)
	}
	h.RecordLayout = layout.Version + 1
	if _, err := NewDecoder(h).Add(format.Record{Type: 1}); !errors.Is(err, ErrLayout) {
		t.Errorf("layout mismatch: %v", err)
	}
	h.RecordLayout, h.ByteOrder = layout.Version, "middle"
	if _, err := NewDecoder(h).Add(format.Record{Type: 1}); !errors.Is(err, ErrLayout) {
		t.Errorf("byte order: %v", err)
	}
}

// TestDecodeAArch32: an AArch32 caller's kexec_load on arm64 is named by
// its own number and ABI, with its compat (16-byte) segment table and
// KEXEC_ARCH_ARM.
func TestDecodeAArch32(t *testing.T) {
	le := binary.LittleEndian
	h := testHeader()
	h.Arch = "arm64"
	recs := []format.Record{
		raw(enter(3, boot0, layout.ABIAArch32, 347, [6]uint64{0x8000, 1, 0x7000, 0x280000}).Marshal(le)),
		raw(layout.Segments{Header: layout.Header{CallID: 3}, NrPassed: 1, NrCopied: 1, EntrySize: 16,
			Segs: []layout.Segment{{Buf: 0x10000, BufSz: 100, Mem: 0x100000, MemSz: 4096}}}.Marshal(le)),
		raw(layout.Exit{Header: layout.Header{CallID: 3}, Ret: -1, SyscallNr: 347}.Marshal(le)),
	}
	calls := feed(t, NewDecoder(h), recs...)
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Syscall != "kexec_load" || c.ABI != "aarch32" || c.SyscallNr != 347 || c.Args.Arch != "KEXEC_ARCH_ARM" || c.Errno != "EPERM" {
		t.Errorf("decoded as syscall %q abi %q nr %d arch %q errno %q", c.Syscall, c.ABI, c.SyscallNr, c.Args.Arch, c.Errno)
	}
	if len(c.Segments) != 1 || c.Segments[0].Buf != 0x10000 || c.Segments[0].BufSz != 100 || c.Segments[0].MemSz != 4096 {
		t.Errorf("segments %+v", c.Segments)
	}

	// Entries lost: the exit's number alone names the ABI on arm64.
	for _, tc := range []struct {
		nr           uint32
		syscall, abi string
	}{{401, "kexec_file_load", "aarch32?"}, {347, "kexec_load", "aarch32?"}, {294, "kexec_file_load", "arm64?"}} {
		calls := feed(t, NewDecoder(h), raw(layout.Exit{Header: layout.Header{CallID: 9}, Ret: -38, SyscallNr: tc.nr}.Marshal(le)))
		if len(calls) != 1 || calls[0].Syscall != tc.syscall || calls[0].ABI != tc.abi {
			t.Errorf("exit of %d alone: %+v", tc.nr, calls)
		}
	}
}

func TestDecodeEviction(t *testing.T) {
	le := binary.LittleEndian
	d := NewDecoder(testHeader())
	var got []*Call
	for i := range MaxOpenCalls + 3 {
		c, err := d.Add(raw(enter(uint64(i+1), boot0, layout.ABIX64, 246, [6]uint64{}).Marshal(le)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c...)
	}
	if len(got) != 3 || got[0].ID != 1 || !hasProblem(got[0], "more than 4096 calls open") {
		t.Fatalf("evicted %d", len(got))
	}
	if n := len(d.Flush()); n != MaxOpenCalls {
		t.Errorf("flush %d", n)
	}
}

func TestFlagNames(t *testing.T) {
	for _, tc := range []struct {
		flags uint64
		want  []string
	}{
		{0, []string{"KEXEC_ARCH_DEFAULT"}},
		{0x3E0000, []string{"KEXEC_ARCH_X86_64"}},
		{0xB70000 | 0x2 | 0x4 | 0x8, []string{"KEXEC_ARCH_AARCH64", "KEXEC_PRESERVE_CONTEXT", "KEXEC_UPDATE_ELFCOREHDR", "KEXEC_CRASH_HOTPLUG_SUPPORT"}},
		{0x1020000, []string{"KEXEC_ARCH_LOONGARCH"}},
		{0x7770000 | 0x8000, []string{"KEXEC_ARCH_0x7770000", "0x8000"}},
	} {
		got, _ := KexecLoadFlags(tc.flags)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("kexec_load %#x: %v want %v", tc.flags, got, tc.want)
		}
	}
	got := KexecFileLoadFlags(0x3f | 0x80)
	want := []string{"KEXEC_FILE_UNLOAD", "KEXEC_FILE_ON_CRASH", "KEXEC_FILE_NO_INITRAMFS", "KEXEC_FILE_DEBUG",
		"KEXEC_FILE_NO_CMA", "KEXEC_FILE_FORCE_DTB", "0x80"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kexec_file_load: %v", got)
	}
	for errno, name := range map[int64]string{1: "EPERM", 22: "EINVAL", 38: "ENOSYS", 99: "EADDRNOTAVAIL", 16: "EBUSY", 13: "EACCES", 8: "ENOEXEC", 4000: "errno 4000"} {
		if got := ErrnoName(errno); got != name {
			t.Errorf("errno %d: %q", errno, got)
		}
	}
	for _, tc := range []struct {
		abi, nr uint32
		want    string
	}{{layout.ABIIA32, 283, "kexec_load"}, {layout.ABIX32, 0x40000000 | 528, "kexec_load"}, {layout.ABIX32, 0x40000000 | 320, "kexec_file_load"},
		{layout.ABIARM64, 104, "kexec_load"}, {layout.ABIX64, 1, ""},
		// AArch32 tasks on arm64: 347 and 401; their 104 and 294 are other
		// syscalls, and an AArch64 task's 347 is none.
		{layout.ABIAArch32, 347, "kexec_load"}, {layout.ABIAArch32, 401, "kexec_file_load"},
		{layout.ABIAArch32, 104, ""}, {layout.ABIAArch32, 294, ""}, {layout.ABIARM64, 347, ""}} {
		if got := SyscallName(tc.abi, tc.nr); got != tc.want {
			t.Errorf("syscall %d/%d: %q", tc.abi, tc.nr, got)
		}
	}
}

// FuzzDecoder: any record bytes of any type must decode without a panic.
func FuzzDecoder(f *testing.F) {
	le := binary.LittleEndian
	f.Add(uint16(1), enter(1, 1, 1, 246, [6]uint64{}).Marshal(le))
	f.Add(uint16(2), layout.Segments{Header: layout.Header{CallID: 1}, NrCopied: 99}.Marshal(le))
	f.Add(uint16(5), layout.Exit{Header: layout.Header{CallID: 1}, Ret: -1}.Marshal(le))
	f.Add(uint16(16), []byte(`{"call_id":1,"kind":1,"complete":true}`))
	f.Fuzz(func(t *testing.T, typ uint16, b []byte) {
		d := NewDecoder(testHeader())
		d.Add(format.Record{Type: typ, Data: b})
		d.Add(format.Record{Type: layout.RecExit, Data: b})
		d.Flush()
	})
}

// sampleCalls decodes one kexec_load and one kexec_file_load call.
func sampleCalls(t *testing.T) []*Call {
	recs := append(kexecLoadRecords(t, 7, 0x3E0000|0x1|0x10), fileLoadRecords(t, 9)...)
	return feed(t, NewDecoder(testHeader()), recs...)
}
