package identify

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"
)

// gzipZeros builds a single-member gzip stream of n MiB of zeros without
// compressing n MiB: after a sync flush, every further MiB of zeros
// compresses to the same byte-aligned block, so the stream is the first
// block, that block repeated, an empty final block and the real trailer.
func gzipZeros(t testing.TB, mib int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	var parts [][]byte
	for i := 0; i < 3; i++ {
		w.Write(zero)
		w.Flush()
		parts = append(parts, bytes.Clone(buf.Bytes()))
		buf.Reset()
	}
	if !bytes.Equal(parts[1], parts[2]) {
		t.Fatal("zero blocks do not repeat; cannot build the bomb cheaply")
	}
	out := bytes.Clone(parts[0])
	for i := 1; i < mib; i++ {
		out = append(out, parts[1]...)
	}
	out = append(out, 0x03, 0x00) // final, empty fixed-Huffman block
	crc := crc32.NewIEEE()
	for i := 0; i < mib; i++ {
		crc.Write(zero)
	}
	out = binary.LittleEndian.AppendUint32(out, crc.Sum32())
	out = binary.LittleEndian.AppendUint32(out, uint32(int64(mib)<<20))
	return out
}

func TestGzipZerosIsValid(t *testing.T) {
	b := gzipZeros(t, 5)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil || n != 5<<20 {
		t.Fatalf("decompressed %d bytes, err %v", n, err)
	}
}

func TestDecompressionBomb(t *testing.T) {
	bomb := gzipZeros(t, 1024) // 1 GiB of zeros in about 1 MB
	const limit = 32 << 20
	r := Identify(bytes.NewReader(bomb), int64(len(bomb)), Options{MaxDecompressed: limit})
	if !hasWarning(r, fmt.Sprintf("stopped at the %d-byte decompression cap", limit)) {
		t.Fatalf("1 GiB gzip bomb: %+v", r)
	}
	// As a "kernel segment": the banner scan is capped the same way.
	seg := append([]byte{0xFC, 0xFA}, make([]byte, 0x2CA)...)
	seg = append(seg, bomb...)
	k := Identify(bytes.NewReader(seg), int64(len(seg)), Options{MaxDecompressed: limit})
	if k.KernelVersion != "" || !hasWarning(k, "decompression cap") {
		t.Fatalf("bomb in a kernel segment: %+v", k)
	}
	// And the time bound: a tiny timeout stops it first.
	tr := Identify(bytes.NewReader(bomb), int64(len(bomb)), Options{Timeout: time.Nanosecond})
	if !hasWarning(tr, "time limit") {
		t.Fatalf("timeout: %+v", tr)
	}
}

// Concatenated gzip members share one output budget, so splitting a bomb
// into members does not multiply the cap.
func TestBombInMembers(t *testing.T) {
	member := gzipZeros(t, 8)
	var data []byte
	for i := 0; i < 16; i++ {
		data = append(data, member...)
	}
	r := Identify(bytes.NewReader(data), int64(len(data)), Options{MaxDecompressed: 20 << 20})
	if !hasWarning(r, "decompression cap") {
		t.Fatalf("%+v", r)
	}
}

func cpioEntry(name string, mode uint32, data []byte, sizeField uint32, nameSizeField uint32) []byte {
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		1, mode, 0, 0, 1, 0, sizeField, 0, 0, 0, 0, nameSizeField, 0)
	b := []byte(h)
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestLyingCpio(t *testing.T) {
	good := cpioEntry("init", 0o100755, []byte("#!/bin/sh\n"), 10, 5)
	trailer := cpioEntry("TRAILER!!!", 0, nil, 0, 11)
	cases := map[string]struct {
		data []byte
		warn string
	}{
		"file size larger than the archive": {append(bytes.Clone(good), cpioEntry("big", 0o100644, []byte("x"), 0xFFFFFFFF, 4)...), "truncated"},
		"name size beyond PATH_MAX":         {append(bytes.Clone(good), cpioEntry("n", 0o100644, nil, 0, 0xFFFFFFF0)...), "out of range"},
		"zero name size":                    {append(bytes.Clone(good), cpioEntry("n", 0o100644, nil, 0, 0)...), "out of range"},
		"bad hex":                           {append(bytes.Clone(good), []byte("070701ZZZZZZZZ"+strings.Repeat("0", 96))...), "bad cpio header field"},
		"truncated header":                  {append(bytes.Clone(good), []byte("0707010000")...), "truncated"},
		"no trailer":                        {bytes.Clone(good), "truncated"},
		"symlink with a huge target":        {append(bytes.Clone(good), cpioEntry("l", 0o120777, []byte("/x"), 0x7FFFFFFF, 2)...), "truncated"},
		"junk after the trailer":            {append(append(bytes.Clone(good), trailer...), []byte("junkjunk")...), "unrecognised data"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := Identify(bytes.NewReader(c.data), int64(len(c.data)), Options{})
			if r.Type != "initramfs" || !hasWarning(r, c.warn) {
				t.Fatalf("%+v", r)
			}
			if f := r.Initramfs.Archives[0].Files; len(f) == 0 || f[0].Path != "init" {
				t.Errorf("the good entry before the bad one is lost: %+v", f)
			}
		})
	}
	ok := append(bytes.Clone(good), trailer...)
	r := Identify(bytes.NewReader(ok), int64(len(ok)), Options{})
	if r.Type != "initramfs" || len(r.Warnings) != 0 || r.Initramfs.Archives[0].Truncated {
		t.Fatalf("good archive: %+v", r)
	}
	// MaxFiles caps the listing.
	many := bytes.Clone(good)
	for i := 0; i < 50; i++ {
		many = append(many, cpioEntry(fmt.Sprint("f", i), 0o100644, nil, 0, uint32(len(fmt.Sprint("f", i))+1))...)
	}
	many = append(many, trailer...)
	r = Identify(bytes.NewReader(many), int64(len(many)), Options{MaxFiles: 10})
	if a := r.Initramfs.Archives[0]; len(a.Files) != 10 || !a.Truncated || !hasWarning(r, "cap") {
		t.Fatalf("MaxFiles: %d files, %+v", len(a.Files), r.Warnings)
	}
}

