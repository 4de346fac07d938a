package format

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrCounts: the trailer's totals disagree with what the file holds.
var ErrCounts = errors.New("trailer totals disagree with the file")

// Bounds on what a reader keeps about blobs, so memory stays bounded even for
// a hostile file made of millions of tiny blob maps.
const (
	maxTrackedPieces = 1 << 20 // piece ids remembered (32 MiB)
	maxTrackedBlobs  = 1 << 16
	maxDamage        = 1000 // problems listed; more are counted in the last entry
)

var skippableMagicBytes = binary.LittleEndian.AppendUint32(nil, SkippableMagic)

const zstdMagic = 0xFD2FB528

type reader struct {
	header Header
	blobs  map[[32]byte]BlobInfo
	stats  Stats

	opt    ReaderOptions
	src    *chunkSrc
	pf     *prefetch  // with Prefetch: src runs on its own goroutine
	off    int64      // stream offset after the last chunk taken from src
	peek   *chunkItem // an item taken from src but not yet used
	last   []byte     // body of the chunk in use (recycled when the next comes)
	closed bool       // Close was called

	nextSeq   uint64   // sequence number expected next
	chain     [32]byte // chain value after the last accepted chunk
	resynced  bool     // the next chunk follows damage: its chain cannot be checked
	known     map[uint16]bool
	pieces    map[[32]byte]struct{}
	nPieceIDs int

	ev    []byte // remaining records of the current EVENTS chunk
	evOff int64  // file offset of the current EVENTS chunk

	st         Status
	counts     TrailerCounts // what the file held, to compare with the trailer
	err        error         // sticky
	eof        bool
	haveHeader bool

	// onPiece, when set, learns where each piece's zstd frame is (Index).
	onPiece func(h chunkHeader, frameOff int64)
	// locs: where each piece lies, with IndexPieces (Reader.Index).
	locs map[[32]byte]pieceLoc
}

func newReader(in io.Reader, o ReaderOptions) (*Reader, error) {
	r, err := newReaderInternal(in, o)
	if err != nil {
		return nil, err
	}
	return &Reader{r}, nil
}

func newReaderInternal(in io.Reader, o ReaderOptions) (_ *reader, err error) {
	if o.MaxChunk <= 0 {
		o.MaxChunk = defaultMaxChunk
	}
	src, err := newChunkSrc(in, o)
	if err != nil {
		return nil, err
	}
	r := &reader{opt: o, src: src, blobs: map[[32]byte]BlobInfo{}, pieces: map[[32]byte]struct{}{}}
	r.st.ChunksByType = map[string]int{}
	r.st.SkippedTypes = map[uint16]int{}
	if o.IndexPieces {
		r.locs = map[[32]byte]pieceLoc{}
		r.onPiece = r.trackPiece
	}
	r.st.ChainOK = true
	if o.RecordTypes != nil {
		r.known = map[uint16]bool{}
		for _, t := range o.RecordTypes {
			r.known[t] = true
		}
	}
	// The first chunk must be the HEADER.
	if b, _ := src.br.Peek(4); len(b) < 4 || !bytes.Equal(b, skippableMagicBytes) {
		if !o.Salvage {
			return nil, &FormatError{Off: 0, Err: ErrNoHeader, Msg: "no kexecrec chunk at the start"}
		}
	}
	if o.Prefetch {
		r.pf = src.startPrefetch()
		defer func() {
			if err != nil { // nobody will Close a reader that was never returned
				r.pf.stop()
			}
		}()
	}
	it, err := r.readChunk()
	if err != nil {
		if err == io.EOF {
			msg := "empty file"
			if r.off > 0 { // salvage scanned the whole file and found no chunk
				msg = fmt.Sprintf("no valid chunk in %d bytes", r.off)
			}
			err = &FormatError{Off: 0, Err: ErrNoHeader, Msg: msg}
		}
		return nil, err
	}
	if it.h.Type != ChunkHeader {
		fe := &FormatError{Off: it.off, Err: ErrNoHeader, Msg: "first chunk is " + ChunkTypeName(it.h.Type) + ", not header"}
		if !o.Salvage {
			return nil, fe
		}
		r.damage(fe)
	}
	if err := r.dispatch(it); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reader) damage(fe *FormatError) {
	switch {
	case len(r.st.Damage) < maxDamage:
		r.st.Damage = append(r.st.Damage, fe)
	case len(r.st.Damage) == maxDamage:
		r.st.Damage = append(r.st.Damage, &FormatError{Off: fe.Off, Err: fe.Err, Msg: "further problems not listed"})
	}
}

