package format

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// fixedClock returns a Now that advances 1 ms per call from a fixed start.
func fixedClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Millisecond); return t }
}

func testHeader() Header {
	return Header{
		Hostname: "host1", MachineID: "m-id", BootID: "b-id", KernelRelease: "6.18.0",
		KernelVersion: "#1 SMP", Arch: "amd64", ByteOrder: "little", WriterVersion: "test",
		RecordLayout: 1, AttachMode: "raw", KnownReturn: "ENOSYS", KnownReturnWhy: "no kimage",
		Options:   map[string]string{"snaplen": "0"},
		WallStart: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), BootStartNS: 42,
		Extra: map[string]string{"k": "v"}, SetID: [16]byte{9, 9}, Part: 3,
	}
}

// capture describes what a test wrote, to compare with what is read.
type capture struct {
	data    []byte
	records []Record
	blobs   map[[32]byte][]byte
	stats   Stats
	header  Header
}

// writeSample writes records, two blobs (one twice), stats; signed when key != nil.
func writeSample(t testing.TB, key ed25519.PrivateKey, closeIt bool) capture {
	return writeSampleHash(t, key, closeIt, PieceBLAKE3)
}

// writeSampleHash is writeSample with the pieces and blobs named by ph.
func writeSampleHash(t testing.TB, key ed25519.PrivateKey, closeIt bool, ph PieceHash) capture {
	t.Helper()
	var buf bytes.Buffer
	h := testHeader()
	w, err := NewWriter(&buf, h, WriterOptions{SealBytes: 200, PieceSize: 64, SignKey: key, Now: fixedClock(), PieceHash: ph})
	if err != nil {
		t.Fatal(err)
	}
	c := capture{blobs: map[[32]byte][]byte{}, stats: Stats{"calls": 3, "enter_dropped": 0}}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		d := make([]byte, rng.IntN(90))
		for j := range d {
			d[j] = byte(rng.UintN(256))
		}
		r := Record{Type: uint16(1 + i%6), Data: d}
		c.records = append(c.records, r)
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			for _, payload := range [][]byte{bytes.Repeat([]byte("abcdefgh"), 30), make([]byte, 0), bytes.Repeat([]byte("abcdefgh"), 30)} {
				bw := w.NewBlob()
				bw.Write(payload[:len(payload)/3])
				bw.Write(payload[len(payload)/3:])
				ref, err := bw.Close()
				if err != nil {
					t.Fatal(err)
				}
				if ref.Size != uint64(len(payload)) || ref.ListID != (ph == PieceBLAKE3) ||
					ph == PieceSHA256 && ref.ID != sha256.Sum256(payload) {
					t.Fatalf("blob ref %x/%d/%v", ref.ID, ref.Size, ref.ListID)
				}
				c.blobs[ref.ID] = payload
			}
			if err := w.WriteStats(Stats{"calls": 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.WriteStats(c.stats); err != nil {
		t.Fatal(err)
	}
	if closeIt {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(buf.Len()) {
		t.Fatalf("Written %d, buffer %d", w.Written(), buf.Len())
	}
	c.data = buf.Bytes()
	c.header = h
	return c
}

type readResult struct {
	header  Header
	records []Record
	status  Status
	blobs   map[[32]byte]BlobInfo
	stats   Stats
	err     error
}

// readAll reads data with o, and again with Prefetch switched: both must
// give the same records, status, blobs, stats and error (every test that
// reads through readAll checks the prefetching reader too).
func readAll(data []byte, o ReaderOptions) readResult {
	res := readAllOnce(data, o)
	o.Prefetch = !o.Prefetch
	if other := readAllOnce(data, o); !reflect.DeepEqual(res, other) {
		panic(fmt.Sprintf("reading with Prefetch=%v differs from Prefetch=%v:\n%+v\n%+v", o.Prefetch, !o.Prefetch, other, res))
	}
	return res
}

func readAllOnce(data []byte, o ReaderOptions) readResult {
	var res readResult
	r, err := NewReader(bytes.NewReader(data), o)
	if err != nil {
		res.err = err
		return res
	}
	defer r.Close()
	res.header = r.Header()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		res.records = append(res.records, Record{rec.Type, append([]byte{}, rec.Data...)})
	}
	res.status, res.blobs, res.stats = r.Status(), r.Blobs(), r.Stats()
	return res
}

func TestRoundTrip(t *testing.T) {
	c := writeSample(t, nil, true)
	res := readAll(c.data, ReaderOptions{})
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := c.header
	got := res.header
	if got.FileID == ([16]byte{}) {
		t.Fatal("FileID not set")
	}
	want.FileID = got.FileID
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("header\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(res.records, c.records) {
		t.Fatalf("records differ: got %d want %d", len(res.records), len(c.records))
	}
	if !reflect.DeepEqual(res.stats, c.stats) {
		t.Fatalf("stats %v want %v", res.stats, c.stats)
	}
	st := res.status
	if !st.Clean || !st.ChainOK || len(st.Damage) != 0 || st.Signed || st.Records != 12 {
		t.Fatalf("status %+v", st)
	}
	if st.Bytes != int64(len(c.data)) {
		t.Fatalf("Bytes %d, file %d", st.Bytes, len(c.data))
	}
	tc := st.TrailerCounts
	// 240-byte payload at 64-byte pieces: 4 pieces, of which 3 identical
	// "abcdefgh..." ones; plus an empty blob with no piece.
	if tc == nil || tc.Records != 12 || tc.Blobs != 2 || tc.Pieces != 2 || tc.Chunks != uint64(st.Chunks-1) {
		t.Fatalf("trailer counts %+v, chunks %d", tc, st.Chunks)
	}
	if st.ChunksByType["piece"] != 2 || st.ChunksByType["blobmap"] != 2 || st.ChunksByType["stats"] != 2 ||
		st.ChunksByType["header"] != 1 || st.ChunksByType["trailer"] != 1 || st.ChunksByType["events"] < 3 {
		t.Fatalf("chunks by type %v", st.ChunksByType)
	}
	if len(res.blobs) != 2 {
		t.Fatalf("blobs %v", res.blobs)
	}
	ix, err := OpenIndex(bytes.NewReader(c.data), int64(len(c.data)), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for sum, payload := range c.blobs {
		info := res.blobs[sum]
		if !info.Present || info.Ref.Size != uint64(len(payload)) {
			t.Fatalf("blob info %+v", info)
		}
		rc, _, err := ix.Blob(sum)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("blob %x: err %v, %d bytes", sum[:4], err, len(b))
		}
		if got, err := ix.BlobSHA256(sum); err != nil || got != sha256.Sum256(payload) {
			t.Fatalf("blob %x: SHA-256 %x, %v", sum[:4], got, err)
		}
	}
	if _, _, err := ix.Blob([32]byte{1}); err == nil {
		t.Fatal("unknown blob: no error")
	}
	if _, err := ix.BlobSHA256([32]byte{1}); err == nil {
		t.Fatal("unknown blob SHA-256: no error")
	}
}

// TestZstdTool: the file is a valid zstd stream for the zstd tool, and
// decompresses to the concatenated chunk bodies.
func TestZstdTool(t *testing.T) {
	zstdPath := testenv.Tool(t, "zstd")
	c := writeSample(t, nil, true)
	p := filepath.Join(t.TempDir(), "c.zst")
	os.WriteFile(p, c.data, 0o644)
	if out, err := exec.Command(zstdPath, "-t", p).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
	if out, err := exec.Command(zstdPath, "-l", p).CombinedOutput(); err != nil {
		t.Fatalf("zstd -l: %v\n%s", err, out)
	}
}

func TestRecordTypesFilter(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{}, WriterOptions{})
	w.WriteRecord(Record{Type: 1, Data: []byte("a")})
	w.WriteRecord(Record{Type: 77, Data: []byte("unknown, skippable")})
	w.WriteRecord(Record{Type: 2, Data: []byte("b")})
	w.Close()
	res := readAll(buf.Bytes(), ReaderOptions{RecordTypes: []uint16{1, 2}})
	if res.err != nil || len(res.records) != 2 || res.status.SkippedTypes[77] != 1 {
		t.Fatalf("err %v records %d skipped %v", res.err, len(res.records), res.status.SkippedTypes)
	}
	// Without a filter every record comes back.
	if res := readAll(buf.Bytes(), ReaderOptions{}); len(res.records) != 3 {
		t.Fatalf("records %d", len(res.records))
	}

	buf.Reset()
	w, _ = NewWriter(&buf, Header{}, WriterOptions{})
	w.WriteRecord(Record{Type: 1, Data: []byte("a")})
	w.WriteRecord(Record{Type: CriticalBit | 5, Data: []byte("must understand")})
	w.Close()
	res = readAll(buf.Bytes(), ReaderOptions{RecordTypes: []uint16{1}})
	if !errors.Is(res.err, ErrCritical) || len(res.records) != 1 {
		t.Fatalf("critical record: err %v, records %d", res.err, len(res.records))
	}
}

// writeRawChunk appends a chunk of any type, continuing w's chain, through
// the writer's own code path (used to make files a future writer would make).
func writeRawChunk(t *testing.T, w *Writer, typ uint16, body []byte) {
	t.Helper()
	if err := w.w.writeChunk(typ, body, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownChunkTypes(t *testing.T) {
	for _, tc := range []struct {
		typ      uint16
		critical bool
	}{{0x0042, false}, {CriticalBit | 0x0042, true}} {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, Header{}, WriterOptions{})
		w.WriteRecord(Record{Type: 1, Data: []byte("before")})
		w.Seal()
		writeRawChunk(t, w, tc.typ, []byte("future stuff"))
		w.WriteRecord(Record{Type: 1, Data: []byte("after")})
		w.Close()
		res := readAll(buf.Bytes(), ReaderOptions{})
		if tc.critical {
			if !errors.Is(res.err, ErrCritical) || len(res.records) != 1 {
				t.Fatalf("critical chunk: err %v records %d", res.err, len(res.records))
			}
			var fe *FormatError
			if !errors.As(res.err, &fe) || fe.Off <= 0 {
				t.Fatalf("want FormatError with offset, got %v", res.err)
			}
			// Salvage does not override a critical type either.
			if res := readAll(buf.Bytes(), ReaderOptions{Salvage: true}); !errors.Is(res.err, ErrCritical) {
				t.Fatalf("salvage read critical chunk: %v", res.err)
			}
			continue
		}
		if res.err != nil || len(res.records) != 2 || res.status.SkippedTypes[tc.typ] != 1 || !res.status.ChainOK || !res.status.Clean {
			t.Fatalf("non-critical chunk: err %v records %d status %+v", res.err, len(res.records), res.status)
		}
	}
}

func TestUnknownMajorVersionAndFlags(t *testing.T) {
	c := writeSample(t, nil, true)
	// Rewrite chunk 0's major version (and CRC) to 2.
	d := append([]byte{}, c.data...)
	p := d[frameHdrLen : frameHdrLen+headerLenV1]
	p[4] = 2
	fixCRC(p)
	if _, err := NewReader(bytes.NewReader(d), ReaderOptions{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("major 2: %v", err)
	}
	d = append([]byte{}, c.data...)
	p = d[frameHdrLen : frameHdrLen+headerLenV1]
	p[15] = 0x01 // an incompatible flag (bit 24)
	fixCRC(p)
	if _, err := NewReader(bytes.NewReader(d), ReaderOptions{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("incompatible flag: %v", err)
	}
	d = append([]byte{}, c.data...)
	p = d[frameHdrLen : frameHdrLen+headerLenV1]
	p[12] = 0x01 // a compatible flag: ignored
	fixCRC(p)
	if res := readAll(d, ReaderOptions{}); res.err != nil || !res.status.Clean {
		t.Fatalf("compatible flag: %v", res.err)
	}
}

func fixCRC(p []byte) {
	h := chunkHeader{}
	_ = h
	n := len(p)
	crc := crc32c(p[:n-4])
	p[n-4], p[n-3], p[n-2], p[n-1] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
}

func TestSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	c := writeSample(t, priv, true)

	res := readAll(c.data, ReaderOptions{PublicKey: pub})
	st := res.status
	if res.err != nil || !st.Signed || !st.SignatureOK || !st.KeyTrusted || !bytes.Equal(st.SignerKey, pub) {
		t.Fatalf("good key: %v %+v", res.err, st)
	}
	res = readAll(c.data, ReaderOptions{})
	if st := res.status; !st.Signed || !st.SignatureOK || st.KeyTrusted {
		t.Fatalf("named key: %+v", st)
	}
	res = readAll(c.data, ReaderOptions{PublicKey: otherPub})
	if st := res.status; !st.Signed || st.SignatureOK || !st.KeyTrusted || !hasDamage(st, ErrSignature) {
		t.Fatalf("wrong key: %+v", st)
	}
	// A bad signature: flip one signature byte in the trailer body. The body
	// hash then fails, so recompute the trailer through the writer instead.
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{}, WriterOptions{})
	w.WriteRecord(Record{Type: 1, Data: []byte("x")})
	w.Seal()
	tr := trailer{Counts: w.w.counts, Head: w.w.chain, Signed: true}
	copy(tr.PublicKey[:], pub)
	copy(tr.Signature[:], ed25519.Sign(priv, []byte("something else")))
	writeRawChunk(t, w, ChunkTrailer, tr.marshal())
	res = readAll(buf.Bytes(), ReaderOptions{})
	if st := res.status; !st.Signed || st.SignatureOK || !hasDamage(st, ErrSignature) {
		t.Fatalf("bad signature: %+v", st)
	}
	// Unsigned file.
	res = readAll(writeSample(t, nil, true).data, ReaderOptions{PublicKey: pub})
	if st := res.status; st.Signed || st.SignatureOK {
		t.Fatalf("unsigned: %+v", st)
	}
}

func hasDamage(st Status, err error) bool {
	for _, d := range st.Damage {
		if errors.Is(d, err) {
			return true
		}
	}
	return false
}

func TestUncleanStop(t *testing.T) {
	c := writeSample(t, nil, false)
	res := readAll(c.data, ReaderOptions{})
	if res.err != nil || res.status.Clean || res.status.ChainOK || len(res.records) != len(c.records) {
		t.Fatalf("unclean: err %v status %+v records %d", res.err, res.status, len(res.records))
	}
}

// chunkOffsets returns the start offset of every chunk in a good file.
func chunkOffsets(t testing.TB, data []byte) []int64 {
	var offs []int64
	for off := 0; off < len(data); {
		offs = append(offs, int64(off))
		h, prob := parseChunkHeader(data[off+frameHdrLen : off+frameHdrLen+headerLenV1])
		if prob != nil {
			t.Fatalf("chunk at %d: %s", off, prob.msg)
		}
		off += frameHdrLen + headerLenV1 + int(h.CompSize)
	}
	return offs
}

// recordsBefore counts the records in events chunks that end at or before cut.
func recordsBefore(t testing.TB, data []byte, cut int64) int {
	n := 0
	offs := chunkOffsets(t, data)
	for i, off := range offs {
		end := int64(len(data))
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		if end > cut {
			break
		}
		h, _ := parseChunkHeader(data[off+frameHdrLen : off+frameHdrLen+headerLenV1])
		n += int(h.Records)
	}
	return n
}

// TestCutEverywhere: a file cut at any offset reads without panic and gives
// back every record of every chunk sealed before the cut.
func TestCutEverywhere(t *testing.T) {
	c := writeSample(t, nil, true)
	hdrEnd := chunkOffsets(t, c.data)[1]
	for cut := 0; cut < len(c.data); cut++ {
		for _, salvage := range []bool{false, true} {
			res := readAll(c.data[:cut], ReaderOptions{Salvage: salvage})
			if int64(cut) < hdrEnd {
				if res.err == nil {
					t.Fatalf("cut %d inside header: no error", cut)
				}
				continue
			}
			want := recordsBefore(t, c.data, int64(cut))
			if len(res.records) != want {
				t.Fatalf("cut %d salvage %v: %d records, want %d (err %v)", cut, salvage, len(res.records), want, res.err)
			}
			if want > 0 && !reflect.DeepEqual(res.records, c.records[:want]) {
				t.Fatalf("cut %d: records differ", cut)
			}
			if res.status.Clean {
				t.Fatalf("cut %d: clean", cut)
			}
		}
	}
}

// TestSalvageAcrossDamage: a damaged chunk in the middle is skipped, the
// rest is read, and the gap is reported.
func TestSalvageAcrossDamage(t *testing.T) {
	c := writeSample(t, nil, true)
	offs := chunkOffsets(t, c.data)
	for _, mode := range []string{"header", "body"} {
		// Damage chunk 2 (an events chunk).
		d := append([]byte{}, c.data...)
		if mode == "header" {
			d[offs[2]+frameHdrLen+20] ^= 0xFF // inside the header: CRC fails
		} else {
			d[offs[3]-2] ^= 0xFF // last bytes of the zstd frame: checksum fails
		}
		h, _ := parseChunkHeader(c.data[offs[2]+frameHdrLen : offs[2]+frameHdrLen+headerLenV1])
		lost := int(h.Records)
		strict := readAll(d, ReaderOptions{})
		if strict.err == nil {
			t.Fatalf("%s: strict read succeeded", mode)
		}
		res := readAll(d, ReaderOptions{Salvage: true})
		if res.err != nil {
			t.Fatalf("%s: salvage: %v", mode, res.err)
		}
		if len(res.records) != len(c.records)-lost {
			t.Fatalf("%s: %d records, want %d", mode, len(res.records), len(c.records)-lost)
		}
		st := res.status
		if !reflect.DeepEqual(st.Gaps, []Gap{{2, 2}}) || len(st.Damage) == 0 || st.ChainOK || !st.Clean {
			t.Fatalf("%s: status gaps %v damage %v chainOK %v", mode, st.Gaps, st.Damage, st.ChainOK)
		}
		if st.Damage[0].Off != offs[2] && st.Damage[0].Off != offs[2]+frameHdrLen+headerLenV1 {
			t.Fatalf("%s: damage offset %d, chunk at %d", mode, st.Damage[0].Off, offs[2])
		}
	}
}

func TestMaxChunkCap(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{}, WriterOptions{})
	w.WriteRecord(Record{Type: 1, Data: make([]byte, 100000)})
	w.Close()
	res := readAll(buf.Bytes(), ReaderOptions{MaxChunk: 50000})
	if !errors.Is(res.err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", res.err)
	}
}

func TestSealPolicies(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	w, _ := NewWriter(&buf, Header{}, WriterOptions{SealBytes: 1 << 20, SealInterval: time.Second,
		Now: func() time.Time { return now }})
	w.WriteRecord(Record{Type: 1, Data: []byte("a")})
	n := w.Written()
	w.Tick()
	if w.Written() != n {
		t.Fatal("sealed before the interval")
	}
	now = now.Add(time.Second)
	w.Tick()
	if w.Written() == n {
		t.Fatal("not sealed after the interval")
	}
	n = w.Written()
	w.Tick() // nothing pending: no empty chunk
	if w.Written() != n {
		t.Fatal("empty chunk sealed")
	}
	w.Close()
	if err := w.WriteRecord(Record{Type: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	res := readAll(buf.Bytes(), ReaderOptions{})
	if res.err != nil || len(res.records) != 1 || res.status.ChunksByType["events"] != 1 {
		t.Fatalf("%v %+v", res.err, res.status)
	}
}

// TestDedupLarge: 100 identical payloads cost one copy.
func TestDedupLarge(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{}, WriterOptions{PieceSize: 4096})
	payload := make([]byte, 5*4096+100)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range payload {
		payload[i] = byte(rng.UintN(256))
	}
	for range 100 {
		bw := w.NewBlob()
		bw.Write(payload)
		bw.Close()
	}
	w.Close()
	if buf.Len() > len(payload)+4096 {
		t.Fatalf("100 copies of %d bytes take %d", len(payload), buf.Len())
	}
	res := readAll(buf.Bytes(), ReaderOptions{})
	if res.status.TrailerCounts.Pieces != 6 || res.status.TrailerCounts.Blobs != 1 {
		t.Fatalf("%+v", res.status.TrailerCounts)
	}
}

type failAfter struct {
	n   int
	buf bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		k := f.n - f.buf.Len()
		f.buf.Write(p[:k])
		return k, errors.New("no space left on device")
	}
	return f.buf.Write(p)
}

func TestStickyError(t *testing.T) {
	c := writeSample(t, nil, true)
	offs := chunkOffsets(t, c.data)
	f := &failAfter{n: int(offs[4]) + 10}
	w, _ := NewWriter(f, testHeader(), WriterOptions{SealBytes: 200, PieceSize: 64, Now: fixedClock()})
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = w.WriteRecord(Record{Type: 1, Data: make([]byte, 50)})
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, e := range []error{w.WriteRecord(Record{Type: 1}), w.Seal(), w.WriteStats(Stats{}), w.Close(), w.Err()} {
		if e == nil || e.Error() != err.Error() {
			t.Fatalf("not sticky: %v", e)
		}
	}
	if _, err := w.NewBlob().Write([]byte("x")); err == nil {
		t.Fatal("blob write after error succeeded")
	}
	// The torn tail is tolerated by salvage; every sealed chunk comes back.
	res := readAll(f.buf.Bytes(), ReaderOptions{Salvage: true})
	if res.err != nil || res.status.Clean || len(res.records) == 0 {
		t.Fatalf("%v %+v", res.err, res.status)
	}
}

func TestKeysRoundTrip(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	pb, _ := MarshalPrivateKey(priv)
	ub, _ := MarshalPublicKey(pub)
	os.WriteFile(filepath.Join(dir, "k.key"), pb, 0o600)
	os.WriteFile(filepath.Join(dir, "k.pub"), ub, 0o644)
	k, err := LoadPrivateKey(filepath.Join(dir, "k.key"))
	if err != nil || !k.Equal(priv) {
		t.Fatal(err)
	}
	p, err := LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil || !p.Equal(pub) {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "k.key"), 0o644)
	if _, err := LoadPrivateKey(filepath.Join(dir, "k.key")); err == nil {
		t.Fatal("world-readable private key accepted")
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "k.key")); err == nil {
		t.Fatal("private key accepted as public")
	}
}
