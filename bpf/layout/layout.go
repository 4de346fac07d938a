// Package layout is the Go side of bpf/records.h: the raw records the BPF
// programs emit, which captures store verbatim, and the records the recorder
// adds in user space. It has no dependencies so that every reader of a
// capture (replay, tests, fuzzers) decodes raw bytes the same way.
//
// Rules (see records.h): fields are only appended; Header.Size says how long
// an instance is; a decoder reads the fields it knows that fit in Size and
// ignores the rest. A record shorter than its version-1 size is malformed.
package layout

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Version is KR_LAYOUT_VERSION: bumped only for incompatible meaning changes.
const Version = 1

// Record types. 1..15 come from BPF, 16.. are written by the recorder.
const (
	RecEnter      uint16 = 1
	RecSegments   uint16 = 2
	RecPiece      uint16 = 3 // never stored: the recorder turns pieces into blobs
	RecPayloadEnd uint16 = 4
	RecExit       uint16 = 5
	RecFile       uint16 = 6
	RecCaller     uint16 = 7 // the caller read at syscall entry (caller.go)
	RecArgs       uint16 = 8 // the caller's argv or environment bytes (caller.go)

	// RecPayload (JSON, type Payload): one assembled payload and its blob.
	RecPayload uint16 = 16
	// RecProcess (JSON, type Process): caller details read from /proc at event time.
	RecProcess uint16 = 17
	// RecNote (JSON, type Note): a recorder event worth keeping (mode switch, warning, lost records).
	RecNote uint16 = 18
)

// Payload kinds (enum kr_payload_kind).
const (
	KindSegment = 1
	KindKernel  = 2
	KindInitrd  = 3
	KindCmdline = 4
)

// Sources (enum kr_source).
const (
	SrcSyscallEntry = 1
	SrcKernelRead   = 2
)

// Hooks (enum kr_hook).
const (
	HookFentry     = 1
	HookKprobe     = 2
	HookRawSyscall = 3
)

// ABIs (enum kr_abi).
const (
	ABIX64     = 1
	ABIIA32    = 2
	ABIX32     = 3
	ABIARM64   = 4
	ABIAArch32 = 5 // a 32-bit ARM (compat) task on an arm64 kernel
)

// PayloadEnd flags (KR_PF_*).
const (
	PFSnaplen   = 0x1
	PFNoPayload = 0x2
	PFReadError = 0x4
	PFRingFull  = 0x8
	PFLoopLimit = 0x10
	// PFPolicy: cut by the unprivileged-caller policy (per-payload snaplen,
	// per-uid rate or ring share) because the caller failed the CAP_SYS_BOOT
	// test.
	PFPolicy = 0x20
)

// Exit flags (KR_XF_*).
const (
	// XFRetKnownENOSYS: Ret was not observed at exit but known in advance,
	// because the kernel has no kexec (raw mode attached sys_enter only and
	// emitted the exit from there, with DurationNS 0).
	XFRetKnownENOSYS = 0x1
)

// Segments flags (KR_SF_*).
const SFTooMany = 0x1

// Counter indexes (enum kr_counter), in map order.
var CounterNames = []string{
	"calls", "enter_dropped", "exit_dropped", "segments_dropped", "pieces_dropped",
	"piece_bytes_dropped", "payload_end_dropped", "file_dropped", "read_errors", "wait_loops",
	"caller_dropped", "policy_calls", "policy_bytes", "policy_rate_bytes", "policy_ring_bytes",
	"policy_total_rate_bytes",
}

const (
	MaxSegments = 16
	CommLen     = 16
	PathLen     = 256
	PieceMax    = 256 * 1024
)

// Sizes of the version-1 records (sizeof in records.h).
const (
	HeaderSize     = 24
	EnterSize      = HeaderSize + 16*4 + 8 + 6*8 + CommLen // 160
	SegmentsSize   = HeaderSize + 8 + 4*4 + MaxSegments*32 // 560
	PieceSize      = HeaderSize + 4*2 + 4 + 4 + 8 + 8      // 56
	PayloadEndSize = HeaderSize + 4*2 + 8 + 8 + 4*4        // 64
	ExitSize       = HeaderSize + 8 + 8 + 4*4              // 56
	FileSize       = HeaderSize + 4 + 4 + 8 + 8 + 8 + PathLen
)

// ErrShort is returned (wrapped) for a record shorter than its type needs.
var ErrShort = errors.New("layout: record too short")

// Header is struct kr_hdr.
type Header struct {
	Type    uint16
	Version uint16
	Size    uint32
	CallID  uint64
	TimeNS  uint64
}