// Lying dictionary sizes must not turn into huge allocations: the
// dictionary is clamped to the output cap, and the data still decodes.
func TestLyingDictionaries(t *testing.T) {
	tr := makeTree(t, "dict")
	plain := cpioArchive(t, tr, "newc")

	// .lzma: dictionary size field 0xFFFF0000 (the magic 5D 00 00 fixes the low bytes).
	lz := compressWith(t, plain, "xz", "--format=lzma", "-c")
	binary.LittleEndian.PutUint32(lz[1:5], 0xFFFF0000)

	// .xz: LZMA2 dictionary code 40 (4 GiB - 1) in the block header, CRC fixed up.
	xz := compressWith(t, plain, "xz", "--check=crc32", "-c")
	if xz[12] != 0x02 || xz[14] != 0x21 {
		t.Fatalf("unexpected xz block header % x", xz[12:24])
	}
	xz[16] = 40
	binary.LittleEndian.PutUint32(xz[20:], crc32.ChecksumIEEE(xz[12:20]))

	for name, data := range map[string][]byte{"lzma": lz, "xz": xz} {
		var before, after runtimeMem
		before.read()
		r := Identify(bytes.NewReader(data), int64(len(data)), Options{MaxDecompressed: 1 << 20})
		after.read()
		if r.Type != "initramfs" || len(r.Warnings) != 0 {
			t.Fatalf("%s: %+v", name, r)
		}
		checkListing(t, r.Initramfs.Archives[0], tr)
		if d := after.total - before.total; d > 64<<20 {
			t.Errorf("%s with a 4 GiB dictionary header allocated %d bytes", name, d)
		}
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	tr := makeTree(t, "trunc")
	plain := cpioArchive(t, tr, "newc")
	inputs := map[string][]byte{
		"cpio":  plain,
		"gzip":  compressWith(t, plain, "gzip", "-c"),
		"xz":    compressWith(t, plain, "xz", "-c"),
		"zstd":  compressWith(t, plain, "zstd", "-q", "-c"),
		"lz4":   compressWith(t, plain, "lz4", "-l", "-q", "-c"),
		"bzip2": compressWith(t, plain, "bzip2", "-c"),
		"lzma":  compressWith(t, plain, "xz", "--format=lzma", "-c"),
	}
	for name, data := range inputs {
		// Every prefix length up to 600 bytes, then a few larger cuts.
		cuts := []int{}
		for i := 0; i < min(600, len(data)); i++ {
			cuts = append(cuts, i)
		}
		cuts = append(cuts, len(data)/2, len(data)-1)
		for _, n := range cuts {
			r := Identify(bytes.NewReader(data[:n]), int64(n), Options{MaxDecompressed: 4 << 20})
			if r == nil || r.Type == "" || r.Summary == "" {
				t.Fatalf("%s cut at %d: %+v", name, n, r)
			}
			if r.Type == "initramfs" && n < len(data)-16 && len(r.Warnings) == 0 {
				t.Errorf("%s cut at %d: no warning: %+v", name, n, r)
			}
		}
	}
}

// A ReaderAt that claims more than it has (a short capture) is not trusted.
func TestShortReader(t *testing.T) {
	data := []byte("console=ttyS0\x00")
	r := Identify(bytes.NewReader(data), 1<<40, Options{})
	if r.Type != "cmdline" || !hasWarning(r, "only 14 could be read") {
		t.Fatalf("%+v", r)
	}
}
