// Package synth writes synthetic captures for the replay tests and
// benchmarks: calls encoded exactly as BPF emits them (bpf/layout Marshal)
// and stored by internal/content, the writer the recorder stores them with,
// so the whole reading path is exercised. Output is reproducible for given
// Options.
package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
)

// Wall and Boot are the header's time pair.
var Wall = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const Boot = 7_000_000_000

// Options shape a synthetic capture.
type Options struct {
	Calls int
	// PayloadBytes per call (one kexec_load segment); 0: no payload.
	PayloadBytes int
	// DistinctPayloads: every call's payload differs (else all are equal
	// and stored once).
	DistinctPayloads bool
	// SealEvery seals an EVENTS chunk after this many calls (0: writer default).
	SealEvery int
	// Unclean: do not write the trailer.
	Unclean bool
}

// header is what synthetic captures say about their origin; the content
// writer adds the record layout and byte order.
func header() format.Header {
	return format.Header{
		FileID: [16]byte{0x53, 0x59}, Hostname: "synth-host", KernelRelease: "6.18.0-synth", Arch: "amd64",
		WriterVersion: "synth", AttachMode: "raw", WallStart: Wall, BootStartNS: Boot,
	}
}

// Writer writes calls one at a time (for tests that append while a reader follows).
type Writer struct {
	w   *content.Writer
	o   Options
	n   uint64
	buf []byte
}

// NewWriter starts a capture on w.
func NewWriter(w io.Writer, o Options) (*Writer, error) {
	clock := Wall
	cw, err := content.NewWriter(w, header(), content.Options{ByteOrder: le, Format: format.WriterOptions{
		SealBytes: 1 << 20, SealInterval: time.Hour,
		Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	}})
	if err != nil {
		return nil, err
	}
	return &Writer{w: cw, o: o, buf: make([]byte, o.PayloadBytes)}, nil
}

var le = binary.LittleEndian

func (s *Writer) rec(b []byte) error { return s.w.WriteRaw(b) }

// Call writes one kexec_load call: ENTER, PROCESS, SEGMENTS, the payload
// blob with PAYLOAD_END and PAYLOAD, EXIT. Every 7th call fails with EPERM.
func (s *Writer) Call() error {
	s.n++
	id, t := s.n, uint64(Boot+s.n*1_000_000)
	pid := uint32(1000 + s.n%50)
	nseg := uint64(0)
	if s.o.PayloadBytes > 0 {
		nseg = 1
	}
	err := s.rec(layout.Enter{Header: layout.Header{CallID: id, TimeNS: t}, PID: pid, TID: pid, PPID: 1,
		LoginUID: 4294967295, SessionID: 4294967295, SyscallNr: 246, ABI: layout.ABIX64, Hook: layout.HookRawSyscall,
		Args: [6]uint64{0x9d0001e0, nseg, 0x7ffd00000000, 0x3e0000}, Comm: "kexec"}.Marshal(le))
	if err != nil {
		return err
	}
	if err := s.w.WriteProcess(layout.Process{CallID: id, PID: pid, Exe: "/usr/sbin/kexec",
		Argv: []string{"kexec", "-l", "/boot/vmlinuz"}}); err != nil {
		return err
	}
	if nseg > 0 {
		seg := Segment{Data: s.buf, Mem: 0x1000000, MemSz: uint64(len(s.buf)+4095) &^ 4095}
		if err := s.rec(SegmentTable(layout.Header{CallID: id, TimeNS: t + 10}, []Segment{seg}).Marshal(le)); err != nil {
			return err
		}
		if s.o.DistinctPayloads {
			le.PutUint64(s.buf, id)
		}
		if err := s.segmentPayload(id, t+20, 0, s.buf); err != nil {
			return err
		}
	}
	ret := int64(0)
	if s.n%7 == 0 {
		ret = -1
	}
	if err := s.rec(layout.Exit{Header: layout.Header{CallID: id, TimeNS: t + 500_000}, Ret: ret, DurationNS: 500_000,
		TID: pid, SyscallNr: 246, Hook: layout.HookRawSyscall}.Marshal(le)); err != nil {
		return err
	}
	if s.o.SealEvery > 0 && s.n%uint64(s.o.SealEvery) == 0 {
		return s.w.Seal()
	}
	return nil
}

// segmentPayload stores segment index's bytes of call id, complete.
func (s *Writer) segmentPayload(id, t uint64, index uint16, data []byte) error {
	return s.w.WriteWholePayload(layout.PayloadEnd{Header: layout.Header{CallID: id, TimeNS: t},
		Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry}, data)
}

