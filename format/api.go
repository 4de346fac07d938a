// Package format reads and writes kexecrec capture files: a sequence of
// sealed, independently decodable chunks, each a zstd skippable frame (header)
// followed by a zstd frame (body), hash-chained and optionally signed.
// It knows nothing about kexec: records are typed byte strings, blobs are
// content-addressed byte streams. The byte-level specification is SPEC.md.
//
// THIS FILE IS THE API CONTRACT other packages compile against. Bodies are
// filled in by the format implementation; signatures change only with care.
package format

import (
	"crypto/ed25519"
	"io"
	"time"
)

// Record is one typed record in an EVENTS chunk.
type Record struct {
	Type uint16 // bit 15 (CriticalBit) set: a reader that does not know Type must refuse the file
	Data []byte // raw bytes; owned by the caller on write, valid until the next Next() on read
}

// CriticalBit marks a record or chunk type that must not be skipped when unknown.
const CriticalBit = 0x8000

// Header is the content of the HEADER chunk, written first.
type Header struct {
	FileID        [16]byte // random; set by NewWriter when zero
	Hostname      string   // os.Hostname
	MachineID     string   // /etc/machine-id
	BootID        string   // /proc/sys/kernel/random/boot_id
	KernelRelease string   // uname -r
	KernelVersion string   // uname -v
	Arch          string   // GOARCH-style: "amd64", "arm64"
	ByteOrder     string   // "little" or "big": byte order of raw records
	WriterVersion string   // kexecrec version string
	RecordLayout  uint32   // bpf/layout.Version
	AttachMode    string   // "fentry", "kprobe", "raw", "" when not recording
	// KnownReturn is "ENOSYS" when the kernel has no kexec, so raw mode
	// attached sys_enter only and recorded every call's return as ENOSYS
	// known in advance (KnownReturnWhy: the kernel evidence); "" when
	// returns were observed at syscall exit.
	KnownReturn    string
	KnownReturnWhy string
	Options        map[string]string
	WallStart      time.Time // wall clock at start
	BootStartNS    uint64    // CLOCK_BOOTTIME at WallStart: record times are boot-time ns
	Extra          map[string]string
	// Part numbers a rotated set: the same SetID across files, Part 0, 1, ...
	SetID [16]byte
	Part  uint32
}

// Stats are cumulative counters, written repeatedly (the last one read wins).
type Stats map[string]uint64

// BlobRef names a blob in its file: its id and its length.
type BlobRef struct {
	// ID is the blob's id in its file: the SHA-256 of its piece list
	// (ListID, format 1.1) or the SHA-256 of its bytes (format 1.0). The
	// blob's plain SHA-256 is Index.BlobSHA256.
	ID     [32]byte
	Size   uint64
	ListID bool
}

// PieceHash chooses how a Writer names pieces and blobs.
type PieceHash int

const (
	// PieceBLAKE3 (format 1.1, the default): a piece's id is the BLAKE3-256
	// of its bytes (FlagBodyBLAKE3), a blob's id the SHA-256 of its piece
	// list (FlagBlobListID); each payload byte is hashed once, and readers
	// compute a blob's SHA-256 from its verified pieces.
	PieceBLAKE3 PieceHash = iota
	// PieceSHA256 (format 1.0): a piece's id is its SHA-256 and a blob's id
	// the SHA-256 of all its bytes, which hashes each byte twice.
	PieceSHA256
)

// SyncPolicy says when the Writer calls Sync on an *os.File.
type SyncPolicy int

const (
	SyncNever   SyncPolicy = iota // leave it to the OS
	SyncOnSeal                    // fsync after every sealed chunk
	SyncOnClose                   // fsync once at Close
)

// WriterOptions tune sealing and signing. Zero values pick the defaults.
type WriterOptions struct {
	SealBytes    int           // seal pending records at this many uncompressed bytes (default 1 MiB)
	SealInterval time.Duration // seal pending records this long after the first one (default 1 s)
	Sync         SyncPolicy
	Level        int                // zstd level (1 fastest .. 4 best, default 1/"fastest")
	PieceSize    int                // blob piece size (default 1 MiB, max 4 MiB)
	PieceHash    PieceHash          // piece and blob ids (default PieceBLAKE3, format 1.1)
	SignKey      ed25519.PrivateKey // when set, the trailer carries a signature of the chain head
	Now          func() time.Time   // for tests; default time.Now
}

