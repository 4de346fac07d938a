package recorder

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// BenchmarkPayloadCeiling measures, on one goroutine (one core: while a
// large payload is captured the calling CPU waits in BPF for ring space, so
// the recorder has the other core of a two-core machine), each kind of work
// the recorder does per payload byte between the ring and the sealed file,
// over the same 256 MiB of incompressible bytes as Pipeline256MiB. Beside
// Pipeline256MiB and RealKexecLoad256MiB in one harness run, the rows show
// the ceiling of the capture rate on this machine:
//
//   - sha256-once: one SHA-256 pass (a payload hashed once with SHA-256:
//     SHA-256 piece ids, readers deriving the payload SHA-256);
//   - sha256-twice: the piece id and the payload SHA-256, each byte twice, as
//     format 1.0 does (format.PieceSHA256);
//   - blake3-once: one BLAKE3 pass over each 1 MiB piece (its format 1.1
//     piece id, the writer's only pass over the bytes);
//   - blake3+sha256: a BLAKE3 piece id and the payload SHA-256 kept;
//   - zstd: compressing the 1 MiB pieces with the writer's settings;
//   - stored-frame: what the writer does instead for a piece zstd cannot
//     shrink: the piece copied into raw zstd blocks and its XXH64 content
//     checksum;
//   - floor: the least a capture in this format needs per byte, in one
//     loop: each piece's BLAKE3 (its id), XXH64 (the zstd frame's content
//     checksum) and CRC32C (the frame check) over the ring records as they
//     come, and one writev(2) of the records into the page cache, with no
//     copy in user space and no chunk headers, records, ring or channel;
//   - copy-write: copying each 256 KiB ring record into a 1 MiB piece
//     buffer and writing the pieces to a file in the test's temp dir (the
//     page cache), with no hashing or compression at all.
//
// One core can capture at most 1 / (sum of the per-byte times) of these.
// Each row also reports the thread's CPU time per byte (cpu-ns/B) and the
// rate that gives (cpu-MB/s): on a shared, loaded machine wall time counts
// waiting for a CPU, the thread CPU clock only the work.
func BenchmarkPayloadCeiling(b *testing.B) {
	pieces := ceilingPieces()
	const piece = 1 << 20 // format's default blob piece size
	b.Run("sha256-once", func(b *testing.B) {
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			h := sha256.New()
			for _, p := range pieces {
				h.Write(p)
			}
			h.Sum(nil)
		}
	})
	b.Run("sha256-twice", func(b *testing.B) {
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			h := sha256.New()
			for i := 0; i < len(pieces); i += piece / layout.PieceMax {
				for _, p := range pieces[i : i+piece/layout.PieceMax] {
					h.Write(p)
				}
				id := sha256.New()
				for _, p := range pieces[i : i+piece/layout.PieceMax] {
					id.Write(p)
				}
				id.Sum(nil)
			}
			h.Sum(nil)
		}
	})
	b.Run("blake3-once", func(b *testing.B) {
		buf := make([]byte, 0, piece)
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			for _, p := range pieces {
				buf = append(buf, p...)
				if len(buf) == piece {
					blake3.Sum256(buf)
					buf = buf[:0]
				}
			}
		}
	})
	b.Run("blake3+sha256", func(b *testing.B) {
		buf := make([]byte, 0, piece)
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			h := sha256.New()
			for _, p := range pieces {
				h.Write(p)
				buf = append(buf, p...)
				if len(buf) == piece {
					blake3.Sum256(buf)
					buf = buf[:0]
				}
			}
			h.Sum(nil)
		}
	})
	b.Run("stored-frame", func(b *testing.B) {
		buf := make([]byte, 0, piece)
		var out []byte
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			for _, p := range pieces {
				buf = append(buf, p...)
				if len(buf) == piece {
					out = append(out[:0], buf...)
					xxhash.Sum64(buf)
					buf = buf[:0]
				}
			}
		}
	})
	b.Run("zstd", func(b *testing.B) {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true), zstd.WithZeroFrames(true))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, piece)
		var out []byte
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			for _, p := range pieces {
				buf = append(buf, p...)
				if len(buf) == piece {
					out = enc.EncodeAll(buf, out[:0])
					buf = buf[:0]
				}
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		ringFloor(b, pieces, piece)
	})
	b.Run("copy-write", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "pieces")
		buf := make([]byte, 0, piece)
		defer threadCPU(b, benchPayload)()
		for b.Loop() {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range pieces {
				buf = append(buf, p...)
				if len(buf) == piece {
					if _, err := f.Write(buf); err != nil {
						b.Fatal(err)
					}
					buf = buf[:0]
				}
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// ringFloor is the least per byte a capture in this format needs: each
// piece's BLAKE3 (its id), XXH64 (the zstd frame's content checksum) and
// CRC32C, computed over the ring records as they come, and the records
// written straight from where they are with one writev(2) per piece, so
// no byte is copied in user space.
func ringFloor(b *testing.B, records [][]byte, piece int) {
	path := filepath.Join(b.TempDir(), "floor")
	per := piece / len(records[0])
	h, x := blake3.New(), xxhash.New()
	defer threadCPU(b, benchPayload)()
	for b.Loop() {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i+per <= len(records); i += per {
			group := records[i : i+per]
			h.Reset()
			x.Reset()
			var crc uint32
			for _, r := range group {
				h.Write(r)
				x.Write(r)
				crc = crc32.Update(crc, castagnoli, r)
			}
			h.Sum(nil)
			x.Sum64()
			if err := writevAll(f, group); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// writevAll writes every byte of bufs to f with writev(2), going on after
// a short write.
func writevAll(f *os.File, bufs [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	bufs = slices.Clone(bufs)
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 && werr == nil {
			var n int
			n, werr = unix.Writev(int(fd), bufs)
			for n > 0 {
				if n < len(bufs[0]) {
					bufs[0] = bufs[0][n:]
					break
				}
				n -= len(bufs[0])
				bufs = bufs[1:]
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ceilingPieces is the 256 MiB payload as ring records would carry it:
// 256 KiB pieces of random bytes, every piece different.
func ceilingPieces() [][]byte {
	rng := rand.New(rand.NewPCG(1, 7))
	out := make([][]byte, benchPayload/layout.PieceMax)
	for i := range out {
		p := make([]byte, layout.PieceMax)
		for j := 0; j < len(p); j += 8 {
			binary.LittleEndian.PutUint64(p[j:], rng.Uint64())
		}
		out[i] = p
	}
	return out
}

// threadCPU sets the benchmark's bytes per op, locks the goroutine to its
// thread and returns a func (to defer) that reports the thread's CPU time
// per byte and the rate it gives.
func threadCPU(b *testing.B, bytesPerOp int64) func() {
	b.SetBytes(bytesPerOp)
	runtime.LockOSThread()
	var t0 unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	return func() {
		var t1 unix.Timespec
		unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
		runtime.UnlockOSThread()
		nsPerByte := float64(t1.Nano()-t0.Nano()) / float64(b.N) / float64(bytesPerOp)
		b.ReportMetric(nsPerByte, "cpu-ns/B")
		b.ReportMetric(1e3/nsPerByte, "cpu-MB/s")
	}
}
