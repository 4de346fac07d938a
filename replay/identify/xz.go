package identify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/kexecrec/kexecrec/replay/identify/internal/lzma2"
)

// xzReader decodes one .xz stream. It exists because the kernel's own xz
// images use the x86 BCJ filter in front of LZMA2 (scripts/xz_wrap.sh), which
// ulikunitz/xz's container reader rejects; the LZMA2 decoding itself is
// internal/lzma2 (the fastest pure-Go decoder measured: see xz_bench_test.go). Blocks are checked against their CRC32/CRC64/SHA-256.
// The reader consumes input only through io.ByteReader and stops right after
// the stream footer, so the caller knows where the stream ended.
type xzReader struct {
	in        *countingReader
	dictLimit int64
	// newLZMA2 starts a block's LZMA2 decoder; nil is internal/lzma2 (the
	// decoder benchmark puts the other candidates here).
	newLZMA2 func(r io.Reader, dictCap int) (io.Reader, error)

	started    bool
	check      byte
	block      io.Reader
	blockStart int64
	sum        hash.Hash
	err        error
}

var crc64Table = crc64.MakeTable(crc64.ECMA)

func newXZReader(in *countingReader, dictLimit int64) *xzReader {
	return &xzReader{in: in, dictLimit: dictLimit}
}

func (x *xzReader) Read(p []byte) (int, error) {
	for x.err == nil {
		if !x.started {
			x.started = true
			x.err = x.readStreamHeader()
			continue
		}
		if x.block == nil {
			x.err = x.nextBlock()
			continue
		}
		n, err := x.block.Read(p)
		if x.sum != nil && n > 0 {
			x.sum.Write(p[:n])
		}
		if err == io.EOF {
			x.block = nil
			if ferr := x.finishBlock(); ferr != nil {
				x.err = ferr
			}
		} else if err != nil {
			x.err = err
		}
		if n > 0 || err == nil {
			// (0, nil) is passed on: the caller's bounded reader owns the
			// clock, so a decoder that stalls cannot spin here.
			return n, nil
		}
	}
	return 0, x.err
}

func (x *xzReader) readStreamHeader() error {
	var h [12]byte
	if _, err := io.ReadFull(x.in, h[:]); err != nil {
		return fmt.Errorf("xz stream header: %w", noEOF(err))
	}
	if !bytes.Equal(h[:6], []byte{0xFD, '7', 'z', 'X', 'Z', 0}) {
		return errors.New("xz: bad magic")
	}
	if h[6] != 0 || h[7]&0xF0 != 0 {
		return errors.New("xz: unsupported stream flags")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:12]) {
		return errors.New("xz: stream header CRC mismatch")
	}
	x.check = h[7]
	return nil
}

// checkSize is the size of each block's check field, by check ID (xz spec 2.1.1.2).
func checkSize(id byte) int {
	switch {
	case id == 0:
		return 0
	case id <= 3:
		return 4
	case id <= 6:
		return 8
	case id <= 9:
		return 16
	case id <= 12:
		return 32
	}
	return 64
}