// Writer appends chunks. Not safe for concurrent use. Errors are sticky: after
// the first write error every call returns it, and the file stays valid up to
// its last sealed chunk.
type Writer struct{ w *writer }

// NewWriter writes the HEADER chunk and returns a Writer.
func NewWriter(w io.Writer, h Header, o WriterOptions) (*Writer, error) { return newWriter(w, h, o) }

// WriteRecord queues a record; it is sealed into an EVENTS chunk when the
// pending size or age crosses the thresholds (checked here and in Tick).
func (w *Writer) WriteRecord(r Record) error { return w.w.writeRecord(r) }

// Tick seals pending records if SealInterval has passed. Call it periodically.
func (w *Writer) Tick() error { return w.w.tick() }

// Seal seals pending records now.
func (w *Writer) Seal() error { return w.w.seal() }

// NewBlob starts a blob. Bytes are cut into PieceSize pieces at fixed offsets;
// each piece is stored once per file (content-addressed), so identical
// payloads cost one copy. Several blobs may be open at once.
func (w *Writer) NewBlob() *BlobWriter { return w.w.newBlob() }

// WriteStats writes a STATS chunk (cumulative counters).
func (w *Writer) WriteStats(s Stats) error { return w.w.writeStats(s) }

// Close seals pending records, writes the TRAILER (and signature) and syncs
// per policy. It does not close the underlying writer.
func (w *Writer) Close() error { return w.w.close() }

// Err returns the sticky error, if any.
func (w *Writer) Err() error { return w.w.err }

// Written returns the bytes written to the underlying writer so far.
func (w *Writer) Written() int64 { return w.w.written }

// BlobWriter streams one blob. Write never keeps more than one piece.
type BlobWriter struct{ b *blobWriter }

func (b *BlobWriter) Write(p []byte) (int, error) { return b.b.write(p) }

// Close stores the last piece and the blob's piece list and returns its ref.
func (b *BlobWriter) Close() (BlobRef, error) { return b.b.close() }

// ReaderOptions tune reading.
type ReaderOptions struct {
	// Salvage: on a damaged chunk, scan forward for the next valid chunk
	// header instead of stopping; Gaps and Damage report what was lost.
	Salvage bool
	// MaxChunk caps a chunk's compressed and uncompressed body (default 8 MiB;
	// larger declared sizes are a FormatError, checked before allocating).
	MaxChunk int
	// SkipBlobData: do not decompress blob pieces (faster when only records are wanted).
	SkipBlobData bool
	// PublicKey, when set, is used to check the trailer's signature.
	PublicKey ed25519.PublicKey
	// Prefetch: read, decompress and hash chunks on another goroutine, a few
	// chunks ahead of Next (two cores: checking overlaps with what the caller
	// does with the records). The Reader must then be closed (Close), and
	// the underlying reader must not be used until it is.
	Prefetch bool
	// IndexPieces: remember where every blob piece lies as the stream is
	// read, so that Reader.Index serves blobs already passed without a
	// second pass over the file (costs one map entry per distinct piece,
	// bounded like the piece set itself).
	IndexPieces bool
	// RecordTypes, when non-nil, lists the record types the caller knows:
	// others are skipped (counted in Status.SkippedTypes) or, when they have
	// CriticalBit set, refused with ErrCritical. Nil returns every record.
	RecordTypes []uint16
}

// Reader reads a capture as a stream, verifying CRCs, body hashes and the
// chain as it goes. Memory is bounded by MaxChunk whatever the input (about
// 11 chunks' worth with Prefetch, which reads and checks ahead), plus the
// bounded sets of piece and blob ids.
type Reader struct{ r *reader }

// Close ends the reader: Next returns ErrClosed afterwards. A Prefetch
// reader's goroutine is stopped and waited for (it may finish a read of the
// underlying reader first), so the underlying reader is free to be closed
// or reused once Close returns; Close does not close it.
func (r *Reader) Close() error {
	r.r.closed = true
	if r.r.pf != nil {
		r.r.pf.stop()
	}
	return nil
}