// Seal seals what was written so far (a follower can then read it).
func (s *Writer) Seal() error { return s.w.Seal() }

// Close writes stats and the trailer (unless Unclean: then it only seals).
func (s *Writer) Close() error {
	if err := s.w.WriteStats(format.Stats{"calls": s.n, "calls_recorded": s.n}); err != nil {
		return err
	}
	if s.o.Unclean {
		return s.w.Seal()
	}
	return s.w.Close()
}

// Write writes a whole capture.
func Write(w io.Writer, o Options) error {
	s, err := NewWriter(w, o)
	if err != nil {
		return err
	}
	for range o.Calls {
		if err := s.Call(); err != nil {
			return err
		}
	}
	return s.Close()
}

// PayloadSHA256 is the hex SHA-256 of the (non-distinct) payload of n bytes.
func PayloadSHA256(n int) string {
	s := sha256.Sum256(make([]byte, n))
	return hex.EncodeToString(s[:])
}

// Segment is one kexec_load segment for KexecLoad.
type Segment struct {
	Data  []byte
	Mem   uint64
	MemSz uint64
}

// SegmentTable is the SEGMENTS record BPF emits for a 64-bit kexec_load of
// segs (at most layout.MaxSegments), whose buffers the caller placed 16 MiB
// apart from 0x7f0000000000.
func SegmentTable(h layout.Header, segs []Segment) layout.Segments {
	ls := layout.Segments{Header: h, NrPassed: uint64(len(segs)), NrCopied: uint32(len(segs)), EntrySize: 32}
	for i, sg := range segs {
		ls.Segs = append(ls.Segs, layout.Segment{Buf: 0x7f0000000000 + uint64(i)<<24, BufSz: uint64(len(sg.Data)), Mem: sg.Mem, MemSz: sg.MemSz})
	}
	return ls
}

// KexecLoad writes one successful kexec_load call with these segments
// (payloads complete) and entry point.
func (s *Writer) KexecLoad(segs []Segment, entry uint64) error {
	id, t, err := s.loadEntry(segs, entry, layout.HookRawSyscall)
	if err != nil {
		return err
	}
	return s.loadExit(id, t, layout.HookRawSyscall)
}

// loadEntry writes a kexec_load call's entry, segment table and complete
// segment payloads under a new call id, and returns the id and entry time.
func (s *Writer) loadEntry(segs []Segment, entry uint64, hook uint32) (id, t uint64, err error) {
	s.n++
	id, t = s.n, uint64(Boot+s.n*1_000_000)
	if err := s.rec(layout.Enter{Header: layout.Header{CallID: id, TimeNS: t}, PID: 77, TID: 77, PPID: 1,
		LoginUID: 0, SessionID: 1, SyscallNr: 246, ABI: layout.ABIX64, Hook: hook,
		Args: [6]uint64{entry, uint64(len(segs)), 0x7ffd00000000, 0x3e0000}, Comm: "kexec"}.Marshal(le)); err != nil {
		return 0, 0, err
	}
	if err := s.rec(SegmentTable(layout.Header{CallID: id, TimeNS: t + 10}, segs).Marshal(le)); err != nil {
		return 0, 0, err
	}
	for i, sg := range segs {
		if err := s.segmentPayload(id, t+20, uint16(i), sg.Data); err != nil {
			return 0, 0, err
		}
	}
	return id, t, nil
}

// loadExit writes the successful exit of the kexec_load call id entered at t.
func (s *Writer) loadExit(id, t uint64, hook uint32) error {
	return s.rec(layout.Exit{Header: layout.Header{CallID: id, TimeNS: t + 500_000}, Ret: 0, DurationNS: 500_000,
		TID: 77, SyscallNr: 246, Hook: hook}.Marshal(le))
}

// Purgatory builds a fake kexec-tools purgatory segment image: a digest
// followed by the sha256_regions array covering the given segments, in the
// layout Debian's kexec-tools uses. With tamper, the digest is wrong.
func Purgatory(covered []Segment, tamper bool) []byte {
	h := sha256.New()
	img := make([]byte, 64) // code before the data
	for _, sg := range covered {
		h.Write(sg.Data)
		h.Write(make([]byte, sg.MemSz-uint64(len(sg.Data))))
	}
	sum := h.Sum(nil)
	if tamper {
		sum[0] ^= 0xff
	}
	img = append(img, sum...)
	for i := range 16 {
		var st, ln uint64
		if i < len(covered) {
			st, ln = covered[i].Mem, covered[i].MemSz
		}
		img = le.AppendUint64(img, st)
		img = le.AppendUint64(img, ln)
	}
	return append(img, make([]byte, 64)...)
}