func (r *reader) addGap(from, to uint64) {
	if len(r.st.Gaps) < maxDamage {
		r.st.Gaps = append(r.st.Gaps, Gap{from, to})
	}
}

// fail handles a problem: fatal (sticky) without Salvage, recorded with it.
func (r *reader) fail(fe *FormatError) error {
	r.st.ChainOK = false
	if !r.opt.Salvage {
		r.err = fe
		r.st.Damage = append(r.st.Damage, fe)
		return fe
	}
	r.damage(fe)
	return nil
}

// item returns the next item from the source (or the one peeked at).
func (r *reader) item() chunkItem {
	var it chunkItem
	switch {
	case r.peek != nil:
		it, r.peek = *r.peek, nil
		return it // off and last were set when it was taken
	case r.pf != nil:
		var ok bool
		if it, ok = r.pf.next(); !ok {
			// The source ended without a final item: the reader was closed.
			it = chunkItem{fe: &FormatError{Off: r.off, Err: ErrTruncated, Msg: "reader closed"}, off: r.off, end: r.off}
		}
	default:
		it = r.src.next()
	}
	if r.pf != nil {
		r.pf.recycle(r.last)
	}
	r.last = it.body
	r.off = it.end
	return it
}

// readChunk returns the next chunk whose header, size caps, zstd frame and
// body hash check out, recording the damage on the way. Sequence and chain
// are checked by dispatch. It returns io.EOF at a clean chunk boundary at
// the end of input.
func (r *reader) readChunk() (chunkItem, error) {
	for {
		it := r.item()
		if it.resynced {
			r.resynced = true
		}
		if it.eof || it.fe == errEOF {
			return it, io.EOF
		}
		if it.fe == nil {
			if it.h.Type == ChunkPiece && r.onPiece != nil {
				r.onPiece(it.h, it.frameOff)
			}
			return it, nil
		}
		if err := r.fail(it.fe); err != nil {
			return it, err
		}
		if it.fe.Err == ErrTruncated {
			return it, io.EOF
		}
		if it.resync {
			continue // the source scans for the next chunk header
		}
		// Header was good, body bad: the next chunk starts right after it.
		if it.h.Seq >= r.nextSeq {
			r.addGap(r.nextSeq, it.h.Seq)
			r.nextSeq = it.h.Seq + 1
		}
		r.resynced = true
	}
}