// Enter is struct kr_enter.
type Enter struct {
	Header
	PID, TID, PPID            uint32
	UID, GID, EUID, EGID      uint32
	LoginUID, SessionID       uint32
	SyscallNr, ABI, Hook, CPU uint32
	MntNS, PidNS              uint32
	CgroupID                  uint64
	Args                      [6]uint64
	Comm                      string
}

// Segment is struct kr_seg.
type Segment struct {
	Buf, BufSz, Mem, MemSz uint64
}

// Segments is struct kr_segments.
type Segments struct {
	Header
	NrPassed  uint64
	NrCopied  uint32
	ReadErr   int32
	Flags     uint32
	EntrySize uint32
	Segs      []Segment // NrCopied entries (at most MaxSegments)
}

// Piece is struct kr_piece; Data aliases the input.
type Piece struct {
	Header
	Kind, Index, Source uint16
	ReadErr             int32
	Len                 uint32
	Offset, Total       uint64
	Data                []byte
}

// PayloadEnd is struct kr_payload_end.
type PayloadEnd struct {
	Header
	Kind, Index, Source uint16
	Total, Emitted      uint64
	Pieces, Dropped     uint32
	ReadErrors, Flags   uint32
}

// Exit is struct kr_exit.
type Exit struct {
	Header
	Ret        int64
	DurationNS uint64
	TID        uint32
	SyscallNr  uint32
	Hook       uint32
	Flags      uint32 // XF*; always 0 in captures written before the field existed (padding)
}

// File is struct kr_file.
type File struct {
	Header
	Kind  uint32
	Dev   uint32
	Ino   uint64
	Size  uint64
	ISize uint64
	Path  string
}

type dec struct {
	b   []byte
	off int
	le  bool // little-endian (every recording on x86 and arm64); else big
}

// leProbe tells a little-endian ByteOrder by what it reads from it (a
// package variable: a literal passed to the interface would be allocated on
// every call).
var leProbe = []byte{1, 0}

// Fields are read little-endian and swapped for a big-endian capture: no
// call through the ByteOrder interface per field.
func newDec(b []byte, off int, bo binary.ByteOrder) dec {
	return dec{b: b, off: off, le: bo.Uint16(leProbe) == 1}
}

func (d *dec) u16() uint16 {
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return swap16(v, d.le)
}

func (d *dec) u32() uint32 {
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return swap32(v, d.le)
}

func (d *dec) u64() uint64 {
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return swap64(v, d.le)
}

func swap16(v uint16, le bool) uint16 {
	if le {
		return v
	}
	return bits.ReverseBytes16(v)
}

func swap32(v uint32, le bool) uint32 {
	if le {
		return v
	}
	return bits.ReverseBytes32(v)
}

func swap64(v uint64, le bool) uint64 {
	if le {
		return v
	}
	return bits.ReverseBytes64(v)
}

func (d *dec) str(n int) string {
	s := d.b[d.off : d.off+n]
	d.off += n
	for i, c := range s {
		if c == 0 {
			return string(s[:i])
		}
	}
	return string(s)
}

// ParseHeader decodes the common header and checks that Size fits in b.
func ParseHeader(b []byte, bo binary.ByteOrder) (Header, error) {
	d := newDec(b, 0, bo)
	return d.header()
}

// header decodes the common header at the start of d.b and checks that
// Size fits; d is left just past it.
func (d *dec) header() (Header, error) {
	if len(d.b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrShort, len(d.b), HeaderSize)
	}
	h := Header{Type: d.u16(), Version: d.u16(), Size: d.u32(), CallID: d.u64(), TimeNS: d.u64()}
	if h.Size < HeaderSize || uint64(h.Size) > uint64(len(d.b)) {
		return h, fmt.Errorf("%w: header says %d bytes, have %d", ErrShort, h.Size, len(d.b))
	}
	return h, nil
}

// body returns the decoder over one record of at least min bytes, past its
// header. The decoder comes back by value: a pointer would put one
// allocation per record on the heap.
func body(b []byte, bo binary.ByteOrder, want uint16, min int) (Header, dec, error) {
	d := newDec(b, 0, bo)
	h, err := d.header()
	if err != nil {
		return h, dec{}, err
	}
	if h.Type != want {
		return h, dec{}, fmt.Errorf("layout: record type %d, want %d", h.Type, want)
	}
	if int(h.Size) < min {
		return h, dec{}, fmt.Errorf("%w: type %d is %d bytes, needs %d", ErrShort, h.Type, h.Size, min)
	}
	d.b = d.b[:h.Size] // the byte order is probed once per record
	return h, d, nil
}

