package layout

import "encoding/binary"

// Encoders produce exactly what the BPF programs emit. The recorder does not
// need them; tests, fuzz seeds and sample captures do, so that every decoder
// is exercised on the real byte layout.

type enc struct {
	b  []byte
	bo binary.AppendByteOrder
}

func (e *enc) u16(v uint16) { e.b = e.bo.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = e.bo.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = e.bo.AppendUint64(e.b, v) }
func (e *enc) str(s string, n int) {
	f := make([]byte, n)
	copy(f[:n-1], s) // always NUL-terminated, like bpf_get_current_comm
	e.b = append(e.b, f...)
}

func (e *enc) hdr(h Header, typ uint16, size int) {
	if h.Version == 0 {
		h.Version = 1
	}
	e.u16(typ)
	e.u16(h.Version)
	e.u32(uint32(size))
	e.u64(h.CallID)
	e.u64(h.TimeNS)
}

// Marshal encodes e as a RecEnter record.
func (x Enter) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecEnter, EnterSize)
	for _, v := range []uint32{x.PID, x.TID, x.PPID, x.UID, x.GID, x.EUID, x.EGID, x.LoginUID,
		x.SessionID, x.SyscallNr, x.ABI, x.Hook, x.CPU, x.MntNS, x.PidNS, 0} {
		e.u32(v)
	}
	e.u64(x.CgroupID)
	for _, a := range x.Args {
		e.u64(a)
	}
	e.str(x.Comm, CommLen)
	return e.b
}

// Marshal encodes s as a RecSegments record (at most MaxSegments entries).
func (x Segments) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecSegments, SegmentsSize)
	e.u64(x.NrPassed)
	e.u32(x.NrCopied)
	e.u32(uint32(x.ReadErr))
	e.u32(x.Flags)
	e.u32(x.EntrySize)
	for i := range MaxSegments {
		var s Segment
		if i < len(x.Segs) {
			s = x.Segs[i]
		}
		e.u64(s.Buf)
		e.u64(s.BufSz)
		e.u64(s.Mem)
		e.u64(s.MemSz)
	}
	return e.b
}

// Marshal encodes p as a RecPiece record; Len is taken from Data.
func (x Piece) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	size := (PieceSize + len(x.Data) + 7) &^ 7
	e.hdr(x.Header, RecPiece, size)
	e.u16(x.Kind)
	e.u16(x.Index)
	e.u16(x.Source)
	e.u16(0)
	e.u32(uint32(x.ReadErr))
	e.u32(uint32(len(x.Data)))
	e.u64(x.Offset)
	e.u64(x.Total)
	e.b = append(e.b, x.Data...)
	return append(e.b, make([]byte, size-len(e.b))...)
}

// Marshal encodes p as a RecPayloadEnd record.
func (x PayloadEnd) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecPayloadEnd, PayloadEndSize)
	e.u16(x.Kind)
	e.u16(x.Index)
	e.u16(x.Source)
	e.u16(0)
	e.u64(x.Total)
	e.u64(x.Emitted)
	e.u32(x.Pieces)
	e.u32(x.Dropped)
	e.u32(x.ReadErrors)
	e.u32(x.Flags)
	return e.b
}

// Marshal encodes x as a RecExit record.
func (x Exit) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecExit, ExitSize)
	e.u64(uint64(x.Ret))
	e.u64(x.DurationNS)
	e.u32(x.TID)
	e.u32(x.SyscallNr)
	e.u32(x.Hook)
	e.u32(x.Flags)
	return e.b
}

// Marshal encodes f as a RecFile record.
func (x File) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecFile, FileSize)
	e.u32(x.Kind)
	e.u32(x.Dev)
	e.u64(x.Ino)
	e.u64(x.Size)
	e.u64(x.ISize)
	e.str(x.Path, PathLen)
	return e.b
}