// Index returns random access to the blobs whose map and pieces the reader
// has passed so far (ReaderOptions.IndexPieces must be set; nil otherwise),
// reading piece bytes through ra, which must see the stream's bytes at the
// same offsets (the file the reader reads from its start). The Index grows
// as the reader goes on; like the Reader it is not safe for concurrent use.
func (r *Reader) Index(ra io.ReaderAt) *Index {
	if r.r.locs == nil {
		return nil
	}
	return &Index{&index{ra: ra, opt: r.r.opt, pieces: r.r.locs, blobs: r.r.blobs, live: r.r}}
}

// NewReader reads the HEADER chunk.
func NewReader(r io.Reader, o ReaderOptions) (*Reader, error) { return newReader(r, o) }

// Header returns the file's header.
func (r *Reader) Header() Header { return r.r.header }

// Next returns the next record. At the end it returns io.EOF; a damaged file
// returns a *FormatError (or, with Salvage, skips ahead and records the damage).
func (r *Reader) Next() (Record, error) { return r.r.next() }

// Blobs returns the blob maps seen so far (blob -> pieces).
func (r *Reader) Blobs() map[[32]byte]BlobInfo { return r.r.blobs }

// Stats returns the last STATS chunk read so far (nil when none).
func (r *Reader) Stats() Stats { return r.r.stats }

// Status says what was checked and found; complete after Next returned io.EOF.
func (r *Reader) Status() Status { return r.r.status() }

// BlobInfo is what a BLOBMAP chunk says about one blob.
type BlobInfo struct {
	Ref    BlobRef
	Pieces [][32]byte // SHA-256 of each piece, in order
	// Present: every piece was seen in the file (false in a cut or damaged file).
	Present bool
}

// Status is the outcome of reading a file.
type Status struct {
	Chunks        int // valid chunks read
	Records       int // records returned
	ChunksByType  map[string]int
	Clean         bool           // a valid TRAILER was read (clean stop)
	ChainOK       bool           // every chunk's chain hash matched and (Clean) the trailer's head too
	ChainHead     [32]byte       // chain after the last valid chunk
	Signed        bool           // the trailer carries a signature
	SignerKey     []byte         // the public key the trailer names
	SignatureOK   bool           // signature checked against ReaderOptions.PublicKey (or the named key when none given)
	KeyTrusted    bool           // checked against a key the caller gave, not just the one the file names
	Gaps          []Gap          // sequence numbers missing (salvage)
	Damage        []*FormatError // every problem met (salvage) or the one that stopped reading
	SkippedTypes  map[uint16]int // unknown non-critical record/chunk types skipped
	Bytes         int64          // bytes consumed
	BLAKE3Chunks  int            // valid chunks whose body hash is BLAKE3 (FlagBodyBLAKE3: format 1.1 pieces)
	TrailerCounts *TrailerCounts // totals from the trailer when Clean
}

// Gap is a run of chunk sequence numbers that were not found.
type Gap struct{ From, To uint64 } // inclusive

// TrailerCounts is what a clean writer counted.
type TrailerCounts struct {
	Chunks, Records, Blobs, Pieces uint64
	End                            time.Time
}

// Index gives random access to blobs in a seekable capture.
type Index struct{ ix *index }

// BlobSHA256 returns the SHA-256 of a blob's bytes (what sha256sum prints
// for the payload): the id itself for a 1.0 blob, otherwise computed once
// from the blob's pieces, each checked against its id as it is read, and
// remembered.
func (ix *Index) BlobSHA256(id [32]byte) ([32]byte, error) { return ix.ix.blobSHA256(id) }

// OpenIndex scans ra (size bytes) once and indexes blob pieces and maps.
func OpenIndex(ra io.ReaderAt, size int64, o ReaderOptions) (*Index, error) {
	return openIndex(ra, size, o)
}

// Blob returns a reader of a blob's bytes by its id; pieces are checked
// against their ids (BLAKE3 or SHA-256) as they are read, and at the end the
// size and, for a 1.0 blob, the SHA-256 of the whole. A missing piece is an
// error at that offset.
func (ix *Index) Blob(sum [32]byte) (io.ReadCloser, BlobInfo, error) { return ix.ix.blob(sum) }
