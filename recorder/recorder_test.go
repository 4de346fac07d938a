package recorder

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

var bo = binary.NativeEndian

func hdr(id uint64) layout.Header { return layout.Header{CallID: id, TimeNS: 1000 + id} }

// callSpec describes one synthetic kexec_load call.
type callSpec struct {
	id       uint64
	payloads [][]byte
	drop     map[int]map[int]bool // payload -> piece index -> dropped
	readErr  map[int]map[int]bool
	noEnd    map[int]bool
	stopAt   map[int]int // payload -> piece index where BPF gives up (after unreadable pieces in a row)
	noExit   bool
	snaplen  uint64
	pieceLen int
}

// records builds the ring records BPF would emit for c, in ring order.
func (c callSpec) records() [][]byte {
	pieceLen := c.pieceLen
	if pieceLen == 0 {
		pieceLen = layout.PieceMax
	}
	recs := [][]byte{
		layout.Enter{Header: hdr(c.id), PID: uint32(os.Getpid()), TID: uint32(os.Getpid()), SyscallNr: 246,
			ABI: layout.ABIX64, Hook: layout.HookRawSyscall, Args: [6]uint64{0x100000, uint64(len(c.payloads)), 0x7f0000, 0x3e0000},
			Comm: "kexec"}.Marshal(bo),
	}
	segs := layout.Segments{Header: hdr(c.id), NrPassed: uint64(len(c.payloads)), NrCopied: uint32(len(c.payloads)), EntrySize: 32}
	for i, p := range c.payloads {
		segs.Segs = append(segs.Segs, layout.Segment{Buf: 0x1000 * uint64(i+1), BufSz: uint64(len(p)), Mem: 0x100000 * uint64(i+1), MemSz: uint64(len(p))})
	}
	recs = append(recs, segs.Marshal(bo))
	for i, p := range c.payloads {
		limit := uint64(len(p))
		var flags uint32
		if c.snaplen > 0 && limit > c.snaplen {
			limit, flags = c.snaplen, layout.PFSnaplen
		}
		var emitted uint64
		var pieces, dropped, readErrs uint32
		for off, n := uint64(0), 0; off < limit; off, n = off+uint64(pieceLen), n+1 {
			end := min(off+uint64(pieceLen), limit)
			if stop, ok := c.stopAt[i]; ok && n >= stop {
				break
			}
			if c.drop[i][n] {
				dropped++
				flags |= layout.PFRingFull
				continue
			}
			pc := layout.Piece{Header: hdr(c.id), Kind: layout.KindSegment, Index: uint16(i), Source: layout.SrcSyscallEntry,
				Offset: off, Total: uint64(len(p)), Data: p[off:end]}
			if c.readErr[i][n] {
				// As BPF ships it: the attempted length, zero-filled.
				pc.ReadErr = -14
				pc.Data = make([]byte, end-off)
				readErrs++
				flags |= layout.PFReadError
			}
			recs = append(recs, pc.Marshal(bo))
			emitted += end - off
			pieces++
		}
		if !c.noEnd[i] {
			recs = append(recs, layout.PayloadEnd{Header: hdr(c.id), Kind: layout.KindSegment, Index: uint16(i),
				Source: layout.SrcSyscallEntry, Total: uint64(len(p)), Emitted: emitted, Pieces: pieces,
				Dropped: dropped, ReadErrors: readErrs, Flags: flags}.Marshal(bo))
		}
	}
	if !c.noExit {
		recs = append(recs, layout.Exit{Header: hdr(c.id), Ret: -1, DurationNS: 5, TID: uint32(os.Getpid()), SyscallNr: 246,
			Hook: layout.HookRawSyscall}.Marshal(bo))
	}
	return recs
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// record runs a Recorder over recs and stops it once they were all handled.
func record(t *testing.T, cfg Config, recs [][]byte) (Summary, error) {
	t.Helper()
	src := NewFakeSource("raw", 4, "fentry: not available here")
	cfg.Source = src
	if cfg.Sink == nil {
		cfg.Sink = &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	}
	if cfg.Header.RecordLayout == 0 {
		cfg.Header = HostHeader("test")
	}
	src.SetCounter(0, 7)
	src.SetCounter(4, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		s   Summary
		err error
	}
	done := make(chan result, 1)
	rec := New(cfg)
	go func() {
		s, err := rec.Run(ctx)
		done <- result{s, err}
	}()
	for _, r := range recs {
		if !src.Push(r) {
			break // the recorder stopped by itself (--count, error)
		}
	}
	cancel()
	res := <-done
	return res.s, res.err
}

type capture struct {
	header  format.Header
	records []format.Record
	status  format.Status
	stats   format.Stats
	path    string
}

func readCapture(t *testing.T, path string) capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := capture{header: r.Header(), path: path}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c.records = append(c.records, format.Record{Type: rec.Type, Data: bytes.Clone(rec.Data)})
	}
	c.status, c.stats = r.Status(), r.Stats()
	return c
}

