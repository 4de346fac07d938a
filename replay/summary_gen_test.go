package replay

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// synthCall describes one kexec_load call to write into a synthetic capture,
// as the recorder would: raw records as BPF emits them (layout Marshal),
// payload bytes as blobs, JSON records for payloads and the process.
type synthCall struct {
	id      uint64
	comm    string
	exe     string
	uid     uint32
	flags   uint64
	ret     int64
	segs    [][]byte
	noExit  bool
	timeNS  uint64 // boot time of entry
	trunc   int    // segment index to mark truncated (-1: none)
	reasons []string
}

var synthHeader = format.Header{
	Hostname: "testhost", MachineID: "0123456789abcdef0123456789abcdef", BootID: "boot-1",
	KernelRelease: "6.18.0-test", Arch: "amd64", ByteOrder: "little", WriterVersion: "test",
	RecordLayout: layout.Version, AttachMode: "raw", Options: map[string]string{"snaplen": "0"},
	WallStart: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), BootStartNS: 1_000_000_000,
}

// synthWriter writes synthetic calls into a format.Writer.
type synthWriter struct {
	w   *format.Writer
	bo  binary.AppendByteOrder
	sha map[string]string // payload bytes -> hex SHA-256 of its blob, written once per distinct payload
}

func newSynthWriter(tb testing.TB, path string) (*synthWriter, *os.File) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := format.NewWriter(f, synthHeader, format.WriterOptions{SealInterval: time.Hour, PieceHash: format.PieceSHA256}) // 1.0 blobs: named by SHA-256
	if err != nil {
		tb.Fatal(err)
	}
	return &synthWriter{w: w, bo: binary.LittleEndian, sha: map[string]string{}}, f
}

func (s *synthWriter) record(tb testing.TB, typ uint16, b []byte) {
	if err := s.w.WriteRecord(format.Record{Type: typ, Data: b}); err != nil {
		tb.Fatal(err)
	}
}

func (s *synthWriter) json(tb testing.TB, typ uint16, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	s.record(tb, typ, b)
}

// blob stores payload bytes once; the same bytes again reuse the hash (the
// format dedups pieces anyway, this only saves hashing time in benchmarks).
func (s *synthWriter) blob(tb testing.TB, data []byte) string {
	if h, ok := s.sha[string(data)]; ok {
		return h
	}
	bw := s.w.NewBlob()
	if _, err := bw.Write(data); err != nil {
		tb.Fatal(err)
	}
	ref, err := bw.Close()
	if err != nil {
		tb.Fatal(err)
	}
	h := hex.EncodeToString(ref.ID[:])
	s.sha[string(data)] = h
	return h
}

func (s *synthWriter) call(tb testing.TB, c synthCall) {
	ts := c.timeNS
	if ts == 0 {
		ts = synthHeader.BootStartNS + c.id*1_000_000
	}
	hdr := layout.Header{CallID: c.id, TimeNS: ts}
	e := layout.Enter{Header: hdr, PID: 1000 + uint32(c.id%1000), TID: 1000 + uint32(c.id%1000), PPID: 1,
		UID: c.uid, EUID: c.uid, LoginUID: 0xffffffff, SyscallNr: 246, ABI: layout.ABIX64,
		Hook: layout.HookRawSyscall, Comm: c.comm,
		Args: [6]uint64{0x1000, uint64(len(c.segs)), 0x7ffd0000, c.flags}}
	s.record(tb, layout.RecEnter, e.Marshal(s.bo))
	s.json(tb, layout.RecProcess, layout.Process{CallID: c.id, PID: e.PID, Exe: c.exe})
	seg := layout.Segments{Header: hdr, NrPassed: uint64(len(c.segs)), NrCopied: uint32(len(c.segs)), EntrySize: 32}
	for i, b := range c.segs {
		seg.Segs = append(seg.Segs, layout.Segment{Buf: 0x7f0000000000 + uint64(i)<<20, BufSz: uint64(len(b)),
			Mem: 0x1000000 + uint64(i)<<24, MemSz: uint64(len(b)+4095) &^ 4095})
	}
	s.record(tb, layout.RecSegments, seg.Marshal(s.bo))
	for i, b := range c.segs {
		total := uint64(len(b))
		p := layout.Payload{CallID: c.id, Kind: layout.KindSegment, Index: uint16(i), Source: layout.SrcSyscallEntry,
			Total: total, Captured: total, Complete: true}
		end := layout.PayloadEnd{Header: hdr, Kind: layout.KindSegment, Index: uint16(i), Source: layout.SrcSyscallEntry,
			Total: total, Emitted: total, Pieces: 1}
		if i == c.trunc {
			p.Total, p.Complete, p.Reasons = total+4096, false, c.reasons
			end.Total, end.Flags = total+4096, layout.PFSnaplen
		}
		p.SHA256 = s.blob(tb, b)
		s.record(tb, layout.RecPayloadEnd, end.Marshal(s.bo))
		s.json(tb, layout.RecPayload, p)
	}
	if !c.noExit {
		x := layout.Exit{Header: layout.Header{CallID: c.id, TimeNS: ts + 5000}, Ret: c.ret, DurationNS: 5000,
			TID: e.TID, SyscallNr: 246, Hook: layout.HookRawSyscall}
		s.record(tb, layout.RecExit, x.Marshal(s.bo))
	}
}

func (s *synthWriter) finish(tb testing.TB, f *os.File, stats format.Stats, clean bool) {
	if stats != nil {
		if err := s.w.WriteStats(stats); err != nil {
			tb.Fatal(err)
		}
	}
	var err error
	if clean {
		err = s.w.Close()
	} else {
		err = s.w.Seal()
	}
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}
