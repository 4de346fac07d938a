package layout

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// Every record type survives Marshal and Parse in both byte orders with
// every field, signed ones (negative errno, return value) included: the
// decoder reads little-endian and swaps for big-endian captures.
func TestRoundTripBothByteOrders(t *testing.T) {
	h := Header{CallID: 0x0102030405060708, TimeNS: 0x1112131415161718}
	for _, bo := range []interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}{binary.LittleEndian, binary.BigEndian} {
		check := func(name string, got, want any, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s %s: %v", bo, name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %s:\n got %+v\nwant %+v", bo, name, got, want)
			}
		}
		// Marshal fills in each header's type, version and size: expect them.
		hdr := func(b []byte) Header {
			got, err := ParseHeader(b, bo)
			if err != nil || got.CallID != h.CallID || got.TimeNS != h.TimeNS {
				t.Fatalf("%s header %+v: %v", bo, got, err)
			}
			return got
		}

		e := Enter{Header: h, PID: 1, TID: 2, PPID: 3, UID: 4, GID: 5, EUID: 6, EGID: 7, LoginUID: 0xfffffffe, SessionID: 9,
			SyscallNr: 0x40000000 | 528, ABI: ABIX32, Hook: HookRawSyscall, CPU: 3, MntNS: 0xf0000001, PidNS: 0xf0000002,
			CgroupID: 0xa0b0c0d0e0f00102, Args: [6]uint64{1, 1 << 63, 3, 0x3e0000, 5, 6}, Comm: "kexec"}
		b := e.Marshal(bo)
		e.Header = hdr(b)
		got, err := ParseEnter(b, bo)
		check("enter", got, e, err)

		sg := Segments{Header: h, NrPassed: 17, NrCopied: 2, ReadErr: -14, Flags: SFTooMany, EntrySize: 32,
			Segs: []Segment{{Buf: 1, BufSz: 2, Mem: 3, MemSz: 4}, {Buf: 1 << 62, BufSz: 5, Mem: 6, MemSz: 7}}}
		b = sg.Marshal(bo)
		sg.Header = hdr(b)
		gotS, err := ParseSegments(b, bo)
		check("segments", gotS, sg, err)

		pc := Piece{Header: h, Kind: KindInitrd, Index: 3, Source: SrcKernelRead, ReadErr: -14, Len: 4,
			Offset: 1 << 40, Total: 1<<40 + 4, Data: []byte{9, 8, 7, 6}}
		b = pc.Marshal(bo)
		pc.Header = hdr(b)
		gotP, err := ParsePiece(b, bo)
		check("piece", gotP, pc, err)

		pe := PayloadEnd{Header: h, Kind: KindSegment, Index: 15, Source: SrcSyscallEntry, Total: 1 << 33, Emitted: 1 << 32,
			Pieces: 7, Dropped: 2, ReadErrors: 1, Flags: PFRingFull | PFReadError}
		b = pe.Marshal(bo)
		pe.Header = hdr(b)
		gotE, err := ParsePayloadEnd(b, bo)
		check("payload_end", gotE, pe, err)

		x := Exit{Header: h, Ret: -22, DurationNS: 1 << 35, TID: 8, SyscallNr: 320, Hook: HookFentry, Flags: XFRetKnownENOSYS}
		b = x.Marshal(bo)
		x.Header = hdr(b)
		gotX, err := ParseExit(b, bo)
		check("exit", gotX, x, err)

		f := File{Header: h, Kind: KindKernel, Dev: 8<<20 | 1, Ino: 1 << 40, Size: 12345, ISize: 12346, Path: "/boot/vmlinuz-6.12"}
		b = f.Marshal(bo)
		f.Header = hdr(b)
		gotF, err := ParseFile(b, bo)
		check("file", gotF, f, err)
	}
}
