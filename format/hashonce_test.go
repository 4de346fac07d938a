package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
)

// randomBytes is n incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:n]
}

// writeBlobs writes the given blobs with piece hash ph and returns the file
// and the blob refs.
func writeBlobs(t *testing.T, ph PieceHash, blobs ...[]byte) ([]byte, []BlobRef) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader(), WriterOptions{Now: fixedClock(), PieceHash: ph})
	if err != nil {
		t.Fatal(err)
	}
	var refs []BlobRef
	for _, b := range blobs {
		bw := w.NewBlob()
		if _, err := bw.Write(b); err != nil {
			t.Fatal(err)
		}
		ref, err := bw.Close()
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), refs
}

// TestPieceHashVersions: format 1.1 names pieces by BLAKE3 (flagged) and
// blobs by their piece list; 1.0 by SHA-256. Both read, verify and serve
// the blob's bytes and plain SHA-256; identical blobs share one map.
func TestPieceHashVersions(t *testing.T) {
	kernel := randomBytes(1, 2<<20+12345)
	for _, tc := range []struct {
		ph     PieceHash
		minor  uint16
		blake3 int
	}{{PieceBLAKE3, 1, 4}, {PieceSHA256, 0, 0}} {
		data, refs := writeBlobs(t, tc.ph, kernel, kernel, []byte("console=ttyS0"))
		if refs[0] != refs[1] || refs[0].ListID != (tc.ph == PieceBLAKE3) {
			t.Fatalf("%v: refs %+v", tc.ph, refs)
		}
		h, _ := parseChunkHeader(data[frameHdrLen : frameHdrLen+headerLenV1])
		if h.Minor != tc.minor {
			t.Fatalf("%v: minor %d, want %d", tc.ph, h.Minor, tc.minor)
		}
		res := readAll(data, ReaderOptions{})
		if res.err != nil || !res.status.Clean || !res.status.ChainOK || res.status.BLAKE3Chunks != tc.blake3 ||
			res.status.ChunksByType["piece"] != 4 || res.status.ChunksByType["blobmap"] != 2 {
			t.Fatalf("%v: err %v status %+v", tc.ph, res.err, res.status)
		}
		rep, err := Verify(bytes.NewReader(data), int64(len(data)), VerifyOptions{})
		if err != nil || !rep.Verified {
			t.Fatalf("%v: verify %v %+v", tc.ph, err, rep)
		}
		ix, err := OpenIndex(bytes.NewReader(data), int64(len(data)), ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range [][]byte{kernel, []byte("console=ttyS0")} {
			ref := refs[2*i]
			rc, _, err := ix.Blob(ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%v: blob %d: %v", tc.ph, i, err)
			}
			if sum, err := ix.BlobSHA256(ref.ID); err != nil || sum != sha256.Sum256(want) {
				t.Fatalf("%v: blob %d SHA-256 %x, %v", tc.ph, i, sum, err)
			}
			if tc.ph == PieceBLAKE3 && ix.Blobs()[ref.ID].Pieces[0] != blake3.Sum256(want[:min(len(want), defaultPieceSize)]) {
				t.Fatalf("blob %d: first piece id is not the BLAKE3 of its bytes", i)
			}
		}
	}
}

// TestUnknownFlagsRefused: a reader that knew only format 1.0 (no
// incompatible flag) would refuse a 1.1 piece rather than misread it; this
// reader refuses a flag it does not know in the same way.
func TestUnknownFlagsRefused(t *testing.T) {
	data, _ := writeBlobs(t, PieceBLAKE3, []byte("payload"))
	for off := 0; off+frameHdrLen+headerLenV1 <= len(data); {
		p := data[off+frameHdrLen : off+frameHdrLen+headerLenV1]
		h, prob := parseChunkHeader(p)
		if prob != nil {
			t.Fatal(prob.msg)
		}
		if h.Type == ChunkPiece {
			if h.Flags != FlagBodyBLAKE3 {
				t.Fatalf("piece flags %#x", h.Flags)
			}
			binary.LittleEndian.PutUint32(p[12:], h.Flags|1<<20)
			binary.LittleEndian.PutUint32(p[128:], crc32c(p[:128]))
			break
		}
		off += frameHdrLen + headerLenV1 + int(h.CompSize)
	}
	res := readAll(data, ReaderOptions{})
	if res.err == nil || !bytes.Contains([]byte(res.err.Error()), []byte("unknown incompatible chunk flags")) {
		t.Fatalf("err %v", res.err)
	}
}

// TestBlobListIDChecked: a map whose id is not its piece list's is refused.
func TestBlobListIDChecked(t *testing.T) {
	info := BlobInfo{Ref: BlobRef{Size: 100}, Pieces: [][32]byte{{1}, {2}}}
	info.Ref.ID = blobListID(100, 64, info.Pieces)
	if _, _, err := unmarshalBlobMap(marshalBlobMap(info, 64), FlagBlobListID); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*BlobInfo){
		func(i *BlobInfo) { i.Pieces[0], i.Pieces[1] = i.Pieces[1], i.Pieces[0] },
		func(i *BlobInfo) { i.Ref.Size = 99 },
		func(i *BlobInfo) { i.Ref.ID[0] ^= 1 },
	} {
		b := BlobInfo{Ref: info.Ref, Pieces: append([][32]byte(nil), info.Pieces...)}
		bad(&b)
		if _, _, err := unmarshalBlobMap(marshalBlobMap(b, 64), FlagBlobListID); err == nil {
			t.Fatalf("accepted %+v", b)
		}
	}
}

// TestStoredFrame: an incompressible piece goes out as a frame of raw
// blocks that zstd decoders (this one and the zstd tool) read and check; a
// compressible one is compressed.
func TestStoredFrame(t *testing.T) {
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	for _, n := range []int{0, 1, zstdMaxBlock - 1, zstdMaxBlock, zstdMaxBlock + 1, 1 << 20} {
		body := randomBytes(uint64(n), n)
		frame := appendStoredFrame(nil, body)
		blocks := max(1, (n+zstdMaxBlock-1)/zstdMaxBlock)
		if len(frame) != storedFrameFixed+3*blocks+n {
			t.Fatalf("%d bytes: frame of %d", n, len(frame))
		}
		got, err := dec.DecodeAll(frame, nil)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		frame[len(frame)-1] ^= 1 // the content checksum is checked
		if _, err := dec.DecodeAll(frame, nil); err == nil {
			t.Fatalf("%d bytes: bad checksum accepted", n)
		}
	}
	random := randomBytes(9, 1<<20)
	text := bytes.Repeat([]byte("kexec_load segment "), 60000)[:1<<20]
	data, _ := writeBlobs(t, PieceBLAKE3, random, text)
	if len(data) < 1<<20 || len(data) > 1<<20+64<<10 {
		t.Fatalf("file of %d bytes: the random piece should be stored and the text compressed", len(data))
	}
	if zstdTool, err := exec.LookPath("zstd"); err == nil {
		cmd := exec.Command(zstdTool, "-dc")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil || !bytes.Contains(out, random) || !bytes.Contains(out, text) {
			t.Fatalf("zstd -dc: %v, %d bytes", err, len(out))
		}
	}
}
