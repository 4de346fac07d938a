package bpf

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The Go decoder (bpf/layout) is hand-written; these tests hold it to the
// layout clang actually produced for records.h (the bpf2go types mirror the
// compiled BTF).

func TestRecordSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		generated uintptr
		layout    int
	}{
		{"kr_hdr", unsafe.Sizeof(KexecrecKrHdr{}), layout.HeaderSize},
		{"kr_enter", unsafe.Sizeof(KexecrecKrEnter{}), layout.EnterSize},
		{"kr_segments", unsafe.Sizeof(KexecrecKrSegments{}), layout.SegmentsSize},
		{"kr_piece", unsafe.Sizeof(KexecrecKrPiece{}), layout.PieceSize},
		{"kr_payload_end", unsafe.Sizeof(KexecrecKrPayloadEnd{}), layout.PayloadEndSize},
		{"kr_exit", unsafe.Sizeof(KexecrecKrExit{}), layout.ExitSize},
		{"kr_file", unsafe.Sizeof(KexecrecKrFile{}), layout.FileSize},
	} {
		if int(c.generated) != c.layout {
			t.Errorf("%s: BPF object says %d bytes, bpf/layout says %d", c.name, c.generated, c.layout)
		}
	}
}

// TestDecodeGenerated fills each generated struct with distinct values,
// takes its raw bytes (as BPF would emit them) and checks that layout's
// parser reads every field back from the right offset.
func TestDecodeGenerated(t *testing.T) {
	bo := binary.NativeEndian
	hdr := func(typ uint16, size uintptr) KexecrecKrHdr {
		return KexecrecKrHdr{Type: typ, Version: 1, Size: uint32(size), CallId: 0x1122334455667788, TsNs: 0x0102030405060708}
	}
	raw := func(p unsafe.Pointer, n uintptr) []byte { return bytes.Clone(unsafe.Slice((*byte)(p), n)) }

	e := KexecrecKrEnter{Pid: 1, Tid: 2, Ppid: 3, Uid: 4, Gid: 5, Euid: 6, Egid: 7, Loginuid: 8, Sessionid: 9,
		SyscallNr: 246, Abi: 2, Hook: 3, Cpu: 10, Mntns: 11, Pidns: 12, CgroupId: 13, Args: [6]uint64{21, 22, 23, 24, 25, 26}}
	e.H = hdr(layout.RecEnter, unsafe.Sizeof(e))
	copy(e.Comm[:], []int8{'k', 'e', 'x', 'e', 'c'})
	ge, err := layout.ParseEnter(raw(unsafe.Pointer(&e), unsafe.Sizeof(e)), bo)
	if err != nil {
		t.Fatal(err)
	}
	if ge.CallID != e.H.CallId || ge.TimeNS != e.H.TsNs || ge.PID != 1 || ge.TID != 2 || ge.PPID != 3 || ge.UID != 4 ||
		ge.GID != 5 || ge.EUID != 6 || ge.EGID != 7 || ge.LoginUID != 8 || ge.SessionID != 9 || ge.SyscallNr != 246 ||
		ge.ABI != 2 || ge.Hook != 3 || ge.CPU != 10 || ge.MntNS != 11 || ge.PidNS != 12 || ge.CgroupID != 13 ||
		ge.Args != [6]uint64{21, 22, 23, 24, 25, 26} || ge.Comm != "kexec" {
		t.Errorf("enter decoded as %+v", ge)
	}

	s := KexecrecKrSegments{NrPassed: 17, NrCopied: 2, ReadErr: -14, Flags: 1, EntrySize: 16}
	s.H = hdr(layout.RecSegments, unsafe.Sizeof(s))
	s.Seg[0] = KexecrecKrSeg{Buf: 1, Bufsz: 2, Mem: 3, Memsz: 4}
	s.Seg[1] = KexecrecKrSeg{Buf: 5, Bufsz: 6, Mem: 7, Memsz: 8}
	gs, err := layout.ParseSegments(raw(unsafe.Pointer(&s), unsafe.Sizeof(s)), bo)
	if err != nil {
		t.Fatal(err)
	}
	if gs.NrPassed != 17 || gs.NrCopied != 2 || gs.ReadErr != -14 || gs.Flags != 1 || gs.EntrySize != 16 ||
		len(gs.Segs) != 2 || gs.Segs[1] != (layout.Segment{Buf: 5, BufSz: 6, Mem: 7, MemSz: 8}) {
		t.Errorf("segments decoded as %+v", gs)
	}

	p := KexecrecKrPiece{Kind: 1, Index: 15, Source: 2, ReadErr: -14, Len: 3, Offset: 1 << 33, Total: 1 << 34}
	p.H = hdr(layout.RecPiece, unsafe.Sizeof(p)+8)
	pb := append(raw(unsafe.Pointer(&p), unsafe.Sizeof(p)), 'a', 'b', 'c', 0, 0, 0, 0, 0)
	gp, err := layout.ParsePiece(pb, bo)
	if err != nil {
		t.Fatal(err)
	}
	if gp.Kind != 1 || gp.Index != 15 || gp.Source != 2 || gp.ReadErr != -14 || gp.Offset != 1<<33 || gp.Total != 1<<34 || string(gp.Data) != "abc" {
		t.Errorf("piece decoded as %+v", gp)
	}

	pe := KexecrecKrPayloadEnd{Kind: 3, Index: 4, Source: 2, Total: 100, Emitted: 90, Pieces: 5, Dropped: 6, ReadErrors: 7, Flags: 0x18}
	pe.H = hdr(layout.RecPayloadEnd, unsafe.Sizeof(pe))
	gpe, err := layout.ParsePayloadEnd(raw(unsafe.Pointer(&pe), unsafe.Sizeof(pe)), bo)
	if err != nil {
		t.Fatal(err)
	}
	if gpe.Kind != 3 || gpe.Index != 4 || gpe.Source != 2 || gpe.Total != 100 || gpe.Emitted != 90 || gpe.Pieces != 5 ||
		gpe.Dropped != 6 || gpe.ReadErrors != 7 || gpe.Flags != 0x18 {
		t.Errorf("payload end decoded as %+v", gpe)
	}

	x := KexecrecKrExit{Ret: -38, DurationNs: 99, Tid: 5, SyscallNr: 320, Hook: 1, Flags: layout.XFRetKnownENOSYS}
	x.H = hdr(layout.RecExit, unsafe.Sizeof(x))
	gx, err := layout.ParseExit(raw(unsafe.Pointer(&x), unsafe.Sizeof(x)), bo)
	if err != nil {
		t.Fatal(err)
	}
	if gx.Ret != -38 || gx.DurationNS != 99 || gx.TID != 5 || gx.SyscallNr != 320 || gx.Hook != 1 || gx.Flags != layout.XFRetKnownENOSYS {
		t.Errorf("exit decoded as %+v", gx)
	}

	f := KexecrecKrFile{Kind: 2, Dev: 0x800001, Ino: 77, Size: 1000, I_size: 1001}
	f.H = hdr(layout.RecFile, unsafe.Sizeof(f))
	copy(f.Path[:], []int8{'/', 'b', 'o', 'o', 't'})
	gf, err := layout.ParseFile(raw(unsafe.Pointer(&f), unsafe.Sizeof(f)), bo)
	if err != nil {
		t.Fatal(err)
	}
	if gf.Kind != 2 || gf.Dev != 0x800001 || gf.Ino != 77 || gf.Size != 1000 || gf.ISize != 1001 || gf.Path != "/boot" {
		t.Errorf("file decoded as %+v", gf)
	}
}

