package identify

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// Compression names, as reported in Report.Compression and Archive.Compression.
const (
	compGzip  = "gzip"
	compBzip2 = "bzip2"
	compXZ    = "xz"
	compLZMA  = "lzma"
	compLZO   = "lzo"
	compLZ4   = "lz4"
	compZstd  = "zstd"
)

// detectCompression names the compression whose magic starts b (the magics
// the kernel's decompress_method() and initramfs know), or "".
func detectCompression(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}):
		return compXZ
	case bytes.HasPrefix(b, []byte{0x28, 0xB5, 0x2F, 0xFD}):
		return compZstd
	case bytes.HasPrefix(b, []byte{0x02, 0x21, 0x4C, 0x18}):
		return compLZ4
	case bytes.HasPrefix(b, []byte{0x89, 'L', 'Z', 'O'}):
		return compLZO
	case len(b) >= 4 && bytes.HasPrefix(b, []byte("BZh")) && b[3] >= '1' && b[3] <= '9':
		return compBzip2
	case bytes.HasPrefix(b, []byte{0x1F, 0x8B, 0x08}):
		return compGzip
	case bytes.HasPrefix(b, []byte{0x5D, 0x00, 0x00}):
		return compLZMA
	}
	return ""
}

// magicFirstByte marks the first byte of every magic detectCompression knows.
var magicFirstByte = [256]bool{0xFD: true, 0x28: true, 0x02: true, 0x89: true, 'B': true, 0x1F: true, 0x5D: true}

// decompressor is an open decompression stream; close releases it.
type decompressor struct {
	io.Reader
	close func()
	// exactEnd says the decompressor reads its input through io.ByteReader
	// without read-ahead, so the input's count is where the stream ended.
	exactEnd bool
}

// openDecompressor starts decompressing kind from in. dictLimit caps the
// dictionary the LZMA family allocates: a dictionary larger than the output
// we are willing to produce can never be referenced, so shrinking it to the
// output cap is safe and keeps lying headers from allocating gigabytes.
func openDecompressor(kind string, in *countingReader, dictLimit int64) (*decompressor, error) {
	nop := func() {}
	switch kind {
	case compGzip:
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, err
		}
		// One member at a time, like the kernel: what follows it is looked
		// at again by the caller.
		zr.Multistream(false)
		return &decompressor{Reader: zr, close: nop, exactEnd: true}, nil
	case compBzip2:
		return &decompressor{Reader: bzip2.NewReader(in), close: nop}, nil
	case compXZ:
		return &decompressor{Reader: newXZReader(in, dictLimit), close: nop, exactEnd: true}, nil
	case compLZMA:
		return openLZMA(in, dictLimit)
	case compZstd:
		// The kernel's own zstd images use window log <= 27; a window larger
		// than the output cap is never needed (zstd reduces the window of
		// small inputs itself), and bounds what a lying frame header costs.
		window := uint64(min(max(dictLimit, 1<<20), 1<<27))
		d, err := zstd.NewReader(in,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(window),
			zstd.WithDecoderMaxMemory(uint64(dictLimit)+window))
		if err != nil {
			return nil, err
		}
		return &decompressor{Reader: d, close: d.Close}, nil
	case compLZ4:
		return &decompressor{Reader: lz4.NewReader(in), close: nop}, nil
	case compLZO:
		return nil, fmt.Errorf("lzo (not decompressed: no maintained Go decoder)")
	}
	return nil, fmt.Errorf("unknown compression %q", kind)
}

// openLZMA reads the 13-byte .lzma header, clamps its dictionary size to
// dictLimit, and hands the rest to ulikunitz/xz/lzma.
func openLZMA(in *countingReader, dictLimit int64) (*decompressor, error) {
	var hdr [lzma.HeaderLen]byte
	if _, err := io.ReadFull(in, hdr[:]); err != nil {
		return nil, fmt.Errorf("lzma header: %w", err)
	}
	dict := int64(binary.LittleEndian.Uint32(hdr[1:5]))
	limit := clampDict(dictLimit)
	if dict > limit {
		binary.LittleEndian.PutUint32(hdr[1:5], uint32(limit))
	}
	cfg := lzma.ReaderConfig{DictCap: int(limit)}
	zr, err := cfg.NewReader(io.MultiReader(bytes.NewReader(hdr[:]), in))
	if err != nil {
		return nil, err
	}
	return &decompressor{Reader: zr, close: func() {}}, nil
}

func clampDict(limit int64) int64 {
	const maxDict = 1 << 30
	if limit < lzma.MinDictCap {
		return lzma.MinDictCap
	}
	if limit > maxDict {
		return maxDict
	}
	return limit
}