// dispatch checks sequence and chain and takes in one valid chunk.
func (r *reader) dispatch(it chunkItem) error {
	h, body, off := it.h, it.body, it.off
	switch {
	case h.Seq == r.nextSeq:
	case h.Seq > r.nextSeq:
		r.addGap(r.nextSeq, h.Seq-1)
		if err := r.fail(&FormatError{Off: off, Err: ErrSequence,
			Msg: fmt.Sprintf("chunk %d follows chunk %d", h.Seq, int64(r.nextSeq)-1)}); err != nil {
			return err
		}
		r.resynced = true
	default:
		if err := r.fail(&FormatError{Off: off, Err: ErrSequence,
			Msg: fmt.Sprintf("chunk %d repeats or goes back (expected %d)", h.Seq, r.nextSeq)}); err != nil {
			return err
		}
		r.resynced = true
	}
	if r.resynced {
		// After lost chunks the previous chain value is unknown: adopt this
		// chunk's, so later chunks are still checked against each other.
		r.resynced = false
		r.st.ChainOK = false
	} else if want := nextChain(r.chain, h.Seq, h.Type, h.BodySHA256); want != h.Chain {
		if err := r.fail(&FormatError{Off: off, Err: ErrChain, Msg: fmt.Sprintf("chunk %d", h.Seq)}); err != nil {
			return err
		}
	}
	prevChain := r.chain
	r.chain = h.Chain
	r.nextSeq = h.Seq + 1
	r.st.ChainHead = h.Chain
	r.st.Chunks++
	r.st.ChunksByType[ChunkTypeName(h.Type)]++
	if h.Flags&FlagBodyBLAKE3 != 0 {
		r.st.BLAKE3Chunks++
	}
	r.st.Bytes = r.off

	switch h.Type {
	case ChunkHeader:
		if r.haveHeader {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("second header chunk (chunk %d)", h.Seq)})
		}
		hd, err := unmarshalHeader(body)
		if err != nil {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: err.Error()})
		}
		r.header, r.haveHeader = hd, true
	case ChunkEvents:
		n, err := it.nrec, it.recErr // counted where the body was made
		if err == nil && n != h.Records {
			err = fmt.Errorf("%d records, header says %d", n, h.Records)
		}
		if err != nil {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("events chunk %d: %v", h.Seq, err)})
		}
		r.counts.Records += uint64(n)
		r.ev, r.evOff = body, off
	case ChunkPiece:
		r.counts.Pieces++
		if r.nPieceIDs >= maxTrackedPieces {
			return r.fail(&FormatError{Off: off, Err: ErrTooLarge, Msg: "more blob pieces than a reader tracks"})
		}
		r.pieces[h.BodySHA256] = struct{}{}
		r.nPieceIDs++
	case ChunkBlobMap:
		r.counts.Blobs++
		info, _, err := unmarshalBlobMap(body, h.Flags)
		if err != nil {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("blob map chunk %d: %v", h.Seq, err)})
		}
		if len(r.blobs) >= maxTrackedBlobs || r.nPieceIDs+len(info.Pieces) > 2*maxTrackedPieces {
			return r.fail(&FormatError{Off: off, Err: ErrTooLarge, Msg: "more blobs than a reader tracks"})
		}
		r.nPieceIDs += len(info.Pieces)
		info.Present = r.havePieces(info.Pieces)
		r.blobs[info.Ref.ID] = info
	case ChunkStats:
		s, err := unmarshalStats(body)
		if err != nil {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("stats chunk %d: %v", h.Seq, err)})
		}
		r.stats = s
	case ChunkTrailer:
		t, err := unmarshalTrailer(body)
		if err != nil {
			return r.fail(&FormatError{Off: off, Err: ErrHeader, Msg: fmt.Sprintf("trailer: %v", err)})
		}
		r.takeTrailer(t, prevChain, off)
	default:
		if h.Type&CriticalBit != 0 {
			fe := &FormatError{Off: off, Err: ErrCritical, Msg: fmt.Sprintf("chunk type %#04x", h.Type)}
			r.err = fe
			r.st.Damage = append(r.st.Damage, fe)
			return fe
		}
		r.st.SkippedTypes[h.Type]++
	}
	return nil
}

// trackPiece remembers a piece's location (IndexPieces), bounded like openIndex's.
func (r *reader) trackPiece(h chunkHeader, frameOff int64) {
	if len(r.locs) >= maxTrackedPieces {
		return
	}
	if _, ok := r.locs[h.BodySHA256]; !ok {
		r.locs[h.BodySHA256] = pieceLoc{frameOff, h.CompSize, h.RawSize, h.Flags}
	}
}

func (r *reader) havePieces(ids [][32]byte) bool {
	for _, id := range ids {
		if _, ok := r.pieces[id]; !ok {
			return false
		}
	}
	return true
}

