package format

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
)

const (
	defaultSealBytes    = 1 << 20
	defaultSealInterval = time.Second
	defaultPieceSize    = 1 << 20
	maxPieceSize        = 4 << 20
)

// ErrClosed is returned by a Writer or Reader used after Close.
var ErrClosed = errors.New("capture closed")

type writer struct {
	out  io.Writer
	file *os.File // out as a regular file: fsync and rolling back a torn chunk
	base int64    // file offset where the capture started (for rollback)

	canRollback bool
	opt         WriterOptions
	enc         *zstd.Encoder
	header      Header
	err         error
	written     int64
	closed      bool

	seq   uint64 // next chunk's sequence number
	chain [32]byte

	pending        []byte // EVENTS body being built
	pendingRecords uint32
	firstNS        int64
	lastNS         int64
	pendingSince   time.Time

	pieces map[[32]byte]struct{} // piece ids stored in this file
	blobs  map[[32]byte]struct{} // blob maps stored in this file

	counts TrailerCounts // records, blobs, pieces, chunks written

	frame  []byte // scratch for the compressed body
	sample []byte // scratch for compressibility samples (storedFrame)
}

func newWriter(out io.Writer, h Header, o WriterOptions) (*Writer, error) {
	if o.SealBytes <= 0 {
		o.SealBytes = defaultSealBytes
	}
	if o.SealInterval <= 0 {
		o.SealInterval = defaultSealInterval
	}
	if o.PieceSize <= 0 {
		o.PieceSize = defaultPieceSize
	}
	if o.PieceSize > maxPieceSize {
		return nil, fmt.Errorf("format: piece size %d above the %d maximum", o.PieceSize, maxPieceSize)
	}
	if o.SignKey != nil && len(o.SignKey) != ed25519.PrivateKeySize {
		return nil, errors.New("format: signing key is not an Ed25519 private key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PieceHash != PieceBLAKE3 && o.PieceHash != PieceSHA256 {
		return nil, fmt.Errorf("format: unknown piece hash %d", o.PieceHash)
	}
	level := zstd.SpeedFastest
	switch o.Level {
	case 2:
		level = zstd.SpeedDefault
	case 3:
		level = zstd.SpeedBetterCompression
	case 4:
		level = zstd.SpeedBestCompression
	}
	// One goroutine: chunks are small and the recorder is not the place to
	// burn every core. ZeroFrames: an empty body is still one whole frame.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	if h.FileID == ([16]byte{}) {
		if _, err := rand.Read(h.FileID[:]); err != nil {
			return nil, err
		}
	}
	w := &writer{out: out, opt: o, enc: enc, header: h,
		pieces: map[[32]byte]struct{}{}, blobs: map[[32]byte]struct{}{}}
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			w.file = f
			// Rolling back is only safe when we know where our bytes go:
			// at the current offset, which is the end of the file (an
			// O_APPEND file opened at offset 0 would fail this test).
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && off == st.Size() {
				w.base, w.canRollback = off, true
			}
		}
	}
	if err := w.writeChunk(ChunkHeader, marshalHeader(h, o.PieceSize), 0, 0, 0); err != nil {
		return nil, err
	}
	return &Writer{w}, nil
}

// writeChunk compresses body and appends the whole chunk in one Write, so a
// crash leaves either the whole chunk or a torn tail, never a chunk that
// looks whole and is not.
func (w *writer) writeChunk(typ uint16, body []byte, records uint32, firstNS, lastNS int64) error {
	return w.writeChunkSum(typ, 0, body, sha256.Sum256(body), records, firstNS, lastNS)
}

// minor is the format minor version the writer's chunks declare.
func (w *writer) minor() uint16 {
	if w.opt.PieceHash == PieceSHA256 {
		return 0
	}
	return FormatMinor
}

