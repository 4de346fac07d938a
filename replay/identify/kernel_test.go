package identify

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// A real Debian kernel, whole (what kexec_file_load reads) and as the
// kexec_load kernel segment (the bytes after the real-mode setup).
func TestDebianKernel(t *testing.T) {
	for _, series := range []string{"6.1", "6.12"} { // 6.1 is xz (+x86 BCJ), 6.12 is zstd
		t.Run(series, func(t *testing.T) {
			k := testenv.DebianKernel(t, series)
			img, err := os.ReadFile(k.Vmlinuz)
			if err != nil {
				t.Fatal(err)
			}
			whole := Identify(bytes.NewReader(img), int64(len(img)), Options{})
			if whole.Type != "bzimage" || whole.KernelVersion != k.Release {
				t.Fatalf("whole file: type %q version %q, want bzimage %q; %+v", whole.Type, whole.KernelVersion, k.Release, whole)
			}
			if !strings.HasPrefix(whole.Banner, "Linux version "+k.Release+" ") {
				t.Errorf("banner %q", whole.Banner)
			}
			if len(whole.Warnings) != 0 {
				t.Errorf("warnings: %v", whole.Warnings)
			}
			kern16 := (int(img[0x1F1]) + 1) * 512
			seg := img[kern16:]
			r := Identify(bytes.NewReader(seg), int64(len(seg)), Options{})
			if r.Type != "kernel" || r.KernelVersion != k.Release || r.Compression != whole.Compression {
				t.Fatalf("kernel segment: %+v, want kernel %q (%s)", r, k.Release, whole.Compression)
			}
			if r.Banner != whole.Banner {
				t.Errorf("segment banner %q != whole-file banner %q", r.Banner, whole.Banner)
			}
			fast := Identify(bytes.NewReader(seg), int64(len(seg)), Options{NoDecompress: true})
			if fast.Type != "kernel" || fast.KernelVersion != "" {
				t.Errorf("NoDecompress: %+v", fast)
			}

			// The setup header and the decompressed banner must agree; a
			// patched header version is a finding.
			bad := bytes.Clone(img)
			v := bytes.Index(bad, []byte(k.Release+" ("))
			copy(bad[v:], "9")
			lied := Identify(bytes.NewReader(bad), int64(len(bad)), Options{})
			if !hasWarning(lied, "but the decompressed kernel's banner says") {
				t.Errorf("tampered header version: %+v", lied)
			}

			// Truncating the segment: no banner, no panic, still recognised.
			cut := seg[:len(seg)/8]
			tr := Identify(bytes.NewReader(cut), int64(len(cut)), Options{})
			if tr.KernelVersion != "" || tr.Type != "kernel" || len(tr.Warnings) == 0 {
				t.Errorf("truncated segment: %+v", tr)
			}
			// Payload length lying in the whole image.
			lying := bytes.Clone(img)
			lying[offPayloadLength+3] = 0x7F
			lr := Identify(bytes.NewReader(lying), int64(len(lying)), Options{})
			if lr.Type != "bzimage" || !hasWarning(lr, "runs past") {
				t.Errorf("lying payload_length: %+v", lr)
			}
		})
	}
}

// The x86 BCJ decoder against the xz tool: an x86-64 binary (has E8/E9
// everywhere) compressed with --x86 must come back byte for byte.
func TestXZBCJ(t *testing.T) {
	bin, err := os.ReadFile("/usr/sbin/kexec")
	if err != nil {
		testenv.Skip(t, "no /usr/sbin/kexec to use as x86 code: "+err.Error())
	}
	for _, argv := range [][]string{
		{"xz", "--x86", "--lzma2", "--check=crc32", "-c"},
		{"xz", "--x86=start=4096", "--lzma2", "--check=crc64", "-c"},
		{"xz", "--x86", "--lzma2", "--check=crc32", "-T2", "--block-size=100KiB", "-c"},
	} {
		data := compressWith(t, bin, argv...)
		in := newCountingReader(bytes.NewReader(data), time.Now().Add(time.Minute))
		got, err := io.ReadAll(newXZReader(in, 64<<20))
		if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		if !bytes.Equal(got, bin) {
			t.Fatalf("%v: decoded %d bytes differ from the original %d", argv, len(got), len(bin))
		}
		if in.n != int64(len(data)) {
			t.Errorf("%v: consumed %d of %d bytes", argv, in.n, len(data))
		}
	}
}

// The whole kernel stream of the real 6.1 sample decodes through our xz
// reader with every block check (CRC32 of the output) passing, and the
// reader stops exactly at the stream's end.
func TestSampleKernelStream(t *testing.T) {
	seg, err := sampleKernelSegment()
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Index(seg[:64<<10], []byte{0xFD, '7', 'z', 'X', 'Z', 0})
	if off != 0x2cc {
		t.Fatalf("xz stream at %#x, want 0x2cc", off)
	}
	in := newCountingReader(bytes.NewReader(seg[off:]), time.Now().Add(time.Minute))
	n, err := io.Copy(io.Discard, newXZReader(in, 64<<20))
	if err != nil || n != 65906612 {
		t.Fatalf("decoded %d bytes (want 65906612): %v", n, err)
	}
	if in.n != 8122336 {
		t.Errorf("consumed %d bytes, want the stream's 8122336", in.n)
	}
}
