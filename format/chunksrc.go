package format

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// chunkSrc is the input side of a reader: it finds chunks in the byte
// stream, reads them, checks their CRCs, decompresses their bodies and
// checks the body hashes. It knows nothing of sequence, chain or damage
// accounting, which the reader does, in order, with what chunkSrc reports;
// so chunkSrc can run ahead on another goroutine (ReaderOptions.Prefetch).
type chunkSrc struct {
	opt ReaderOptions
	br  *bufio.Reader
	off int64 // offset of the next unread byte
	dec *zstd.Decoder
	// comp and body return buffers of capacity >= n for a compressed frame
	// and a decompressed body; with Prefetch several are in use at once.
	comp func(n int) []byte
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
	// With Prefetch, frames are decompressed by several goroutines at once:
	// the decoder must allow as many concurrent DecodeAll calls.
	conc := 1
	if o.Prefetch {
		conc = prefetchWorkers
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(conc),
		zstd.WithDecoderMaxMemory(uint64(o.MaxChunk)), zstd.WithDecoderMaxWindow(uint64(max(o.MaxChunk, 1<<20))))
	if err != nil {
		return nil, err
	}
	s := &chunkSrc{opt: o, br: bufio.NewReaderSize(in, 64<<10), dec: dec}
	s.comp, s.body = reusedBuffer(), reusedBuffer()
	return s, nil
}

// reusedBuffer returns one buffer, grown as needed, again and again.
func reusedBuffer() func(n int) []byte {
	var buf []byte
	return func(n int) []byte {
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		return buf[:0]
	}
}

// next returns the next item: a verified chunk, a damaged one, or the end.
func (s *chunkSrc) next() chunkItem {
	it, comp := s.frame()
	if comp != nil {
		s.finish(&it, comp)
	}
	return it
}

// frame reads the next chunk's header and compressed frame (the input side,
// in order). comp, when not nil, is a frame whose body is still to be
// checked and decompressed (finish), which may happen on another goroutine.
func (s *chunkSrc) frame() (it chunkItem, comp []byte) {
	if s.afterDamage {
		s.afterDamage = false
		it.resynced = true
		if !s.resync() {
			it.eof, it.off, it.end = true, s.off, s.off
			return it, nil
		}
	}
	it.h, it.off, it.frameOff, comp, it.fe, it.resync = s.readFrame()
	if it.fe != nil && it.resync && !it.final() {
		// The header itself is bad (and still unread): look for the next
		// one from the byte after its start.
		s.discard(1)
		s.afterDamage = true
	}
	it.end = s.off
	return it, comp
}

// finish checks a frame and makes its body (the CPU side): CRC, zstd,
// SHA-256 and, for EVENTS, the record framing.
func (s *chunkSrc) finish(it *chunkItem, comp []byte) {
	h := it.h
	if crc32c(comp) != h.FrameCRC {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd frame CRC32C mismatch", h.Seq)}
		return
	}
	if binary.LittleEndian.Uint32(comp) != zstdMagic {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d body is not a zstd frame", h.Seq)}
		return
	}
	if comp[4]&0x04 == 0 {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd frame has no content checksum", h.Seq)}
		return
	}
	if h.Type == ChunkPiece && s.opt.SkipBlobData {
		return
	}
	body, err := s.dec.DecodeAll(comp, s.body(int(h.RawSize)))
	if err != nil {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d zstd: %v", h.Seq, err)}
		return
	}
	if uint64(len(body)) != h.RawSize {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum,
			Msg: fmt.Sprintf("chunk %d body is %d bytes, header says %d", h.Seq, len(body), h.RawSize)}
		return
	}
	if bodyHash(h.Flags, body) != h.BodySHA256 {
		it.fe = &FormatError{Off: it.frameOff, Err: ErrChecksum, Msg: fmt.Sprintf("chunk %d body %s mismatch", h.Seq, bodyHashName(h.Flags))}
		return
	}
	it.body = body
	if h.Type == ChunkEvents {
		it.nrec, it.recErr = countRecords(body)
	}
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

var errEOF = &FormatError{Msg: "eof"}

