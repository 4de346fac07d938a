package format

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"

	"github.com/zeebo/blake3"
)

// Byte layout constants; SPEC.md is the authority and these must match it.
const (
	// SkippableMagic is the zstd skippable-frame magic every chunk header
	// travels in (0x184D2A50..5F are skippable; we use the 'B' nibble).
	SkippableMagic = 0x184D2A5B
	// ChunkMagic opens the chunk header inside the skippable frame.
	ChunkMagic = "KXRC"

	FormatMajor = 1
	// FormatMinor is what the writer puts in every chunk header: 1 when it
	// writes BLAKE3 pieces and piece-list blob ids (the default), 0 for
	// the SHA-256 pieces of format 1.0 (WriterOptions.PieceHash).
	FormatMinor = 1

	// headerLenV1 is the size of a version 1.0 chunk header (CRC included).
	headerLenV1 = 132
	// maxHeaderLen bounds a future, longer chunk header (fields appended).
	maxHeaderLen = 4096
	// frameHdrLen is the skippable frame's magic + size.
	frameHdrLen = 8

	defaultMaxChunk = 8 << 20
)

// Chunk types. Bit 15 (CriticalBit) set: a reader that does not know the type
// must refuse the file.
const (
	ChunkHeader  uint16 = 1
	ChunkEvents  uint16 = 2
	ChunkPiece   uint16 = 3
	ChunkBlobMap uint16 = 4
	ChunkStats   uint16 = 5
	ChunkTrailer uint16 = 6
)

// Chunk flags: the low 16 bits are "compatible" (unknown ones ignored), the
// high 16 bits "incompatible" (a reader refuses a chunk with one it does not
// know), like the systemd journal's header flags. Version 1.0 defines none;
// 1.1 defines two, both incompatible: a reader that does not know them
// would check the wrong hash.
const (
	flagsIncompatMask = 0xFFFF0000
	// FlagBodyBLAKE3: the header's body hash field holds the BLAKE3-256 of
	// the body instead of its SHA-256 (a 1.1 PIECE chunk: the piece id).
	FlagBodyBLAKE3 = 1 << 16
	// FlagBlobListID: the BLOBMAP's blob id is the SHA-256 of its piece
	// list (blobListID), not the SHA-256 of the blob's bytes, which a
	// reader computes from the pieces.
	FlagBlobListID = 1 << 17
	knownIncompat  = FlagBodyBLAKE3 | FlagBlobListID
)

