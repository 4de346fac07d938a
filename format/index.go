package format

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
)

// pieceLoc is where one piece's zstd frame lies in the file.
type pieceLoc struct {
	off      int64
	compSize uint64
	rawSize  uint64
	flags    uint32 // its chunk's flags: which hash its id is (bodyHash)
}

type index struct {
	ra     io.ReaderAt
	opt    ReaderOptions
	pieces map[[32]byte]pieceLoc
	blobs  map[[32]byte]BlobInfo
	sums   map[[32]byte][32]byte // blob id -> SHA-256 of its bytes, as computed
	st     Status
	live   *reader // Reader.Index: status comes from the reader as it goes
}

func openIndex(ra io.ReaderAt, size int64, o ReaderOptions) (*Index, error) {
	// One streaming pass without decompressing pieces: they are checked when
	// a blob is read.
	so := o
	so.SkipBlobData = true
	so.IndexPieces = true
	so.Prefetch = false // this pass keeps no reader to Close
	ix := &index{ra: ra, opt: o}
	if ix.opt.MaxChunk <= 0 {
		ix.opt.MaxChunk = defaultMaxChunk
	}
	r, err := newReaderInternal(io.NewSectionReader(ra, 0, size), so)
	if err != nil {
		return nil, err
	}
	for {
		_, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	ix.pieces = r.locs
	ix.blobs = r.blobs
	ix.st = r.status()
	return &Index{ix}, nil
}

// Status is what the indexing pass found (piece bodies not yet checked).
func (ix *Index) Status() Status {
	if ix.ix.live != nil {
		return ix.ix.live.status()
	}
	return ix.ix.st
}

// Blobs lists every blob map in the file.
func (ix *Index) Blobs() map[[32]byte]BlobInfo { return ix.ix.blobs }

func (ix *index) blob(sum [32]byte) (io.ReadCloser, BlobInfo, error) {
	info, ok := ix.blobs[sum]
	if !ok {
		return nil, BlobInfo{}, fmt.Errorf("format: blob %x not in this capture", sum[:])
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(ix.opt.MaxChunk)), zstd.WithDecoderMaxWindow(uint64(max(ix.opt.MaxChunk, 1<<20))))
	if err != nil {
		return nil, info, err
	}
	return &blobReader{ix: ix, info: info, dec: dec, sum: sha256.New()}, info, nil
}

func (ix *index) blobSHA256(id [32]byte) ([32]byte, error) {
	if info, ok := ix.blobs[id]; ok && !info.Ref.ListID {
		return id, nil // a 1.0 blob is named by its SHA-256
	}
	if sum, ok := ix.sums[id]; ok {
		return sum, nil
	}
	rc, _, err := ix.blob(id)
	if err != nil {
		return [32]byte{}, err
	}
	defer rc.Close()
	br := rc.(*blobReader)
	if _, err := io.Copy(io.Discard, br); err != nil {
		return [32]byte{}, err
	}
	if ix.sums == nil {
		ix.sums = map[[32]byte][32]byte{}
	}
	ix.sums[id] = br.sha
	return br.sha, nil
}

// blobReader serves a blob piece by piece, checking each piece against its
// id and, at the end, the blob's size and (1.0) SHA-256; it computes the
// SHA-256 of the bytes it served (sha, once the whole blob was read).
type blobReader struct {
	ix   *index
	info BlobInfo
	dec  *zstd.Decoder
	next int    // next piece
	cur  []byte // rest of the current piece
	comp []byte
	body []byte
	sum  hash.Hash
	sha  [32]byte
	n    uint64
	err  error
}

func (b *blobReader) Read(p []byte) (int, error) {
	for len(b.cur) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.next == len(b.info.Pieces) {
			b.err = io.EOF
			b.sha = [32]byte(b.sum.Sum(nil))
			if b.n != b.info.Ref.Size {
				b.err = fmt.Errorf("format: blob %x: pieces hold %d bytes, map says %d: %w", b.info.Ref.ID[:8], b.n, b.info.Ref.Size, ErrChecksum)
			} else if !b.info.Ref.ListID && b.sha != b.info.Ref.ID {
				b.err = fmt.Errorf("format: blob %x: SHA-256 of its pieces differs: %w", b.info.Ref.ID[:8], ErrChecksum)
			}
			return 0, b.err
		}
		if err := b.load(); err != nil {
			b.err = err
			return 0, err
		}
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	return n, nil
}

func (b *blobReader) load() error {
	id := b.info.Pieces[b.next]
	at := b.n // every earlier piece has been read
	loc, ok := b.ix.pieces[id]
	if !ok {
		return fmt.Errorf("format: blob %x: piece %d (blob offset %d) is missing from the capture: %w", b.info.Ref.ID[:8], b.next, at, ErrTruncated)
	}
	if cap(b.comp) < int(loc.compSize) {
		b.comp = make([]byte, loc.compSize)
	}
	comp := b.comp[:loc.compSize]
	if _, err := b.ix.ra.ReadAt(comp, loc.off); err != nil {
		return &FormatError{Off: loc.off, Err: ErrTruncated, Msg: err.Error()}
	}
	body, err := b.dec.DecodeAll(comp, b.body[:0])
	if err != nil {
		return &FormatError{Off: loc.off, Err: ErrChecksum, Msg: fmt.Sprintf("blob piece: %v", err)}
	}
	b.body = body
	if b.n+uint64(len(body)) > b.info.Ref.Size {
		// A crafted map can list one highly compressible piece many times:
		// stop at the size the map declares instead of decompressing on.
		return &FormatError{Off: loc.off, Err: ErrChecksum, Msg: fmt.Sprintf("blob %x: pieces exceed the %d bytes its map declares", b.info.Ref.ID[:8], b.info.Ref.Size)}
	}
	if uint64(len(body)) != loc.rawSize || bodyHash(loc.flags, body) != id {
		return &FormatError{Off: loc.off, Err: ErrChecksum, Msg: fmt.Sprintf("blob piece %d %s mismatch", b.next, bodyHashName(loc.flags))}
	}
	b.sum.Write(body)
	b.n += uint64(len(body))
	b.cur = body
	b.next++
	return nil
}

func (b *blobReader) Close() error {
	if b.dec != nil {
		b.dec.Close()
		b.dec = nil
	}
	if b.err == nil {
		b.err = errors.New("format: blob reader closed")
	}
	return nil
}