// writeChunkSum is writeChunk for a body whose hash the caller already has
// (a blob piece: its id is its body hash; flags say which hash), so payload
// bytes are not hashed twice on the recorder's hot path.
func (w *writer) writeChunkSum(typ uint16, flags uint32, body []byte, bodySum [32]byte, records uint32, firstNS, lastNS int64) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	h := chunkHeader{Minor: w.minor(), Type: typ, Flags: flags, Seq: w.seq, RawSize: uint64(len(body)), Records: records,
		FirstNS: firstNS, LastNS: lastNS, BodySHA256: bodySum}
	h.Chain = nextChain(w.chain, h.Seq, typ, h.BodySHA256)
	// The zstd frame is made right behind room for the header, so that the
	// chunk goes out in one Write without copying the frame again. A piece
	// that zstd would not shrink (a compressed kernel or initramfs) is
	// stored in raw blocks without trying.
	const hl = frameHdrLen + headerLenV1
	w.frame = append(w.frame[:0], make([]byte, hl)...)
	if typ == ChunkPiece && w.incompressible(body) {
		w.frame = appendStoredFrame(w.frame, body)
	} else {
		w.frame = w.enc.EncodeAll(body, w.frame)
	}
	frame := w.frame[hl:]
	h.CompSize = uint64(len(frame))
	h.FrameCRC = crc32c(frame)
	copy(w.frame, h.marshal())
	buf := w.frame
	n, err := w.out.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.rollback(int64(n))
		w.err = fmt.Errorf("format: writing %s chunk %d at offset %d: %w", ChunkTypeName(typ), h.Seq, w.written, err)
		return w.err
	}
	w.written += int64(n)
	w.seq++
	w.chain = h.Chain
	w.counts.Chunks++
	if w.opt.Sync == SyncOnSeal && w.file != nil {
		if err := w.file.Sync(); err != nil {
			w.err = fmt.Errorf("format: fsync after chunk %d: %w", h.Seq, err)
			return w.err
		}
	}
	return nil
}

// rollback removes the torn part of a failed chunk from a regular file so the
// file ends at its last sealed chunk. Best effort: readers tolerate a torn tail.
func (w *writer) rollback(n int64) {
	if !w.canRollback || n <= 0 {
		return
	}
	end := w.base + w.written
	if w.file.Truncate(end) == nil {
		w.file.Seek(end, io.SeekStart)
	}
}

func (w *writer) writeRecord(r Record) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if recordHeaderLen+len(r.Data) > defaultMaxChunk {
		return fmt.Errorf("format: record of %d bytes over the %d-byte chunk limit", len(r.Data), defaultMaxChunk)
	}
	now := w.opt.Now()
	// A record that would push the chunk over the readers' default cap goes
	// into the next chunk.
	if w.pendingRecords > 0 && len(w.pending)+recordHeaderLen+len(r.Data) > defaultMaxChunk {
		if err := w.seal(); err != nil {
			return err
		}
	}
	if w.pendingRecords == 0 {
		w.pendingSince = now
		w.firstNS = now.UnixNano()
	}
	w.lastNS = now.UnixNano()
	w.pending = appendRecord(w.pending, r)
	w.pendingRecords++
	w.counts.Records++
	if len(w.pending) >= w.opt.SealBytes || now.Sub(w.pendingSince) >= w.opt.SealInterval {
		return w.seal()
	}
	return nil
}

func (w *writer) tick() error {
	if w.err != nil {
		return w.err
	}
	if w.pendingRecords > 0 && w.opt.Now().Sub(w.pendingSince) >= w.opt.SealInterval {
		return w.seal()
	}
	return nil
}

func (w *writer) seal() error {
	if w.err != nil {
		return w.err
	}
	if w.pendingRecords == 0 {
		return nil
	}
	err := w.writeChunk(ChunkEvents, w.pending, w.pendingRecords, w.firstNS, w.lastNS)
	if err != nil {
		return err
	}
	w.pending = w.pending[:0]
	w.pendingRecords = 0
	// Do not let one burst keep a large buffer for the rest of the run.
	if cap(w.pending) > 4*w.opt.SealBytes {
		w.pending = nil
	}
	return nil
}

func (w *writer) writeStats(s Stats) error {
	return w.writeChunk(ChunkStats, marshalStats(s), 0, 0, 0)
}