// index is the capture's payload index (its file stays open until the
// test ends).
func (c capture) index(t *testing.T) *format.Index {
	t.Helper()
	f, err := os.Open(c.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	ix, err := format.OpenIndex(f, fi.Size(), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// blob returns the bytes of the blob whose bytes hash to sha (whatever id
// the capture gives it).
func (c capture) blob(t *testing.T, sha string) []byte {
	t.Helper()
	ix := c.index(t)
	var sum [32]byte
	if _, err := hex.Decode(sum[:], []byte(sha)); err != nil {
		t.Fatalf("bad sha %q", sha)
	}
	for id := range ix.Blobs() {
		if got, err := ix.BlobSHA256(id); err == nil && got == sum {
			sum = id
			break
		}
	}
	rc, _, err := ix.Blob(sum)
	if err != nil {
		t.Fatalf("blob %s: %v", sha, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c capture) types() []uint16 {
	var ts []uint16
	for _, r := range c.records {
		ts = append(ts, r.Type)
	}
	return ts
}

// payloads are the capture's PAYLOAD records, each with its SHA-256: a
// format 1.1 record names only its blob, and the SHA-256 is computed from
// the blob's checked pieces, as readers do.
func (c capture) payloads(t *testing.T) []layout.Payload {
	var ps []layout.Payload
	var ix *format.Index
	for _, r := range c.records {
		if r.Type == layout.RecPayload {
			var p layout.Payload
			if err := json.Unmarshal(r.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.Blob != "" && p.SHA256 == "" {
				if ix == nil {
					ix = c.index(t)
				}
				var id [32]byte
				if _, err := hex.Decode(id[:], []byte(p.Blob)); err != nil {
					t.Fatalf("bad blob id %q", p.Blob)
				}
				sum, err := ix.BlobSHA256(id)
				if err != nil {
					t.Fatalf("blob %s: %v", p.Blob, err)
				}
				p.SHA256 = hex.EncodeToString(sum[:])
			}
			ps = append(ps, p)
		}
	}
	return ps
}

func (c capture) count(typ uint16) int {
	n := 0
	for _, r := range c.records {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestRecordEveryRecordType(t *testing.T) {
	big, small := randBytes(600<<10), []byte{0x42}
	call := callSpec{id: 1, payloads: [][]byte{big, small}}
	recs := call.records()
	// kexec_file_load-style FILE record before the exit.
	file := layout.File{Header: hdr(1), Kind: layout.KindKernel, Dev: 8<<20 | 1, Ino: 42, Size: 9, ISize: 9, Path: "/boot/vmlinuz"}.Marshal(bo)
	recs = slices.Insert(recs, len(recs)-1, file)
	// Ring records may carry padding beyond their size: it must be trimmed.
	recs[0] = append(bytes.Clone(recs[0]), 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE)

	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	sum, err := record(t, Config{Sink: sink}, recs)
	if err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	want := []uint16{layout.RecNote, layout.RecEnter, layout.RecProcess, layout.RecSegments,
		layout.RecPayloadEnd, layout.RecPayload, layout.RecPayloadEnd, layout.RecPayload, layout.RecFile, layout.RecExit}
	if got := c.types(); !reflect.DeepEqual(got, want) {
		t.Fatalf("record types %v, want %v", got, want)
	}
	// Raw records are stored byte for byte, trimmed to their size.
	raw := map[uint16][]byte{layout.RecEnter: recs[0][:layout.EnterSize], layout.RecSegments: recs[1], layout.RecFile: file, layout.RecExit: recs[len(recs)-1]}
	for _, r := range c.records {
		if w, ok := raw[r.Type]; ok && !bytes.Equal(r.Data, w) {
			t.Errorf("type %d stored as %d bytes that differ from the %d emitted", r.Type, len(r.Data), len(w))
		}
	}
	var note layout.Note
	json.Unmarshal(c.records[0].Data, &note)
	if note.Level != "warn" || note.Message != "fentry: not available here" {
		t.Errorf("source warning note = %+v", note)
	}

	ps := c.payloads(t)
	for i, want := range [][]byte{big, small} {
		p := ps[i]
		if p.CallID != 1 || p.Index != uint16(i) || p.Kind != layout.KindSegment || p.Source != layout.SrcSyscallEntry {
			t.Errorf("payload %d identity %+v", i, p)
		}
		if !p.Complete || p.Captured != uint64(len(want)) || p.Total != uint64(len(want)) || len(p.Missing) > 0 || len(p.Reasons) > 0 {
			t.Errorf("payload %d: %+v, want complete %d bytes", i, p, len(want))
		}
		if p.SHA256 != hexSHA(want) {
			t.Errorf("payload %d sha %s, want %s", i, p.SHA256, hexSHA(want))
		}
		if got := c.blob(t, p.SHA256); !bytes.Equal(got, want) {
			t.Errorf("payload %d blob differs (%d bytes, want %d)", i, len(got), len(want))
		}
	}

	var proc layout.Process
	json.Unmarshal(c.records[2].Data, &proc)
	exe, _ := os.Executable()
	if proc.CallID != 1 || proc.PID != uint32(os.Getpid()) || proc.Exe != exe || !reflect.DeepEqual(proc.Argv, os.Args) {
		t.Errorf("process %+v, want exe %s argv %q", proc, exe, os.Args)
	}
	if !slices.Contains(proc.Raced, "exe") || !slices.Contains(proc.Raced, "argv") || !slices.Contains(proc.Raced, "cgroup") || len(proc.Missing) > 0 {
		t.Errorf("process raced %v missing %v", proc.Raced, proc.Missing)
	}

	h := c.header
	if h.AttachMode != "raw" || h.ByteOrder != "little" || h.RecordLayout != layout.Version || h.BootStartNS == 0 || h.WallStart.IsZero() || h.Part != 0 {
		t.Errorf("header %+v", h)
	}
	if !c.status.Clean || !c.status.ChainOK {
		t.Errorf("status clean=%v chain=%v", c.status.Clean, c.status.ChainOK)
	}
	if c.stats["calls"] != 7 || c.stats["pieces_dropped"] != 2 || c.stats["calls_completed"] != 1 || c.stats["calls_recorded"] != 1 ||
		c.stats["payload_bytes"] != uint64(len(big)+1) || c.stats["ring_records"] != uint64(len(recs)) || c.stats["records_written"] != uint64(len(c.records)) {
		t.Errorf("stats %v", c.stats)
	}
	if sum.CallsCompleted != 1 || len(sum.Files) != 1 {
		t.Errorf("summary %+v", sum)
	}
	fi, _ := os.Stat(sink.Base)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
}

func TestPayloadHolesAreZeroFilledAndReported(t *testing.T) {
	a, b, e, f := randBytes(3*layout.PieceMax), randBytes(2*layout.PieceMax), randBytes(2*layout.PieceMax+10), randBytes(4*layout.PieceMax)
	call := callSpec{id: 9, payloads: [][]byte{a, b, e, f},
		drop:    map[int]map[int]bool{0: {1: true}, 1: {1: true}, 3: {1: true}},
		readErr: map[int]map[int]bool{2: {0: true}, 3: {2: true}}}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, call.records()); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ps := c.payloads(t)
	if len(ps) != 4 {
		t.Fatalf("%d payloads", len(ps))
	}
	zero := func(b []byte, off, n int) []byte {
		b = bytes.Clone(b)
		clear(b[off : off+n])
		return b
	}
	cases := []struct {
		want    []byte
		missing []layout.Range
		reasons []string
	}{
		{zero(a, layout.PieceMax, layout.PieceMax), []layout.Range{{Off: layout.PieceMax, Len: layout.PieceMax}}, []string{"ring-full"}},
		// The last piece was dropped: only END's counters say so. A tail is
		// not zero-filled: the blob stops at the last byte that arrived.
		{b[:layout.PieceMax], []layout.Range{{Off: layout.PieceMax, Len: layout.PieceMax}}, []string{"ring-full"}},
		{zero(e, 0, layout.PieceMax), []layout.Range{{Off: 0, Len: layout.PieceMax}}, []string{"read-error"}},
		// A lost piece next to an unreadable one: two ranges, one cause each.
		{zero(f, layout.PieceMax, 2*layout.PieceMax), []layout.Range{{Off: layout.PieceMax, Len: layout.PieceMax}, {Off: 2 * layout.PieceMax, Len: layout.PieceMax}},
			[]string{"ring-full", "read-error"}},
	}
	for i, w := range cases {
		p := ps[i]
		if p.Complete || p.Captured != uint64(len(w.want)) || !reflect.DeepEqual(p.Missing, w.missing) || !reflect.DeepEqual(p.Reasons, w.reasons) {
			t.Errorf("payload %d: %+v, want captured %d missing %v reasons %v", i, p, len(w.want), w.missing, w.reasons)
		}
		if p.SHA256 != hexSHA(w.want) || !bytes.Equal(c.blob(t, p.SHA256), w.want) {
			t.Errorf("payload %d: blob is not the data with the hole zero-filled (and no tail)", i)
		}
	}
	if ps[2].ReadErrors != 1 || ps[3].ReadErrors != 1 {
		t.Errorf("read errors %d %d", ps[2].ReadErrors, ps[3].ReadErrors)
	}
	// Ring loss and unreadable memory are counted apart.
	if c.stats["zero_filled_bytes"] != 2*layout.PieceMax || c.stats["read_error_bytes"] != 2*layout.PieceMax || c.stats["payloads_incomplete"] != 4 {
		t.Errorf("stats %v", c.stats)
	}
}

func TestLostEndPayloadClosedAtExit(t *testing.T) {
	p0, p1 := randBytes(layout.PieceMax+5), randBytes(100)
	call := callSpec{id: 3, payloads: [][]byte{p0, p1}, noEnd: map[int]bool{0: true}}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, call.records()); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ts := c.types()
	if ts[len(ts)-1] != layout.RecExit || ts[len(ts)-2] != layout.RecPayload {
		t.Fatalf("types %v: the lost-end payload must come right before the exit", ts)
	}
	ps := c.payloads(t)
	lost := ps[len(ps)-1]
	if lost.Index != 0 || lost.Complete || !reflect.DeepEqual(lost.Reasons, []string{"lost-end"}) ||
		lost.Captured != uint64(len(p0)) || lost.Total != uint64(len(p0)) || lost.SHA256 != hexSHA(p0) {
		t.Errorf("lost-end payload %+v", lost)
	}
	if !ps[0].Complete || ps[0].Index != 1 {
		t.Errorf("other payload %+v", ps[0])
	}
}

func TestUnfinishedCallAtStop(t *testing.T) {
	call := callSpec{id: 4, payloads: [][]byte{randBytes(1000)}, noEnd: map[int]bool{0: true}, noExit: true}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, call.records()); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ps := c.payloads(t)
	if len(ps) != 1 || ps[0].Captured != 1000 || ps[0].Complete || c.count(layout.RecExit) != 0 || !c.status.Clean {
		t.Errorf("payloads %+v exits %d clean %v", ps, c.count(layout.RecExit), c.status.Clean)
	}
}

func TestSnaplenMarksPayloads(t *testing.T) {
	const snap = 300 << 10
	big, small := randBytes(1<<20), randBytes(1000)
	call := callSpec{id: 5, payloads: [][]byte{big, small}, snaplen: snap}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink, Snaplen: snap}, call.records()); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ps := c.payloads(t)
	p := ps[0]
	if p.Complete || p.Captured != snap || p.Total != 1<<20 || !reflect.DeepEqual(p.Missing, []layout.Range{{Off: snap, Len: 1<<20 - snap}}) ||
		!reflect.DeepEqual(p.Reasons, []string{"snaplen"}) || p.SHA256 != hexSHA(big[:snap]) {
		t.Errorf("snapped payload %+v", p)
	}
	if !ps[1].Complete || ps[1].SHA256 != hexSHA(small) {
		t.Errorf("small payload %+v", ps[1])
	}
}

func TestNoPayloadEnd(t *testing.T) {
	end := layout.PayloadEnd{Header: hdr(6), Kind: layout.KindSegment, Total: 5000, Flags: layout.PFNoPayload}
	recs := [][]byte{layout.Enter{Header: hdr(6), PID: 1}.Marshal(bo), end.Marshal(bo), layout.Exit{Header: hdr(6)}.Marshal(bo)}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	ps := readCapture(t, sink.Base).payloads(t)
	if len(ps) != 1 || ps[0].Captured != 0 || ps[0].Complete || !reflect.DeepEqual(ps[0].Reasons, []string{"no-payload"}) || ps[0].SHA256 != hexSHA(nil) ||
		!reflect.DeepEqual(ps[0].Missing, []layout.Range{{Off: 0, Len: 5000}}) {
		t.Errorf("payloads %+v", ps)
	}
}

func TestMalformedRecordsAreNotedNotFatal(t *testing.T) {
	good := callSpec{id: 8, payloads: [][]byte{[]byte("ok")}}.records()
	badPiece := layout.Piece{Header: hdr(8), Kind: layout.KindSegment, Offset: 10, Total: 5, Data: []byte("xyz")}.Marshal(bo)
	recs := append([][]byte{{1, 2, 3}, badPiece}, good...)
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	if c.stats["bad_records"] != 2 || c.count(layout.RecExit) != 1 || c.count(layout.RecNote) != 3 {
		t.Errorf("bad_records %d exits %d notes %d", c.stats["bad_records"], c.count(layout.RecExit), c.count(layout.RecNote))
	}
}

// callIDs returns the call ids of the ENTER and EXIT records of a capture.
func callIDs(t *testing.T, c capture) (enters, exits []uint64) {
	for _, r := range c.records {
		h, _ := layout.ParseHeader(r.Data, bo)
		switch r.Type {
		case layout.RecEnter:
			enters = append(enters, h.CallID)
		case layout.RecExit:
			exits = append(exits, h.CallID)
		}
	}
	return
}

func TestRotationBySizeAndMaxFiles(t *testing.T) {
	var recs [][]byte
	for id := uint64(1); id <= 12; id++ {
		recs = append(recs, callSpec{id: id, payloads: [][]byte{randBytes(40 << 10)}}.records()...)
	}
	// Interleave two calls: call 100's exit comes after call 101's entry, so
	// no rotation may happen between them.
	a := callSpec{id: 100, payloads: [][]byte{randBytes(200 << 10)}}.records()
	b := callSpec{id: 101, payloads: [][]byte{randBytes(10)}}.records()
	recs = append(recs, a[:len(a)-1]...)
	recs = append(recs, b...)
	recs = append(recs, a[len(a)-1])

	dir := t.TempDir()
	base := filepath.Join(dir, "cap.zst")
	sum, err := record(t, Config{Sink: &FileSink{Base: base}, Rotate: Rotation{Size: 64 << 10},
		Writer: format.WriterOptions{SealBytes: 16 << 10}}, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Files) < 5 {
		t.Fatalf("files %v: expected a rotation every ~64 KiB", sum.Files)
	}
	var setID [16]byte
	total := 0
	for i, name := range sum.Files {
		if name != PartName(base, uint32(i)) {
			t.Errorf("part %d named %s", i, name)
		}
		c := readCapture(t, name)
		if !c.status.Clean || c.header.Part != uint32(i) {
			t.Errorf("%s: clean %v part %d", name, c.status.Clean, c.header.Part)
		}
		if i == 0 {
			setID = c.header.SetID
		} else if c.header.SetID != setID || c.header.SetID == ([16]byte{}) {
			t.Errorf("%s: set id differs", name)
		}
		en, ex := callIDs(t, c)
		slices.Sort(en)
		slices.Sort(ex)
		if !reflect.DeepEqual(en, ex) {
			t.Errorf("%s: a call is split across files: enters %v exits %v", name, en, ex)
		}
		total += len(ex)
		if c.count(layout.RecExit) != c.count(layout.RecEnter) || c.count(layout.RecPayload) != c.count(layout.RecPayloadEnd) {
			t.Errorf("%s: unbalanced records %v", name, c.types())
		}
	}
	if total != 14 {
		t.Errorf("%d calls across parts, want 14", total)
	}

	// --max-files 2: only the newest two parts remain.
	base2 := filepath.Join(dir, "ring.zst")
	sum, err = record(t, Config{Sink: &FileSink{Base: base2, MaxFiles: 2}, Rotate: Rotation{Size: 64 << 10},
		Writer: format.WriterOptions{SealBytes: 16 << 10}}, recs)
	if err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(base2 + "*")
	slices.Sort(left)
	n := len(sum.Files)
	want := []string{sum.Files[n-2], sum.Files[n-1]}
	slices.Sort(want)
	if n < 3 || !reflect.DeepEqual(left, want) {
		t.Errorf("left %v, want the last two of %v", left, sum.Files)
	}
}

func TestRotationEvery(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	src := NewFakeSource("raw", 1)
	ctx, cancel := context.WithCancel(context.Background())
	rec := New(Config{Source: src, Sink: &FileSink{Base: base}, Header: HostHeader("test"),
		Rotate: Rotation{Every: 50 * time.Millisecond}, TickInterval: 10 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := rec.Run(ctx); done <- err }()
	// Wait (without a time assertion) until the recorder has rotated twice.
	for rec.Progress().Part < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := uint32(0); i <= 2; i++ {
		if c := readCapture(t, PartName(base, i)); !c.status.Clean || c.header.Part != i {
			t.Errorf("part %d clean %v header part %d", i, c.status.Clean, c.header.Part)
		}
	}
}

func TestCountStopsAfterNCalls(t *testing.T) {
	var recs [][]byte
	for id := uint64(1); id <= 6; id++ {
		recs = append(recs, callSpec{id: id, payloads: [][]byte{randBytes(100)}}.records()...)
	}
	base := filepath.Join(t.TempDir(), "cap.zst")
	src := NewFakeSource("raw", len(recs))
	for _, r := range recs {
		src.Push(r)
	}
	// No cancel: the recorder must stop by itself.
	sum, err := New(Config{Source: src, Sink: &FileSink{Base: base}, Header: HostHeader("t"), Count: 3}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, base)
	_, ex := callIDs(t, c)
	if !reflect.DeepEqual(ex, []uint64{1, 2, 3}) || sum.CallsCompleted != 3 || !c.status.Clean {
		t.Errorf("exits %v completed %d clean %v", ex, sum.CallsCompleted, c.status.Clean)
	}
}

func TestOutputExists(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	os.WriteFile(base, []byte("precious"), 0o644)
	_, err := record(t, Config{Sink: &FileSink{Base: base}}, nil)
	if !errors.Is(err, ErrOutputExists) {
		t.Fatalf("err %v, want ErrOutputExists", err)
	}
	if b, _ := os.ReadFile(base); string(b) != "precious" {
		t.Error("existing file was touched")
	}
	if _, err := record(t, Config{Sink: &FileSink{Base: base, Force: true}}, nil); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(base)
	if fi.Mode().Perm() != 0o600 || !readCapture(t, base).status.Clean {
		t.Errorf("forced output mode %v", fi.Mode())
	}
}

func TestStreamSink(t *testing.T) {
	var buf bytes.Buffer
	call := callSpec{id: 1, payloads: [][]byte{[]byte("hello")}}
	if _, err := record(t, Config{Sink: &StreamSink{W: &buf, Label: "<stdout>"}, Rotate: Rotation{Size: 1}}, call.records()); err != nil {
		t.Fatal(err)
	}
	r, err := format.NewReader(&buf, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n == 0 || !r.Status().Clean {
		t.Errorf("records %d clean %v", n, r.Status().Clean)
	}
}

func TestReadErrorStopsWithTrailer(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	src := NewFakeSource("raw", 16)
	for _, r := range (callSpec{id: 1, payloads: [][]byte{[]byte("x")}}).records() {
		src.Push(r)
	}
	src.FailRead(errors.New("ring gone"))
	_, err := New(Config{Source: src, Sink: &FileSink{Base: base}, Header: HostHeader("t")}).Run(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	c := readCapture(t, base)
	if !c.status.Clean || c.count(layout.RecExit) != 1 {
		t.Errorf("clean %v exits %d", c.status.Clean, c.count(layout.RecExit))
	}
}

func TestOpenPayloadsAreBounded(t *testing.T) {
	const calls = maxOpenPayloads + 6
	specs := make([][][]byte, calls)
	for i := range specs {
		specs[i] = callSpec{id: uint64(i + 1), payloads: [][]byte{randBytes(2 * layout.PieceMax)}}.records()
	}
	// Every call enters and sends its first piece before any sends its second.
	var recs [][]byte
	for _, s := range specs {
		recs = append(recs, s[0], s[1], s[2]) // ENTER, SEGMENTS, first piece
	}
	for _, s := range specs {
		recs = append(recs, s[3:]...) // second piece, END, EXIT
	}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ps := c.payloads(t)
	if len(ps) != calls {
		t.Fatalf("%d payload records, want %d", len(ps), calls)
	}
	limited := 0
	for _, p := range ps {
		if slices.Contains(p.Reasons, "recorder-limit") {
			limited++
			if p.Complete || p.Captured != layout.PieceMax || p.CallID > 6 {
				t.Errorf("evicted payload %+v", p)
			}
		} else if !p.Complete {
			t.Errorf("payload %+v", p)
		}
	}
	if limited != 6 || c.stats["pieces_discarded"] != 6 || c.stats["payloads_limited"] != 6 || c.count(layout.RecExit) != calls {
		t.Errorf("%d evicted, %d pieces discarded, %d exits", limited, c.stats["pieces_discarded"], c.count(layout.RecExit))
	}
}

// A call whose exit never comes holds a due rotation back only until it
// has been silent for StaleAfter; then it is given up with a note.
func TestStaleCallDoesNotBlockRotation(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	src := NewFakeSource("raw", 8)
	ctx, cancel := context.WithCancel(context.Background())
	rec := New(Config{Source: src, Sink: &FileSink{Base: base}, Header: HostHeader("test"),
		Rotate: Rotation{Every: time.Millisecond}, TickInterval: 5 * time.Millisecond, StaleAfter: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := rec.Run(ctx); done <- err }()
	for rec.Progress().Part < 1 { // wait until the first rotation, whatever the ticks did
		time.Sleep(5 * time.Millisecond)
	}
	// Start a call and never finish it.
	recs := callSpec{id: 77, payloads: [][]byte{randBytes(1000)}, noExit: true, noEnd: map[int]bool{0: true}}.records()
	for _, r := range recs {
		src.Push(r)
	}
	for rec.Progress().CallsSeen < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	from := rec.Progress().Part
	for rec.Progress().Part < from+2 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var c capture
	for part := uint32(0); ; part++ {
		if _, err := os.Stat(PartName(base, part)); err != nil {
			t.Fatalf("no part holds call 77")
		}
		if c = readCapture(t, PartName(base, part)); c.count(layout.RecEnter) > 0 {
			break
		}
	}
	ps := c.payloads(t)
	if c.count(layout.RecEnter) != 1 || len(ps) != 1 || ps[0].Captured != 1000 || !slices.Contains(ps[0].Reasons, "lost-end") || !c.status.Clean {
		t.Fatalf("%s: types %v payloads %+v", c.path, c.types(), ps)
	}
	found := false
	for _, r := range c.records {
		var n layout.Note
		if r.Type == layout.RecNote && json.Unmarshal(r.Data, &n) == nil && strings.Contains(n.Message, "call 77: no exit seen") {
			found = true
		}
	}
	if !found || c.stats["calls_abandoned"] != 1 {
		t.Errorf("no note about the abandoned call; stats %v", c.stats)
	}
}

// notes returns the messages of a capture's RecNote records.
func (c capture) notes() []string {
	var ms []string
	for _, r := range c.records {
		var n layout.Note
		if r.Type == layout.RecNote && json.Unmarshal(r.Data, &n) == nil {
			ms = append(ms, n.Message)
		}
	}
	return ms
}

// Anyone can make a kexec call the recorder sees; no payload, however
// broken, may stop the recording. A hole whose zero fill would cross the
// recorder's limit cuts that payload (the rest Missing as "recorder-limit")
// and the recording goes on.
func TestPayloadOverZeroFillLimitIsCutNotFatal(t *testing.T) {
	const gib = uint64(1) << 30
	head := randBytes(4096)
	piece := func(index uint16, off, total uint64, data []byte) []byte {
		return layout.Piece{Header: hdr(1), Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry,
			Offset: off, Total: total, Data: data}.Marshal(bo)
	}
	end := func(index uint16, total uint64, pieces, dropped uint32) []byte {
		return layout.PayloadEnd{Header: hdr(1), Kind: layout.KindSegment, Index: index, Source: layout.SrcSyscallEntry,
			Total: total, Emitted: 4096 * uint64(pieces), Pieces: pieces, Dropped: dropped, Flags: layout.PFRingFull}.Marshal(bo)
	}
	recs := [][]byte{
		layout.Enter{Header: hdr(1), PID: uint32(os.Getpid()), SyscallNr: 246}.Marshal(bo),
		// Payload 0: a piece 5 GiB in (a hole past the zero-fill limit),
		// then one more that must be discarded too.
		piece(0, 0, 6*gib, head),
		piece(0, 5*gib, 6*gib, randBytes(4096)),
		piece(0, 5*gib+4096, 6*gib, randBytes(4096)),
		end(0, 6*gib, 3, 20000),
		// Payload 1: only the END's drop count explains a 5 GiB tail.
		piece(1, 0, 5*gib, head),
		end(1, 5*gib, 1, uint32(5*gib/layout.PieceMax)),
		layout.Exit{Header: hdr(1), Ret: -1}.Marshal(bo),
	}
	later := randBytes(3000)
	recs = append(recs, callSpec{id: 2, payloads: [][]byte{later}}.records()...)

	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	sum, err := record(t, Config{Sink: sink}, recs)
	if err != nil {
		t.Fatalf("a payload problem ended the recording: %v", err)
	}
	c := readCapture(t, sink.Base)
	if !c.status.Clean || sum.CallsCompleted != 2 || c.count(layout.RecExit) != 2 {
		t.Fatalf("clean %v, %d calls completed, %d exits", c.status.Clean, sum.CallsCompleted, c.count(layout.RecExit))
	}
	ps := c.payloads(t)
	if len(ps) != 3 {
		t.Fatalf("%d payloads", len(ps))
	}
	// Payload 0 hit the zero-fill limit; payload 1's tail is simply not
	// stored (tails are never zero-filled), so it needs no limit.
	for i, w := range []struct {
		total   uint64
		reasons []string
	}{{6 * gib, []string{"ring-full", "recorder-limit"}}, {5 * gib, []string{"ring-full"}}} {
		p := ps[i]
		if p.Complete || p.Captured != 4096 || p.Total != w.total || p.SHA256 != hexSHA(head) ||
			!reflect.DeepEqual(p.Missing, []layout.Range{{Off: 4096, Len: w.total - 4096}}) ||
			!reflect.DeepEqual(p.Reasons, w.reasons) {
			t.Errorf("payload %d: %+v", i, p)
		}
	}
	if p := ps[2]; p.CallID != 2 || !p.Complete || p.SHA256 != hexSHA(later) {
		t.Errorf("the call after the cut one: %+v", p)
	}
	if c.stats["payloads_limited"] != 1 || c.stats["pieces_discarded"] != 2 || c.stats["zero_filled_bytes"] != 0 {
		t.Errorf("stats %v", c.stats)
	}
	cutNotes := 0
	for _, m := range c.notes() {
		if strings.Contains(m, "call 1: payload kind 1 index") && strings.Contains(m, "cut at 4096 bytes") {
			cutNotes++
		}
	}
	if cutNotes != 1 {
		t.Errorf("notes %q", c.notes())
	}
}

// Whatever made BPF stop early, the payload's Missing ranges cover every
// byte from what was captured up to its total, with a reason.
func TestShortPayloadTailIsMissing(t *testing.T) {
	const pm = layout.PieceMax
	gaveUp, dropped := randBytes(10*pm), randBytes(4*pm)
	call := callSpec{id: 12, payloads: [][]byte{gaveUp, dropped},
		// Four unreadable pieces in a row, then BPF gives up.
		readErr: map[int]map[int]bool{0: {2: true, 3: true, 4: true, 5: true}},
		stopAt:  map[int]int{0: 6, 1: 1},
	}
	recs := call.records()
	// Payload 1: one piece sent, then the END says a piece was dropped,
	// which cannot explain a 3-piece tail.
	for i, r := range recs {
		h, _ := layout.ParseHeader(r, bo)
		if h.Type == layout.RecPayloadEnd {
			e, _ := layout.ParsePayloadEnd(r, bo)
			if e.Index == 1 {
				e.Dropped, e.Flags = 1, layout.PFRingFull
				recs[i] = e.Marshal(bo)
			}
		}
	}
	// Payload 2 of a lost call: its END and the call's EXIT never come.
	lost := callSpec{id: 13, payloads: [][]byte{randBytes(3 * pm)}, stopAt: map[int]int{0: 1}, noEnd: map[int]bool{0: true}, noExit: true}
	recs = append(recs, lost.records()...)
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	ps := c.payloads(t)
	if len(ps) != 3 {
		t.Fatalf("%d payloads", len(ps))
	}
	want := []struct {
		captured uint64
		missing  []layout.Range
		reasons  []string
	}{
		// The unreadable pieces (stored as zeros) and the never-attempted
		// rest are one read-error range.
		{6 * pm, []layout.Range{{Off: 2 * pm, Len: 8 * pm}}, []string{"read-error"}},
		{pm, []layout.Range{{Off: pm, Len: 3 * pm}}, []string{"ring-full"}},
		{pm, []layout.Range{{Off: pm, Len: 2 * pm}}, []string{"lost-end"}},
	}
	for i, w := range want {
		p := ps[i]
		if p.Complete || p.Captured != w.captured || !reflect.DeepEqual(p.Missing, w.missing) || !reflect.DeepEqual(p.Reasons, w.reasons) {
			t.Errorf("payload %d: %+v, want captured %d missing %v reasons %v", i, p, w.captured, w.missing, w.reasons)
		}
	}
	if ps[0].ReadErrors != 4 || c.stats["read_error_bytes"] != 4*pm || c.stats["zero_filled_bytes"] != 0 {
		t.Errorf("read errors %d, stats %v", ps[0].ReadErrors, c.stats)
	}
	wantBlob := bytes.Clone(gaveUp[:6*pm])
	clear(wantBlob[2*pm:])
	if !bytes.Equal(c.blob(t, ps[0].SHA256), wantBlob) {
		t.Error("gave-up payload blob is not the readable head plus zeros for the unreadable pieces")
	}
}

// A part that cannot be created ends the recording with an error naming
// that part, after the previous part was closed with its trailer.
func TestRotationErrorNamesTheNewPart(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	if err := os.WriteFile(base+".1", []byte("older set"), 0o600); err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for id := uint64(1); id <= 4; id++ {
		recs = append(recs, callSpec{id: id, payloads: [][]byte{randBytes(100 << 10)}}.records()...)
	}
	_, err := record(t, Config{Sink: &FileSink{Base: base}, Rotate: Rotation{Size: 32 << 10}}, recs)
	if !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), base+".1") || strings.Contains(err.Error(), base+":") {
		t.Fatalf("err %v, want ErrOutputExists naming %s.1", err, base)
	}
	if c := readCapture(t, base); !c.status.Clean || c.count(layout.RecExit) < 1 {
		t.Errorf("part 0: clean %v, %d exits", c.status.Clean, c.count(layout.RecExit))
	}
	if b, _ := os.ReadFile(base + ".1"); string(b) != "older set" {
		t.Error("the existing part was modified")
	}
}

// --force must not write through a symlink planted at the output path (a
// root recorder writing to /tmp would otherwise truncate and chmod the
// link's target).
func TestForceDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "cap.zst")
	if err := os.Symlink(victim, base); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.zst")
	created := filepath.Join(dir, "would-be-created")
	if err := os.Symlink(created, dangling); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		b, _ := os.ReadFile(victim)
		fi, _ := os.Stat(victim)
		if string(b) != "precious" || fi.Mode().Perm() != 0o644 {
			t.Errorf("symlink target changed: %d bytes, mode %v", len(b), fi.Mode())
		}
		if _, err := os.Lstat(created); err == nil {
			t.Error("a dangling symlink's target was created")
		}
	}
	// Without --force both are refused.
	for _, name := range []string{base, dangling} {
		if _, err := record(t, Config{Sink: &FileSink{Base: name}}, nil); !errors.Is(err, ErrOutputExists) {
			t.Errorf("%s: err %v, want ErrOutputExists", name, err)
		}
	}
	check()
	call := callSpec{id: 1, payloads: [][]byte{[]byte("x")}}
	for _, name := range []string{base, dangling} {
		if _, err := record(t, Config{Sink: &FileSink{Base: name, Force: true}}, call.records()); err != nil {
			t.Fatalf("%s --force: %v", name, err)
		}
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want a regular 0600 file", name, fi.Mode(), err)
		}
		if c := readCapture(t, name); !c.status.Clean || c.count(layout.RecExit) != 1 {
			t.Errorf("%s: clean %v", name, c.status.Clean)
		}
	}
	check()
}

func TestExistingParts(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "cap.kxr")
	for _, n := range []string{"cap.kxr.10", "cap.kxr.7", "cap.kxr", "cap.kxr.07", "cap.kxr.bak", "cap.kxr.0", "cap.kxr.1x", "other.1", "cap.kxr.99999999999"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	os.Symlink("nowhere", filepath.Join(dir, "cap.kxr.8"))
	got, err := ExistingParts(base)
	want := []string{base, base + ".7", base + ".8", base + ".10"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ExistingParts = %v, %v; want %v", got, err, want)
	}
	if got, err := ExistingParts(filepath.Join(dir, "none")); err != nil || len(got) != 0 {
		t.Errorf("no parts: %v %v", got, err)
	}
}

// A payload cut by snaplen whose capture BPF also ended early at its time
// limit: each missing range names its own cause.
func TestMissingRangesNameTheirOwnCause(t *testing.T) {
	const pm = layout.PieceMax
	data := randBytes(10 * pm)
	call := callSpec{id: 14, payloads: [][]byte{data}, stopAt: map[int]int{0: 2}}
	recs := call.records()
	for i, r := range recs {
		if h, _ := layout.ParseHeader(r, bo); h.Type == layout.RecPayloadEnd {
			e, _ := layout.ParsePayloadEnd(r, bo)
			e.Flags = layout.PFSnaplen | layout.PFLoopLimit
			e.Dropped = 2 // the two pieces up to the snaplen BPF gave up on
			recs[i] = e.Marshal(bo)
		}
	}
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink, Snaplen: 4 * pm}, recs); err != nil {
		t.Fatal(err)
	}
	ps := readCapture(t, sink.Base).payloads(t)
	if len(ps) != 1 {
		t.Fatalf("%d payloads", len(ps))
	}
	p := ps[0]
	wantMissing := []layout.Range{{Off: 2 * pm, Len: 2 * pm}, {Off: 4 * pm, Len: 6 * pm}}
	if p.Complete || p.Captured != 2*pm || !reflect.DeepEqual(p.Missing, wantMissing) ||
		!reflect.DeepEqual(p.Reasons, []string{"snaplen", "loop-limit"}) {
		t.Errorf("payload %+v, want missing %v (loop-limit, then snaplen)", p, wantMissing)
	}
}