// ChunkTypeName names a chunk type for reports.
func ChunkTypeName(t uint16) string {
	switch t {
	case ChunkHeader:
		return "header"
	case ChunkEvents:
		return "events"
	case ChunkPiece:
		return "piece"
	case ChunkBlobMap:
		return "blobmap"
	case ChunkStats:
		return "stats"
	case ChunkTrailer:
		return "trailer"
	}
	if t&CriticalBit != 0 {
		return "unknown-critical"
	}
	return "unknown"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkHeader is the fixed little-endian header of every chunk.
type chunkHeader struct {
	HeaderLen  uint16 // bytes of the header, CRC included (132 in 1.0)
	Major      uint16
	Minor      uint16
	Type       uint16
	Flags      uint32
	Seq        uint64
	CompSize   uint64 // bytes of the zstd frame that follows
	RawSize    uint64 // bytes of the uncompressed body
	Records    uint32
	FrameCRC   uint32 // CRC32C of the compressed zstd frame: catches changes that decode the same
	FirstNS    int64  // unix ns (writer wall clock) of the first record, 0 when none
	LastNS     int64
	BodySHA256 [32]byte
	Chain      [32]byte
}

// marshal returns the skippable frame (magic, size, header) for h.
func (h *chunkHeader) marshal() []byte {
	b := make([]byte, frameHdrLen+headerLenV1)
	le := binary.LittleEndian
	le.PutUint32(b[0:], SkippableMagic)
	le.PutUint32(b[4:], headerLenV1)
	p := b[frameHdrLen:]
	copy(p[0:4], ChunkMagic)
	le.PutUint16(p[4:], FormatMajor)
	le.PutUint16(p[6:], h.Minor)
	le.PutUint16(p[8:], headerLenV1)
	le.PutUint16(p[10:], h.Type)
	le.PutUint32(p[12:], h.Flags)
	le.PutUint64(p[16:], h.Seq)
	le.PutUint64(p[24:], h.CompSize)
	le.PutUint64(p[32:], h.RawSize)
	le.PutUint32(p[40:], h.Records)
	le.PutUint32(p[44:], h.FrameCRC)
	le.PutUint64(p[48:], uint64(h.FirstNS))
	le.PutUint64(p[56:], uint64(h.LastNS))
	copy(p[64:96], h.BodySHA256[:])
	copy(p[96:128], h.Chain[:])
	le.PutUint32(p[128:], crc32.Checksum(p[:128], castagnoli))
	return b
}

// headerProblem is why a header was refused, and which sentinel applies.
type headerProblem struct {
	err error
	msg string
}

// parseChunkHeader decodes p, the skippable frame's content (frame size
// bytes). It checks magic, length, CRC and major version.
func parseChunkHeader(p []byte) (chunkHeader, *headerProblem) {
	var h chunkHeader
	le := binary.LittleEndian
	if len(p) < headerLenV1 || string(p[0:4]) != ChunkMagic {
		return h, &headerProblem{ErrHeader, "no chunk magic"}
	}
	h.HeaderLen = le.Uint16(p[8:])
	if int(h.HeaderLen) != len(p) || h.HeaderLen < headerLenV1 {
		return h, &headerProblem{ErrHeader, "header length disagrees with frame size"}
	}
	n := int(h.HeaderLen)
	if crc32.Checksum(p[:n-4], castagnoli) != le.Uint32(p[n-4:]) {
		return h, &headerProblem{ErrHeader, "header CRC32C mismatch"}
	}
	h.Major = le.Uint16(p[4:])
	h.Minor = le.Uint16(p[6:])
	if h.Major != FormatMajor {
		return h, &headerProblem{ErrVersion, "format major version " + itoa(uint64(h.Major))}
	}
	h.Type = le.Uint16(p[10:])
	h.Flags = le.Uint32(p[12:])
	h.Seq = le.Uint64(p[16:])
	h.CompSize = le.Uint64(p[24:])
	h.RawSize = le.Uint64(p[32:])
	h.Records = le.Uint32(p[40:])
	h.FrameCRC = le.Uint32(p[44:])
	h.FirstNS = int64(le.Uint64(p[48:]))
	h.LastNS = int64(le.Uint64(p[56:]))
	copy(h.BodySHA256[:], p[64:96])
	copy(h.Chain[:], p[96:128])
	return h, nil
}

// bodyHash is the hash a chunk's header holds for body: BLAKE3-256 when
// flags say so, SHA-256 otherwise.
func bodyHash(flags uint32, body []byte) [32]byte {
	if flags&FlagBodyBLAKE3 != 0 {
		return blake3.Sum256(body)
	}
	return sha256.Sum256(body)
}

// bodyHashName names the hash bodyHash uses, for error messages.
func bodyHashName(flags uint32) string {
	if flags&FlagBodyBLAKE3 != 0 {
		return "BLAKE3"
	}
	return "SHA-256"
}

// nextChain is SHA-256(prev || seq u64le || type u16le || body SHA-256).
func nextChain(prev [32]byte, seq uint64, typ uint16, body [32]byte) [32]byte {
	var b [32 + 8 + 2 + 32]byte
	copy(b[:32], prev[:])
	binary.LittleEndian.PutUint64(b[32:], seq)
	binary.LittleEndian.PutUint16(b[40:], typ)
	copy(b[42:], body[:])
	return sha256.Sum256(b[:])
}

// signatureMessage is what the trailer's Ed25519 signature signs.
func signatureMessage(fileID [16]byte, head [32]byte) []byte {
	m := []byte(sigDomain)
	m = append(m, fileID[:]...)
	return append(m, head[:]...)
}

const sigDomain = "kexecrec capture chain head v1\x00"

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
