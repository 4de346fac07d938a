package format

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// chunkSrc is the input side of a reader: it finds chunks in the byte
// stream, reads them, checks their CRCs, decompresses their bodies and
// checks the body hashes. It knows nothing of sequence, chain or damage
// accounting, which the reader does, in order, with what chunkSrc reports;
// so chunkSrc can run ahead on another goroutine (ReaderOptions.Prefetch).
type chunkSrc struct {
	opt  ReaderOptions
	br   *bufio.Reader
	off  int64 // offset of the next unread byte
	dec  *zstd.Decoder
	comp []byte
	// body returns a buffer of capacity >= n for a decompressed body.
	body func(n int) []byte

	afterDamage bool // the last chunk's header was unusable: scan before the next
	// quit, with Prefetch, ends a scan over damaged bytes early (Close).
	quit <-chan struct{}
}

// chunkItem is what chunkSrc found next.
type chunkItem struct {
	h        chunkHeader
	body     []byte // nil for a piece with SkipBlobData
	off      int64  // chunk start
	frameOff int64  // its zstd frame
	end      int64  // stream offset after the item
	fe       *FormatError
	// nrec, recErr: an EVENTS body's framing, checked where the body was
	// just made (cache-hot) rather than on the reader's core.
	nrec     uint32
	recErr   error
	resync   bool // fe concerns the header itself: a scan for the next chunk follows
	resynced bool // a scan over damaged bytes preceded this item
	eof      bool // the end of the stream was reached by a scan (no chunk found)
}

// final reports whether nothing comes after the item.
func (it *chunkItem) final() bool {
	return it.eof || it.fe == errEOF || it.fe != nil && it.fe.Err == ErrTruncated
}

func newChunkSrc(in io.Reader, o ReaderOptions) (*chunkSrc, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(o.MaxChunk)), zstd.WithDecoderMaxWindow(uint64(max(o.MaxChunk, 1<<20))))
	if err != nil {
		return nil, err
	}
	s := &chunkSrc{opt: o, br: bufio.NewReaderSize(in, 64<<10), dec: dec}
	var buf []byte
	s.body = func(n int) []byte {
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		return buf[:0]
	}
	return s, nil
}

// next returns the next item: a verified chunk, a damaged one, or the end.
func (s *chunkSrc) next() chunkItem {
	var it chunkItem
	if s.afterDamage {
		s.afterDamage = false
		it.resynced = true
		if !s.resync() {
			it.eof, it.off, it.end = true, s.off, s.off
			return it
		}
	}
	it.h, it.body, it.off, it.frameOff, it.fe, it.resync = s.readOne()
	if it.fe == nil && it.h.Type == ChunkEvents {
		it.nrec, it.recErr = countRecords(it.body)
	}
	if it.fe != nil && it.resync && !it.final() {
		// The header itself is bad (and still unread): look for the next
		// one from the byte after its start.
		s.discard(1)
		s.afterDamage = true
	}
	it.end = s.off
	return it
}

func (s *chunkSrc) discard(n int) {
	k, _ := s.br.Discard(n)
	s.off += int64(k)
}

// resync skips to the next place that starts like a chunk header. It
// returns false at the end of the input.
func (s *chunkSrc) resync() bool {
	want := frameHdrLen + len(ChunkMagic)
	for {
		select {
		case <-s.quit: // nil without Prefetch: never ready
			return false
		default:
		}
		b, _ := s.br.Peek(want)
		if len(b) < want {
			s.discard(len(b))
			return false
		}
		if bytes.Equal(b[:4], skippableMagicBytes) && string(b[frameHdrLen:]) == ChunkMagic {
			return true
		}
		buf, _ := s.br.Peek(s.br.Buffered())
		if i := bytes.Index(buf[1:], skippableMagicBytes); i >= 0 {
			s.discard(i + 1)
		} else {
			s.discard(len(buf) - 3) // keep a magic split across buffer refills
		}
	}
}

// moreData reports whether any byte follows.
func (s *chunkSrc) moreData() bool {
	b, _ := s.br.Peek(1)
	return len(b) > 0
}

var errEOF = &FormatError{Msg: "eof"}