func (x *xzReader) nextBlock() error {
	first, err := x.in.ReadByte()
	if err != nil {
		return fmt.Errorf("xz block header: %w", noEOF(err))
	}
	if first == 0 {
		return x.skipIndexAndFooter()
	}
	size := (int(first) + 1) * 4
	h := make([]byte, size)
	h[0] = first
	if _, err := io.ReadFull(x.in, h[1:]); err != nil {
		return fmt.Errorf("xz block header: %w", noEOF(err))
	}
	if crc32.ChecksumIEEE(h[:size-4]) != binary.LittleEndian.Uint32(h[size-4:]) {
		return errors.New("xz: block header CRC mismatch")
	}
	flags := h[1]
	if flags&0x3C != 0 {
		return errors.New("xz: reserved block flags set")
	}
	r := bytes.NewReader(h[2 : size-4])
	if flags&0x40 != 0 {
		if _, err := readVarint(r); err != nil {
			return err
		}
	}
	if flags&0x80 != 0 {
		if _, err := readVarint(r); err != nil {
			return err
		}
	}
	nfilters := int(flags&3) + 1
	var bcj, haveBCJ bool
	var bcjStart uint32
	var dict int64 = -1
	for i := 0; i < nfilters; i++ {
		id, err := readVarint(r)
		if err != nil {
			return err
		}
		psize, err := readVarint(r)
		if err != nil {
			return err
		}
		if psize > uint64(r.Len()) {
			return errors.New("xz: filter properties overrun the block header")
		}
		props := make([]byte, psize)
		r.Read(props)
		last := i == nfilters-1
		switch {
		case id == 0x04 && !last && !haveBCJ:
			bcj, haveBCJ = true, true
			switch len(props) {
			case 0:
			case 4:
				bcjStart = binary.LittleEndian.Uint32(props)
			default:
				return errors.New("xz: bad x86 BCJ properties")
			}
		case id == 0x21 && last:
			if len(props) != 1 || props[0] > 40 {
				return errors.New("xz: bad LZMA2 properties")
			}
			dict = lzma2DictSize(props[0])
		default:
			return fmt.Errorf("xz: unsupported filter chain (filter 0x%x)", id)
		}
	}
	if dict < 0 {
		return errors.New("xz: no LZMA2 filter")
	}
	if limit := clampDict(x.dictLimit); dict > limit {
		dict = limit
	}
	x.blockStart = x.in.n
	var lr io.Reader
	if x.newLZMA2 == nil {
		lr = lzma2.NewReader(x.in, int(dict))
	} else if lr, err = x.newLZMA2(x.in, int(dict)); err != nil {
		return err
	}
	x.block = lr
	if bcj {
		x.block = newBCJX86(lr, bcjStart)
	}
	switch x.check {
	case 1:
		x.sum = crc32.NewIEEE()
	case 4:
		x.sum = crc64.New(crc64Table)
	case 10:
		x.sum = sha256.New()
	default:
		x.sum = nil
	}
	return nil
}

func lzma2DictSize(code byte) int64 {
	if code == 40 {
		return 0xFFFFFFFF
	}
	return int64(2|(code&1)) << (code/2 + 11)
}

// finishBlock skips the block padding and compares the stored check.
func (x *xzReader) finishBlock() error {
	compressed := x.in.n - x.blockStart
	for pad := (4 - compressed%4) % 4; pad > 0; pad-- {
		b, err := x.in.ReadByte()
		if err != nil {
			return fmt.Errorf("xz block padding: %w", noEOF(err))
		}
		if b != 0 {
			return errors.New("xz: non-zero block padding")
		}
	}
	stored := make([]byte, checkSize(x.check))
	if _, err := io.ReadFull(x.in, stored); err != nil {
		return fmt.Errorf("xz block check: %w", noEOF(err))
	}
	if x.sum == nil {
		return nil
	}
	var want []byte
	switch x.check {
	case 1:
		want = binary.LittleEndian.AppendUint32(nil, x.sum.(hash.Hash32).Sum32())
	case 4:
		want = binary.LittleEndian.AppendUint64(nil, x.sum.(hash.Hash64).Sum64())
	default:
		want = x.sum.Sum(nil)
	}
	if !bytes.Equal(want, stored) {
		return errors.New("xz: block check mismatch (corrupt data)")
	}
	return nil
}

// skipIndexAndFooter reads past the index (its indicator byte is already
// consumed) and the stream footer, then reports io.EOF.
func (x *xzReader) skipIndexAndFooter() error {
	read := int64(1)
	count, n, err := readVarintFrom(x.in)
	if err != nil {
		return err
	}
	read += int64(n)
	for i := uint64(0); i < count*2; i++ {
		_, n, err := readVarintFrom(x.in)
		if err != nil {
			return err
		}
		read += int64(n)
	}
	var tail [16]byte // index padding is handled below; then CRC32 (4) + footer (12)
	for ; read%4 != 0; read++ {
		if _, err := x.in.ReadByte(); err != nil {
			return fmt.Errorf("xz index: %w", noEOF(err))
		}
	}
	if _, err := io.ReadFull(x.in, tail[:]); err != nil {
		return fmt.Errorf("xz footer: %w", noEOF(err))
	}
	if !bytes.Equal(tail[14:16], []byte("YZ")) {
		return errors.New("xz: bad stream footer")
	}
	return io.EOF
}