// ParseEnter decodes a RecEnter record.
func ParseEnter(b []byte, bo binary.ByteOrder) (Enter, error) {
	h, d, err := body(b, bo, RecEnter, EnterSize)
	if err != nil {
		return Enter{Header: h}, err
	}
	e := Enter{Header: h}
	e.PID, e.TID, e.PPID = d.u32(), d.u32(), d.u32()
	e.UID, e.GID, e.EUID, e.EGID = d.u32(), d.u32(), d.u32(), d.u32()
	e.LoginUID, e.SessionID = d.u32(), d.u32()
	e.SyscallNr, e.ABI, e.Hook, e.CPU = d.u32(), d.u32(), d.u32(), d.u32()
	e.MntNS, e.PidNS = d.u32(), d.u32()
	d.u32() // pad
	e.CgroupID = d.u64()
	for i := range e.Args {
		e.Args[i] = d.u64()
	}
	e.Comm = d.str(CommLen)
	return e, nil
}

// ParseSegments decodes a RecSegments record.
func ParseSegments(b []byte, bo binary.ByteOrder) (Segments, error) {
	h, d, err := body(b, bo, RecSegments, SegmentsSize)
	if err != nil {
		return Segments{Header: h}, err
	}
	s := Segments{Header: h}
	s.NrPassed, s.NrCopied = d.u64(), d.u32()
	s.ReadErr = int32(d.u32())
	s.Flags, s.EntrySize = d.u32(), d.u32()
	n := min(int(s.NrCopied), MaxSegments)
	s.Segs = make([]Segment, n)
	for i := range MaxSegments {
		seg := Segment{Buf: d.u64(), BufSz: d.u64(), Mem: d.u64(), MemSz: d.u64()}
		if i < n {
			s.Segs[i] = seg
		}
	}
	return s, nil
}

// ParsePiece decodes a RecPiece record; Data aliases b.
func ParsePiece(b []byte, bo binary.ByteOrder) (Piece, error) {
	h, d, err := body(b, bo, RecPiece, PieceSize)
	if err != nil {
		return Piece{Header: h}, err
	}
	p := Piece{Header: h}
	p.Kind, p.Index, p.Source = d.u16(), d.u16(), d.u16()
	d.u16()
	p.ReadErr = int32(d.u32())
	p.Len = d.u32()
	p.Offset, p.Total = d.u64(), d.u64()
	if p.Len > PieceMax || uint64(PieceSize)+uint64(p.Len) > uint64(h.Size) {
		return p, fmt.Errorf("%w: piece says %d data bytes in a %d-byte record", ErrShort, p.Len, h.Size)
	}
	p.Data = b[PieceSize : PieceSize+int(p.Len)]
	return p, nil
}

// ParsePayloadEnd decodes a RecPayloadEnd record.
func ParsePayloadEnd(b []byte, bo binary.ByteOrder) (PayloadEnd, error) {
	h, d, err := body(b, bo, RecPayloadEnd, PayloadEndSize)
	if err != nil {
		return PayloadEnd{Header: h}, err
	}
	p := PayloadEnd{Header: h}
	p.Kind, p.Index, p.Source = d.u16(), d.u16(), d.u16()
	d.u16()
	p.Total, p.Emitted = d.u64(), d.u64()
	p.Pieces, p.Dropped, p.ReadErrors, p.Flags = d.u32(), d.u32(), d.u32(), d.u32()
	return p, nil
}

// ParseExit decodes a RecExit record.
func ParseExit(b []byte, bo binary.ByteOrder) (Exit, error) {
	h, d, err := body(b, bo, RecExit, ExitSize)
	if err != nil {
		return Exit{Header: h}, err
	}
	x := Exit{Header: h}
	x.Ret = int64(d.u64())
	x.DurationNS = d.u64()
	x.TID, x.SyscallNr, x.Hook, x.Flags = d.u32(), d.u32(), d.u32(), d.u32()
	return x, nil
}

// ParseFile decodes a RecFile record.
func ParseFile(b []byte, bo binary.ByteOrder) (File, error) {
	h, d, err := body(b, bo, RecFile, FileSize)
	if err != nil {
		return File{Header: h}, err
	}
	f := File{Header: h}
	f.Kind, f.Dev = d.u32(), d.u32()
	f.Ino, f.Size, f.ISize = d.u64(), d.u64(), d.u64()
	f.Path = d.str(PathLen)
	return f, nil
}

// RecordType returns the type of the raw record b (0 when b is shorter
// than a header).
func RecordType(b []byte, bo binary.ByteOrder) uint16 {
	if len(b) < HeaderSize {
		return 0
	}
	return bo.Uint16(b)
}