func (w *writer) close() error {
	if w.closed {
		return w.err
	}
	if err := w.seal(); err != nil {
		return err
	}
	t := trailer{Counts: w.counts, Head: w.chain}
	t.Counts.End = w.opt.Now()
	if w.opt.SignKey != nil {
		t.Signed = true
		copy(t.PublicKey[:], w.opt.SignKey.Public().(ed25519.PublicKey))
		copy(t.Signature[:], ed25519.Sign(w.opt.SignKey, signatureMessage(w.header.FileID, w.chain)))
	}
	if err := w.writeChunk(ChunkTrailer, t.marshal(), 0, 0, 0); err != nil {
		return err
	}
	w.closed = true
	if w.opt.Sync != SyncNever && w.file != nil {
		if err := w.file.Sync(); err != nil {
			w.err = fmt.Errorf("format: fsync at close: %w", err)
			return w.err
		}
	}
	return nil
}

type blobWriter struct {
	w      *writer
	buf    []byte
	pieces [][32]byte
	sum    hash.Hash // format 1.0: the blob's SHA-256 as it is written; nil in 1.1
	size   uint64
	done   bool
	ref    BlobRef
}

func (w *writer) newBlob() *BlobWriter {
	b := &blobWriter{w: w}
	if w.opt.PieceHash == PieceSHA256 {
		b.sum = sha256.New()
	}
	return &BlobWriter{b}
}

func (b *blobWriter) write(p []byte) (int, error) {
	if b.w.err != nil {
		return 0, b.w.err
	}
	if b.done {
		return 0, ErrClosed
	}
	ps := b.w.opt.PieceSize
	n := 0
	for len(p) > 0 {
		if b.buf == nil {
			b.buf = make([]byte, 0, ps)
		}
		k := min(ps-len(b.buf), len(p))
		b.buf = append(b.buf, p[:k]...)
		b.size += uint64(k)
		p = p[k:]
		n += k
		if len(b.buf) == ps {
			if err := b.flushPiece(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flushPiece stores the buffered piece unless the file already has it.
// Format 1.1 hashes each byte once, with BLAKE3 (the piece id); 1.0 makes
// two SHA-256 passes, the piece id and the running blob hash, on two cores
// at once.
func (b *blobWriter) flushPiece() error {
	var id [32]byte
	var flags uint32
	if b.sum == nil {
		id, flags = blake3.Sum256(b.buf), FlagBodyBLAKE3
	} else {
		done := make(chan struct{})
		go func() {
			b.sum.Write(b.buf)
			close(done)
		}()
		id = sha256.Sum256(b.buf)
		<-done
	}
	if _, ok := b.w.pieces[id]; !ok {
		if err := b.w.writeChunkSum(ChunkPiece, flags, b.buf, id, 0, 0, 0); err != nil {
			return err
		}
		b.w.pieces[id] = struct{}{}
		b.w.counts.Pieces++
	}
	b.pieces = append(b.pieces, id)
	b.buf = b.buf[:0]
	return nil
}

func (b *blobWriter) close() (BlobRef, error) {
	if b.done {
		return b.ref, b.w.err
	}
	if b.w.err != nil {
		return BlobRef{}, b.w.err
	}
	if len(b.buf) > 0 {
		if err := b.flushPiece(); err != nil {
			return BlobRef{}, err
		}
	}
	b.buf = nil
	b.done = true
	b.ref.Size = b.size
	var flags uint32
	if b.sum != nil {
		copy(b.ref.ID[:], b.sum.Sum(nil))
	} else {
		b.ref.ID = blobListID(b.size, uint32(b.w.opt.PieceSize), b.pieces)
		b.ref.ListID, flags = true, FlagBlobListID
	}
	if _, ok := b.w.blobs[b.ref.ID]; !ok {
		body := marshalBlobMap(BlobInfo{Ref: b.ref, Pieces: b.pieces}, b.w.opt.PieceSize)
		if len(body) > defaultMaxChunk {
			return BlobRef{}, fmt.Errorf("format: blob of %d bytes has too many pieces for one map", b.size)
		}
		if err := b.w.writeChunkSum(ChunkBlobMap, flags, body, sha256.Sum256(body), 0, 0, 0); err != nil {
			return BlobRef{}, err
		}
		b.w.blobs[b.ref.ID] = struct{}{}
		b.w.counts.Blobs++
	}
	return b.ref, nil
}