func readVarint(r io.ByteReader) (uint64, error) {
	v, _, err := readVarintFrom(r)
	return v, err
}

func readVarintFrom(r io.ByteReader) (uint64, int, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, i, fmt.Errorf("xz: %w", noEOF(err))
		}
		v |= uint64(b&0x7F) << (7 * i)
		if b&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 9, errors.New("xz: bad variable-length integer")
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bcjX86 undoes the x86 branch converter (the BCJ filter of the xz format):
// the encoder turned the relative targets of E8/E9 call/jump instructions
// into absolute ones; decoding turns them back. The state (position and the
// mask of recently seen E8/E9 bytes) carries across buffer refills.
type bcjX86 struct {
	r        io.Reader
	buf      []byte
	out      int // next byte to hand out
	conv     int // bytes [0:conv) are converted
	n        int // bytes [0:n) are filled
	pos      uint32
	prevMask uint32
	eof      bool
	err      error
}

func newBCJX86(r io.Reader, start uint32) *bcjX86 {
	return &bcjX86{r: r, buf: make([]byte, 64<<10), pos: start}
}

func (b *bcjX86) Read(p []byte) (int, error) {
	for b.out >= b.conv {
		if b.eof {
			if b.err != nil {
				return 0, b.err
			}
			return 0, io.EOF
		}
		// Keep the unconverted tail, refill behind it.
		rest := copy(b.buf, b.buf[b.conv:b.n])
		b.pos += uint32(b.conv)
		b.n, b.conv, b.out = rest, 0, 0
		for b.n < len(b.buf) && !b.eof {
			k, err := b.r.Read(b.buf[b.n:])
			b.n += k
			if err != nil {
				b.eof = true
				if err != io.EOF {
					b.err = err
				}
			}
			if k == 0 && err == nil {
				break
			}
		}
		b.conv = b.convert(b.buf[:b.n])
		if b.eof {
			b.conv = b.n // the last < 5 bytes cannot hold an instruction
		}
		if b.conv == 0 && !b.eof {
			return 0, nil // no progress this time; the caller owns the clock
		}
	}
	k := copy(p, b.buf[b.out:b.conv])
	b.out += k
	return k, nil
}

func bcjMSByteOK(v byte) bool { return v == 0x00 || v == 0xFF }

// convert decodes buf in place and returns how many leading bytes are final.
func (b *bcjX86) convert(buf []byte) int {
	maskAllowed := [8]bool{true, true, true, false, true, false, false, false}
	maskBit := [8]uint32{0, 1, 2, 2, 3, 3, 3, 3}
	if len(buf) <= 4 {
		return 0
	}
	size := len(buf) - 4
	prevPos := -1
	prevMask := b.prevMask
	i := 0
	for ; i < size; i++ {
		if buf[i]&0xFE != 0xE8 {
			continue
		}
		d := i - prevPos
		if d > 3 {
			prevMask = 0
		} else {
			prevMask = (prevMask << uint(d-1)) & 7
			if prevMask != 0 {
				v := buf[i+4-int(maskBit[prevMask])]
				if !maskAllowed[prevMask] || bcjMSByteOK(v) {
					prevPos = i
					prevMask = prevMask<<1 | 1
					continue
				}
			}
		}
		prevPos = i
		if bcjMSByteOK(buf[i+4]) {
			src := binary.LittleEndian.Uint32(buf[i+1:])
			var dest uint32
			for {
				dest = src - (b.pos + uint32(i) + 5)
				if prevMask == 0 {
					break
				}
				j := maskBit[prevMask] * 8
				v := byte(dest >> (24 - j))
				if !bcjMSByteOK(v) {
					break
				}
				src = dest ^ (1<<(32-j) - 1)
			}
			dest &= 0x01FFFFFF
			dest |= 0 - (dest & 0x01000000)
			binary.LittleEndian.PutUint32(buf[i+1:], dest)
			i += 4
		} else {
			prevMask = prevMask<<1 | 1
		}
	}
	d := i - prevPos
	if d > 3 {
		b.prevMask = 0
	} else {
		b.prevMask = prevMask << uint(d-1)
	}
	return i
}