// readOne reads one chunk at the current offset. resync is true when its
// header is unusable (nothing of it has been consumed).
func (s *chunkSrc) readOne() (h chunkHeader, body []byte, off, frameOff int64, fe *FormatError, resync bool) {
	off = s.off
	fh, err := s.br.Peek(frameHdrLen)
	if len(fh) == 0 && err != nil {
		if err == io.EOF {
			return h, nil, off, 0, errEOF, false
		}
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrTruncated, Msg: err.Error()}, false
	}
	if len(fh) < frameHdrLen {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrTruncated, Msg: "file ends inside a chunk header"}, false
	}
	if !bytes.Equal(fh[:4], skippableMagicBytes) {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrHeader, Msg: "no chunk frame magic"}, true
	}
	size := binary.LittleEndian.Uint32(fh[4:])
	if size < headerLenV1 || size > maxHeaderLen {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("chunk header frame of %d bytes", size)}, true
	}
	p, err := s.br.Peek(frameHdrLen + int(size))
	if len(p) < frameHdrLen+int(size) {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return h, nil, off, 0, &FormatError{Off: off, Err: ErrTruncated, Msg: "file ends inside a chunk header"}, false
		}
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrTruncated, Msg: fmt.Sprint(err)}, false
	}
	h, prob := parseChunkHeader(p[frameHdrLen:])
	if prob != nil {
		return h, nil, off, 0, &FormatError{Off: off, Err: prob.err, Msg: prob.msg}, true
	}
	if h.Flags&flagsIncompatMask&^knownIncompat != 0 {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrVersion, Msg: fmt.Sprintf("unknown incompatible chunk flags %#x", h.Flags)}, true
	}
	max := uint64(s.opt.MaxChunk)
	if h.CompSize > max || h.RawSize > max {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrTooLarge,
			Msg: fmt.Sprintf("chunk %d declares %d compressed / %d uncompressed bytes, limit %d", h.Seq, h.CompSize, h.RawSize, max)}, true
	}
	if h.CompSize < 9 {
		return h, nil, off, 0, &FormatError{Off: off, Err: ErrHeader, Msg: "compressed body too small for a zstd frame"}, true
	}
	s.discard(frameHdrLen + int(size))
	frameOff = s.off
	if cap(s.comp) < int(h.CompSize) {
		s.comp = make([]byte, h.CompSize)
	}
	comp := s.comp[:h.CompSize]
	n, err := io.ReadFull(s.br, comp)
	s.off += int64(n)
	if err != nil {
		return h, nil, off, frameOff, &FormatError{Off: off, Err: ErrTruncated,
			Msg: fmt.Sprintf("file ends inside chunk %d (%d of %d body bytes)", h.Seq, n, h.CompSize)}, false
	}
	if crc32c(comp) != h.FrameCRC {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd frame CRC32C mismatch", h.Seq)}, false
	}
	if binary.LittleEndian.Uint32(comp) != zstdMagic {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d body is not a zstd frame", h.Seq)}, false
	}
	if comp[4]&0x04 == 0 {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd frame has no content checksum", h.Seq)}, false
	}
	if h.Type == ChunkPiece && s.opt.SkipBlobData {
		return h, nil, off, frameOff, nil, false
	}
	body, err = s.dec.DecodeAll(comp, s.body(int(h.RawSize)))
	if err != nil {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd: %v", h.Seq, err)}, false
	}
	if uint64(len(body)) != h.RawSize {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum,
			Msg: fmt.Sprintf("chunk %d body is %d bytes, header says %d", h.Seq, len(body), h.RawSize)}, false
	}
	if sha256.Sum256(body) != h.BodySHA256 {
		return h, nil, off, frameOff, &FormatError{Off: frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d body SHA-256 mismatch", h.Seq)}, false
	}
	return h, body, off, frameOff, nil, false
}

// prefetch runs the source on its own goroutine, up to depth items ahead
// of the reader. Bodies come from a pool the reader refills (recycle) once
// it is done with a chunk, so at most depth+2 bodies exist at a time.
type prefetch struct {
	items chan chunkItem
	free  chan []byte
	quit  chan struct{}
	done  chan struct{}
}

const prefetchDepth = 4

func (s *chunkSrc) startPrefetch() *prefetch {
	p := &prefetch{
		items: make(chan chunkItem, prefetchDepth),
		free:  make(chan []byte, prefetchDepth+2),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.quit = p.quit
	s.body = func(n int) []byte {
		select {
		case b := <-p.free:
			if cap(b) >= n {
				return b[:0]
			}
		default:
		}
		return make([]byte, 0, n)
	}
	go func() {
		defer close(p.done)
		defer close(p.items)
		for {
			select {
			case <-p.quit:
				return
			default:
			}
			it := s.next()
			select {
			case p.items <- it:
			case <-p.quit:
				return
			}
			if it.final() {
				return
			}
		}
	}()
	return p
}

// recycle hands a body the reader no longer uses back to the source.
func (p *prefetch) recycle(b []byte) {
	if b == nil {
		return
	}
	select {
	case p.free <- b[:0]:
	default:
	}
}

// stop ends the goroutine and waits for it: it checks between chunks and
// while scanning damaged bytes, so at most the chunk it is reading is
// finished first. (At the end of the input it ends by itself.)
func (p *prefetch) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.done
}
