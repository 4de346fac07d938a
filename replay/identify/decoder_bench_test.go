package identify

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
	kgzip "github.com/klauspost/compress/gzip"
	rcxz "github.com/therootcompany/xz"
	"github.com/ulikunitz/xz/lzma"
)

// The decoder comparison: every candidate pure-Go decoder of a format
// decodes a real kernel stream up to its "Linux version" banner, which is
// the work identification does. The xz stream is the kernel segment of the
// real Debian 6.1 sample capture, read with the project's own format
// reader; the other formats are the same kernel recompressed by the
// compressors the kernel build uses (skipped where the tool is missing).
// MB/s counts decompressed bytes up to the banner; cpu-ms/op is the measure
// identify's choice per format follows (wall time on a shared machine
// mostly measures the neighbours).

const realSample = "../../testdata/samples/real-6.1-kprobe-kexec_load.zst"

var (
	streamsOnce sync.Once
	streamsErr  error
	xzStream    []byte // the kernel segment's xz stream (and what follows it)
	vmlinuxHead []byte // the decompressed kernel up to a little past the banner
	bannerAt    int64
)

// kernelSegment returns the largest blob of the sample: the kexec_load
// kernel segment.
func sampleKernelSegment() ([]byte, error) {
	f, err := os.Open(realSample)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ix, err := format.OpenIndex(f, st.Size(), format.ReaderOptions{})
	if err != nil {
		return nil, err
	}
	var best [32]byte
	var size uint64
	for sum, info := range ix.Blobs() {
		if info.Ref.Size > size {
			best, size = sum, info.Ref.Size
		}
	}
	rc, _, err := ix.Blob(best)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func benchStreams(b *testing.B) {
	streamsOnce.Do(func() {
		seg, err := sampleKernelSegment()
		if err != nil {
			streamsErr = err
			return
		}
		off := bytes.Index(seg[:64<<10], []byte{0xFD, '7', 'z', 'X', 'Z', 0})
		if off < 0 {
			streamsErr = io.ErrUnexpectedEOF
			return
		}
		xzStream = seg[off:]
		out, err := io.ReadAll(io.LimitReader(newXZReader(newCountingReader(bytes.NewReader(xzStream), time.Now().Add(time.Minute)), 64<<20), 64<<20))
		if err != nil {
			streamsErr = err
			return
		}
		i := bytes.Index(out, bannerPrefix)
		if i < 0 {
			streamsErr = io.ErrUnexpectedEOF
			return
		}
		bannerAt = int64(i)
		vmlinuxHead = out[:i+1<<20]
	})
	if streamsErr != nil {
		b.Fatal(streamsErr)
	}
}

// toBanner reads r until the banner, as identification does.
func toBanner(b *testing.B, r io.Reader) {
	banner, err := scanBanner(r)
	if banner == "" {
		b.Fatalf("no banner: %v", err)
	}
}

func BenchmarkDecodeToBanner(b *testing.B) {
	benchStreams(b)
	xzWith := func(newLZMA2 func(io.Reader, int) (io.Reader, error)) func() io.Reader {
		return func() io.Reader {
			x := newXZReader(newCountingReader(bytes.NewReader(xzStream), time.Now().Add(time.Hour)), 64<<20)
			x.newLZMA2 = newLZMA2
			return x
		}
	}
	candidates := []struct {
		name string
		open func() io.Reader
	}{
		{"xz/internal-lzma2", xzWith(nil)},
		{"xz/ulikunitz-lzma", xzWith(func(r io.Reader, dict int) (io.Reader, error) {
			return lzma.Reader2Config{DictCap: max(dict, lzma.MinDictCap)}.NewReader2(r)
		})},
		{"xz/therootcompany-xz", func() io.Reader {
			r, err := rcxz.NewReader(bytes.NewReader(xzStream), 0)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}},
	}
	for _, c := range candidates {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(bannerAt)
			cpu := cpuTime()
			for b.Loop() {
				toBanner(b, c.open())
			}
			reportCPU(b, cpu)
		})
	}
	recompressed := []struct {
		name string
		argv []string
		open func(b *testing.B, z []byte) io.Reader
	}{
		{"gzip/compress-gzip", []string{"gzip", "-9", "-n", "-c"}, func(b *testing.B, z []byte) io.Reader {
			r, err := stdgzip.NewReader(bytes.NewReader(z))
			if err != nil {
				b.Fatal(err)
			}
			return r
		}},
		{"gzip/klauspost-gzip", []string{"gzip", "-9", "-n", "-c"}, func(b *testing.B, z []byte) io.Reader {
			r, err := kgzip.NewReader(bytes.NewReader(z))
			if err != nil {
				b.Fatal(err)
			}
			return r
		}},
		{"zstd/klauspost-zstd", []string{"zstd", "-22", "--ultra", "-c"}, openVia(compZstd)},
		{"lz4/pierrec-lz4", []string{"lz4", "-l", "-9", "-c"}, openVia(compLZ4)},
		{"bzip2/compress-bzip2", []string{"bzip2", "-9", "-c"}, openVia(compBzip2)},
	}
	for _, c := range recompressed {
		b.Run(c.name, func(b *testing.B) {
			z := compressed(b, c.argv)
			b.SetBytes(bannerAt)
			cpu := cpuTime()
			for b.Loop() {
				toBanner(b, c.open(b, z))
			}
			reportCPU(b, cpu)
		})
	}
}

// openVia opens a stream the way identification does.
func openVia(kind string) func(b *testing.B, z []byte) io.Reader {
	return func(b *testing.B, z []byte) io.Reader {
		d, err := openDecompressor(kind, newCountingReader(bytes.NewReader(z), time.Now().Add(time.Hour)), 256<<20)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(d.close)
		return d
	}
}

var (
	recompressedMu sync.Mutex
	recompressedBy = map[string][]byte{}
)

func compressed(b *testing.B, argv []string) []byte {
	recompressedMu.Lock()
	defer recompressedMu.Unlock()
	key := argv[0] + " " + argv[1]
	if z, ok := recompressedBy[key]; ok {
		return z
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		b.Skipf("no %s to recompress the kernel with", argv[0])
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(vmlinuxHead)
	z, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
	recompressedBy[key] = z
	return z
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// compares decoders more steadily than wall time (each decoder is one
// goroutine; the garbage collector's share is counted too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/1e6/float64(b.N), "cpu-ms/op")
}