func (r *reader) takeTrailer(t trailer, head [32]byte, off int64) {
	r.st.Clean = true
	counts := t.Counts
	r.st.TrailerCounts = &counts
	if t.Head != head {
		r.fail(&FormatError{Off: off, Err: ErrChain, Msg: "trailer's chain head is not the file's"})
		r.err = nil // not fatal: keep reading; Status says it
	}
	want := TrailerCounts{Chunks: uint64(r.st.Chunks - 1), Records: r.counts.Records, Blobs: r.counts.Blobs, Pieces: r.counts.Pieces}
	got := counts
	got.End = want.End
	if got != want {
		r.damage(&FormatError{Off: off, Err: ErrCounts, Msg: fmt.Sprintf(
			"trailer says %d chunks, %d records, %d blobs, %d pieces; file has %d, %d, %d, %d",
			got.Chunks, got.Records, got.Blobs, got.Pieces, want.Chunks, want.Records, want.Blobs, want.Pieces)})
	}
	if !t.Signed {
		return
	}
	r.st.Signed = true
	r.st.SignerKey = append([]byte(nil), t.PublicKey[:]...)
	msg := signatureMessage(r.header.FileID, t.Head)
	key := ed25519.PublicKey(t.PublicKey[:])
	if r.opt.PublicKey != nil {
		key = r.opt.PublicKey
		r.st.KeyTrusted = true
	}
	r.st.SignatureOK = len(key) == ed25519.PublicKeySize && ed25519.Verify(key, msg, t.Signature[:])
	if !r.st.SignatureOK {
		r.damage(&FormatError{Off: off, Err: ErrSignature, Msg: "trailer signature does not verify"})
	}
}

// countRecords checks an EVENTS body's framing and counts its records.
func countRecords(b []byte) (uint32, error) {
	var n uint32
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			return n, errors.New("record header cut short")
		}
		l := binary.LittleEndian.Uint32(b[4:])
		if uint64(l) > uint64(len(b)-recordHeaderLen) {
			return n, errors.New("record longer than its chunk")
		}
		b = b[recordHeaderLen+int(l):]
		n++
	}
	return n, nil
}

func (r *reader) next() (Record, error) {
	if r.closed {
		return Record{}, ErrClosed
	}
	for {
		for len(r.ev) > 0 {
			typ := binary.LittleEndian.Uint16(r.ev)
			l := binary.LittleEndian.Uint32(r.ev[4:])
			data := r.ev[recordHeaderLen : recordHeaderLen+int(l)]
			r.ev = r.ev[recordHeaderLen+int(l):]
			if r.known != nil && !r.known[typ] {
				if typ&CriticalBit != 0 {
					fe := &FormatError{Off: r.evOff, Err: ErrCritical, Msg: fmt.Sprintf("record type %#04x", typ)}
					r.err, r.ev = fe, nil
					r.st.Damage = append(r.st.Damage, fe)
					return Record{}, fe
				}
				r.st.SkippedTypes[typ]++
				continue
			}
			r.st.Records++
			return Record{Type: typ, Data: data}, nil
		}
		if r.err != nil {
			return Record{}, r.err
		}
		if r.eof {
			return Record{}, io.EOF
		}
		it, err := r.readChunk()
		if err == io.EOF {
			r.finish()
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, err
		}
		if err := r.dispatch(it); err != nil {
			return Record{}, err
		}
		if it.h.Type == ChunkTrailer {
			r.afterTrailer()
		}
	}
}

// afterTrailer: a trailer ends the file; anything after it is damage.
func (r *reader) afterTrailer() {
	it := r.item()
	r.peek = &it // readChunk takes it next
	if it.fe != errEOF {
		r.fail(&FormatError{Off: it.off, Err: ErrHeader, Msg: "data after the trailer"})
		return
	}
	r.finish()
}

func (r *reader) finish() {
	r.eof = true
	r.st.Bytes = r.off
	if !r.st.Clean {
		r.st.ChainOK = false
	}
	for k, info := range r.blobs {
		if !info.Present && r.havePieces(info.Pieces) {
			info.Present = true
			r.blobs[k] = info
		}
	}
}

func (r *reader) status() Status {
	s := r.st
	if s.Chunks == 0 {
		s.ChainOK = false
	}
	return s
}