func TestLoadedLayout(t *testing.T) {
	if int(unsafe.Sizeof(KexecrecKrLoaded{})) != layout.LoadedSize {
		t.Fatalf("kr_loaded: BPF object says %d bytes, bpf/layout says %d", unsafe.Sizeof(KexecrecKrLoaded{}), layout.LoadedSize)
	}
	l := KexecrecKrLoaded{Index: 7, NrSegments: 9, Status: layout.LSReplaced, ImageType: layout.ImageCrash,
		Bufsz: 0x1234, Mem: 0x100000, Memsz: 0x2000, ZeroChecked: 0x5000, TailFlags: layout.TFCut}
	l.H = KexecrecKrHdr{Type: layout.RecLoaded, Version: 1, Size: uint32(unsafe.Sizeof(l)), CallId: 42, TsNs: 43}
	b := bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(&l)), unsafe.Sizeof(l)))
	g, err := layout.ParseLoaded(b, binary.NativeEndian)
	if err != nil {
		t.Fatal(err)
	}
	want := layout.Loaded{Header: layout.Header{Type: layout.RecLoaded, Version: 1, Size: layout.LoadedSize, CallID: 42, TimeNS: 43},
		Index: 7, NrSegments: 9, Status: layout.LSReplaced, ImageType: layout.ImageCrash, BufSz: 0x1234, Mem: 0x100000, MemSz: 0x2000,
		ZeroChecked: 0x5000, TailFlags: layout.TFCut}
	if g != want {
		t.Errorf("loaded decoded as %+v, want %+v", g, want)
	}
	if m := want.Marshal(binary.NativeEndian); !bytes.Equal(m, b) {
		t.Errorf("Marshal gives % x, BPF layout % x", m, b)
	}
}