// A source that reuses record memory gets every record back once the
// recorder is done with it, and the capture holds what was recorded even
// though each record is overwritten the moment it is handed back.
func TestRecycledRecordsAreNotKept(t *testing.T) {
	big, small := randBytes(1<<20+123), []byte{0x42}
	recs := callSpec{id: 1, payloads: [][]byte{big, small}}.records()
	file := layout.File{Header: hdr(1), Kind: layout.KindKernel, Dev: 8<<20 | 1, Ino: 42, Size: 9, ISize: 9, Path: "/boot/vmlinuz"}.Marshal(bo)
	recs = slices.Insert(recs, len(recs)-1, file)
	want := bytes.Join(recs, nil) // the records as pushed, for the raw comparison below

	src := NewRecyclingFakeSource("raw", 4)
	path := filepath.Join(t.TempDir(), "cap.zst")
	done := make(chan error, 1)
	// A recorder that used a record after handing it back would see
	// garbage and might never count the call complete: the deadline turns
	// that into a failure below instead of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		_, err := New(Config{Source: src, Sink: &FileSink{Base: path}, Header: HostHeader("test"), Count: 1}).Run(ctx)
		done <- err
	}()
	for _, r := range recs {
		if !src.Push(bytes.Clone(r)) {
			t.Fatal("the recorder stopped early")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := src.Recycled(); got != int64(len(recs)) {
		t.Errorf("%d records handed back, %d read", got, len(recs))
	}
	c := readCapture(t, path)
	for i, p := range c.payloads(t) {
		w := [][]byte{big, small}[i]
		if p.SHA256 != hexSHA(w) || !p.Complete || !bytes.Equal(c.blob(t, p.SHA256), w) {
			t.Errorf("payload %d: %+v, want complete with sha %s", i, p, hexSHA(w))
		}
	}
	var raw [][]byte
	for _, r := range c.records {
		switch r.Type {
		case layout.RecEnter, layout.RecSegments, layout.RecFile, layout.RecExit, layout.RecPayloadEnd:
			raw = append(raw, r.Data)
		}
	}
	for _, r := range raw {
		if !bytes.Contains(want, r) {
			t.Errorf("a stored %d-byte record is not one that was pushed (kept after it was recycled?)", len(r))
		}
	}
	if len(raw) != 2+1+1+2 { // enter, segments, file, exit, two ends
		t.Errorf("%d raw records stored", len(raw))
	}
}