// readFrame reads one chunk's header and compressed frame at the current
// offset. resync is true when its header is unusable (nothing of it has
// been consumed).
func (s *chunkSrc) readFrame() (h chunkHeader, off, frameOff int64, comp []byte, fe *FormatError, resync bool) {
	off = s.off
	fh, err := s.br.Peek(frameHdrLen)
	if len(fh) == 0 && err != nil {
		if err == io.EOF {
			return h, off, 0, nil, errEOF, false
		}
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrTruncated, Msg: err.Error()}, false
	}
	if len(fh) < frameHdrLen {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrTruncated, Msg: "file ends inside a chunk header"}, false
	}
	if !bytes.Equal(fh[:4], skippableMagicBytes) {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrHeader, Msg: "no chunk frame magic"}, true
	}
	size := binary.LittleEndian.Uint32(fh[4:])
	if size < headerLenV1 || size > maxHeaderLen {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("chunk header frame of %d bytes", size)}, true
	}
	p, err := s.br.Peek(frameHdrLen + int(size))
	if len(p) < frameHdrLen+int(size) {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return h, off, 0, nil, &FormatError{Off: off, Err: ErrTruncated, Msg: "file ends inside a chunk header"}, false
		}
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrTruncated, Msg: fmt.Sprint(err)}, false
	}
	h, prob := parseChunkHeader(p[frameHdrLen:])
	if prob != nil {
		return h, off, 0, nil, &FormatError{Off: off, Err: prob.err, Msg: prob.msg}, true
	}
	if h.Flags&flagsIncompatMask&^knownIncompat != 0 {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrVersion, Msg: fmt.Sprintf("unknown incompatible chunk flags %#x", h.Flags)}, true
	}
	max := uint64(s.opt.MaxChunk)
	if h.CompSize > max || h.RawSize > max {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrTooLarge,
			Msg: fmt.Sprintf("chunk %d declares %d compressed / %d uncompressed bytes, limit %d", h.Seq, h.CompSize, h.RawSize, max)}, true
	}
	if h.CompSize < 9 {
		return h, off, 0, nil, &FormatError{Off: off, Err: ErrHeader, Msg: "compressed body too small for a zstd frame"}, true
	}
	s.discard(frameHdrLen + int(size))
	frameOff = s.off
	comp = s.comp(int(h.CompSize))[:h.CompSize]
	n, err := io.ReadFull(s.br, comp)
	s.off += int64(n)
	if err != nil {
		return h, off, frameOff, nil, &FormatError{Off: off, Err: ErrTruncated,
			Msg: fmt.Sprintf("file ends inside chunk %d (%d of %d body bytes)", h.Seq, n, h.CompSize)}, false
	}
	return h, off, frameOff, comp, nil, false
}

// prefetch runs the source ahead of the reader: one goroutine reads frames
// in order, and each frame is finished (CRC, zstd, SHA-256, framing) on a
// goroutine of its own, up to prefetchWorkers at once, so that on several
// cores checking a file runs at the speed of more than one core. The reader
// gets the items in file order, each once it is finished. Memory: at most
// prefetchDepth+3 bodies (queued, one being handed over, and the reader's
// current and previous one) and prefetchWorkers+1 compressed frames exist at
// once, each at most MaxChunk: about 11 chunks, 88 MiB at the default 8 MiB
// cap for a hostile file, 11 MiB for kexecrec's own 1 MiB chunks.
type prefetch struct {
	items chan *pending
	free  chan []byte // bodies the reader is done with
	comps chan []byte // frames a worker is done with
	quit  chan struct{}
	done  chan struct{}
}

// pending is an item in the making: ready is closed once it is finished.
type pending struct {
	it    chunkItem
	ready chan struct{}
}

const prefetchDepth = 4

// prefetchWorkers: frames finished at once (a CPU or two beyond the reader
// is what pays; more only holds more memory).
var prefetchWorkers = max(1, min(runtime.GOMAXPROCS(0), 4))

func (s *chunkSrc) startPrefetch() *prefetch {
	p := &prefetch{
		items: make(chan *pending, prefetchDepth),
		free:  make(chan []byte, prefetchDepth+prefetchWorkers+2),
		comps: make(chan []byte, prefetchDepth+prefetchWorkers+2),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.quit = p.quit
	s.body = fromPool(p.free)
	s.comp = fromPool(p.comps)
	workers := make(chan struct{}, prefetchWorkers) // s.dec decodes that many at once
	go func() {
		var running sync.WaitGroup
		defer close(p.done)
		defer running.Wait() // no worker outlives stop
		defer close(p.items)
		for {
			select {
			case <-p.quit:
				return
			default:
			}
			it, comp := s.frame()
			pe := &pending{it: it, ready: make(chan struct{})}
			if comp == nil {
				close(pe.ready)
			} else {
				select {
				case workers <- struct{}{}:
				case <-p.quit:
					return
				}
				running.Add(1)
				go func() {
					defer running.Done()
					s.finish(&pe.it, comp)
					select {
					case p.comps <- comp[:0]:
					default:
					}
					<-workers
					close(pe.ready)
				}()
			}
			select {
			case p.items <- pe:
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

// fromPool returns buffers from pool, or new ones when it has none that fit.
func fromPool(pool chan []byte) func(n int) []byte {
	return func(n int) []byte {
		select {
		case b := <-pool:
			if cap(b) >= n {
				return b[:0]
			}
		default:
		}
		return make([]byte, 0, n)
	}
}

// next returns the next item in file order, once it is finished; ok is
// false when the source has ended (after its final item, or stopped).
func (p *prefetch) next() (chunkItem, bool) {
	pe, ok := <-p.items
	if !ok {
		return chunkItem{}, false
	}
	<-pe.ready
	return pe.it, true
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

// stop ends the goroutines and waits for them: the reading one checks
// between chunks and while scanning damaged bytes, so at most the frame it
// is reading and the ones being finished are completed first. (At the end
// of the input they end by themselves.)
func (p *prefetch) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.done
}
