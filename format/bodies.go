package format

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// headerJSON is the HEADER chunk body: JSON so fields can be appended and a
// reader in any language can decode it. Byte arrays are lower-case hex.
type headerJSON struct {
	FileID        string            `json:"file_id"`
	Hostname      string            `json:"hostname,omitempty"`
	MachineID     string            `json:"machine_id,omitempty"`
	BootID        string            `json:"boot_id,omitempty"`
	KernelRelease string            `json:"kernel_release,omitempty"`
	KernelVersion string            `json:"kernel_version,omitempty"`
	Arch          string            `json:"arch,omitempty"`
	ByteOrder     string            `json:"byte_order,omitempty"`
	WriterVersion string            `json:"writer_version,omitempty"`
	RecordLayout  uint32            `json:"record_layout"`
	AttachMode    string            `json:"attach_mode,omitempty"`
	KnownReturn   string            `json:"known_return,omitempty"`
	KnownRetWhy   string            `json:"known_return_why,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
	WallStart     string            `json:"wall_start,omitempty"` // RFC 3339 with nanoseconds
	BootStartNS   uint64            `json:"boot_start_ns"`
	Extra         map[string]string `json:"extra,omitempty"`
	SetID         string            `json:"set_id,omitempty"`
	Part          uint32            `json:"part"`
	PieceSize     int               `json:"piece_size,omitempty"` // informative
}

func marshalHeader(h Header, pieceSize int) []byte {
	j := headerJSON{
		FileID: hex.EncodeToString(h.FileID[:]), Hostname: h.Hostname, MachineID: h.MachineID,
		BootID: h.BootID, KernelRelease: h.KernelRelease, KernelVersion: h.KernelVersion,
		Arch: h.Arch, ByteOrder: h.ByteOrder, WriterVersion: h.WriterVersion,
		RecordLayout: h.RecordLayout, AttachMode: h.AttachMode, Options: h.Options,
		KnownReturn: h.KnownReturn, KnownRetWhy: h.KnownReturnWhy,
		BootStartNS: h.BootStartNS, Extra: h.Extra, Part: h.Part, PieceSize: pieceSize,
	}
	if !h.WallStart.IsZero() {
		j.WallStart = h.WallStart.UTC().Format(time.RFC3339Nano)
	}
	if h.SetID != ([16]byte{}) {
		j.SetID = hex.EncodeToString(h.SetID[:])
	}
	b, _ := json.Marshal(j) // cannot fail: strings and maps of strings
	return b
}

func unmarshalHeader(b []byte) (Header, error) {
	var j headerJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Header{}, fmt.Errorf("header JSON: %v", err)
	}
	h := Header{
		Hostname: j.Hostname, MachineID: j.MachineID, BootID: j.BootID,
		KernelRelease: j.KernelRelease, KernelVersion: j.KernelVersion, Arch: j.Arch,
		ByteOrder: j.ByteOrder, WriterVersion: j.WriterVersion, RecordLayout: j.RecordLayout,
		AttachMode: j.AttachMode, Options: j.Options, BootStartNS: j.BootStartNS,
		KnownReturn: j.KnownReturn, KnownReturnWhy: j.KnownRetWhy,
		Extra: j.Extra, Part: j.Part,
	}
	if err := hex16(&h.FileID, j.FileID); err != nil {
		return h, fmt.Errorf("header file_id: %v", err)
	}
	if j.SetID != "" {
		if err := hex16(&h.SetID, j.SetID); err != nil {
			return h, fmt.Errorf("header set_id: %v", err)
		}
	}
	if j.WallStart != "" {
		t, err := time.Parse(time.RFC3339Nano, j.WallStart)
		if err != nil {
			return h, fmt.Errorf("header wall_start: %v", err)
		}
		h.WallStart = t
	}
	return h, nil
}

func hex16(dst *[16]byte, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	if len(b) != 16 {
		return errors.New("want 16 bytes")
	}
	copy(dst[:], b)
	return nil
}

// EVENTS body: records back to back, each
//
//	u16 type | u16 reserved (0) | u32 length | length bytes of data
const recordHeaderLen = 8

func appendRecord(b []byte, r Record) []byte {
	b = binary.LittleEndian.AppendUint16(b, r.Type)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Data)))
	return append(b, r.Data...)
}

// BLOBMAP body: u64 size | u32 piece size | u32 piece count | [32] blob id | count x [32] piece id.
// The blob id is the SHA-256 of the blob's bytes (1.0), or with
// FlagBlobListID the SHA-256 of its piece list (blobListID).
const blobMapFixed = 8 + 4 + 4 + 32

func marshalBlobMap(info BlobInfo, pieceSize int) []byte {
	b := make([]byte, 0, blobMapFixed+32*len(info.Pieces))
	b = binary.LittleEndian.AppendUint64(b, info.Ref.Size)
	b = binary.LittleEndian.AppendUint32(b, uint32(pieceSize))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(info.Pieces)))
	b = append(b, info.Ref.ID[:]...)
	for _, p := range info.Pieces {
		b = append(b, p[:]...)
	}
	return b
}

// blobListDomain opens what blobListID hashes, so that a blob id can never
// be mistaken for the hash of some other structure.
const blobListDomain = "kexecrec blob piece list v1\x00"

// blobListID is a 1.1 blob's id: SHA-256 of the domain string, the blob's
// size (u64), piece size (u32), piece count (u32) and its piece ids in
// order. Each piece id is a cryptographic hash of that piece's bytes, so
// the id commits to every byte of the blob and to their order.
func blobListID(size uint64, pieceSize uint32, pieces [][32]byte) [32]byte {
	h := sha256.New()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], size)
	binary.LittleEndian.PutUint32(b[8:], pieceSize)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(pieces)))
	h.Write([]byte(blobListDomain))
	h.Write(b[:])
	for _, p := range pieces {
		h.Write(p[:])
	}
	return [32]byte(h.Sum(nil))
}

// unmarshalBlobMap decodes a blob map; flags are its chunk's (with
// FlagBlobListID the id must be the piece list's, which is checked here).
func unmarshalBlobMap(b []byte, flags uint32) (BlobInfo, uint32, error) {
	var info BlobInfo
	if len(b) < blobMapFixed {
		return info, 0, errors.New("blob map too short")
	}
	le := binary.LittleEndian
	info.Ref.Size = le.Uint64(b)
	pieceSize := le.Uint32(b[8:])
	n := le.Uint32(b[12:])
	copy(info.Ref.ID[:], b[16:48])
	if uint64(len(b)-blobMapFixed) < uint64(n)*32 {
		return info, 0, errors.New("blob map piece list cut short")
	}
	if pieceSize == 0 && n > 0 || uint64(n)*uint64(pieceSize) < info.Ref.Size ||
		n > 0 && uint64(n-1)*uint64(pieceSize) >= info.Ref.Size {
		return info, 0, errors.New("blob map size, piece size and piece count disagree")
	}
	info.Pieces = make([][32]byte, n)
	for i := range info.Pieces {
		copy(info.Pieces[i][:], b[blobMapFixed+32*i:])
	}
	if flags&FlagBlobListID != 0 {
		if blobListID(info.Ref.Size, pieceSize, info.Pieces) != info.Ref.ID {
			return info, 0, errors.New("blob id is not the SHA-256 of its piece list")
		}
		info.Ref.ListID = true
	}
	return info, pieceSize, nil
}

// STATS body: u32 count, then count entries sorted by name:
// u16 name length | name (UTF-8) | u64 value
func marshalStats(s Stats) []byte {
	keys := make([]string, 0, len(s))
	for k := range s {
		if len(k) <= 0xFFFF {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint64(b, s[k])
	}
	return b
}

func unmarshalStats(b []byte) (Stats, error) {
	if len(b) < 4 {
		return nil, errors.New("stats too short")
	}
	le := binary.LittleEndian
	n := le.Uint32(b)
	if uint64(n)*10 > uint64(len(b)) {
		return nil, errors.New("stats count larger than body")
	}
	s := make(Stats, n)
	p := b[4:]
	for range n {
		if len(p) < 2 {
			return nil, errors.New("stats entry cut short")
		}
		l := int(le.Uint16(p))
		if len(p) < 2+l+8 {
			return nil, errors.New("stats entry cut short")
		}
		s[string(p[2:2+l])] = le.Uint64(p[2+l:])
		p = p[2+l+8:]
	}
	return s, nil
}

// TRAILER body (176 bytes in 1.0; later versions append):
//
//	0 u64 chunks before the trailer   8 u64 records   16 u64 blob maps   24 u64 pieces
//	32 i64 end time (unix ns)  40 [32] chain head after the last chunk before the trailer
//	72 u32 flags (bit 0: signed)  76 u32 reserved
//	80 [32] Ed25519 public key  112 [64] Ed25519 signature (zero when unsigned)
const trailerLenV1 = 176

type trailer struct {
	Counts    TrailerCounts
	Head      [32]byte
	Signed    bool
	PublicKey [32]byte
	Signature [64]byte
}

func (t *trailer) marshal() []byte {
	b := make([]byte, trailerLenV1)
	le := binary.LittleEndian
	le.PutUint64(b[0:], t.Counts.Chunks)
	le.PutUint64(b[8:], t.Counts.Records)
	le.PutUint64(b[16:], t.Counts.Blobs)
	le.PutUint64(b[24:], t.Counts.Pieces)
	le.PutUint64(b[32:], uint64(t.Counts.End.UnixNano()))
	copy(b[40:72], t.Head[:])
	if t.Signed {
		le.PutUint32(b[72:], 1)
	}
	copy(b[80:112], t.PublicKey[:])
	copy(b[112:176], t.Signature[:])
	return b
}

func unmarshalTrailer(b []byte) (trailer, error) {
	var t trailer
	if len(b) < trailerLenV1 {
		return t, errors.New("trailer too short")
	}
	le := binary.LittleEndian
	t.Counts.Chunks = le.Uint64(b[0:])
	t.Counts.Records = le.Uint64(b[8:])
	t.Counts.Blobs = le.Uint64(b[16:])
	t.Counts.Pieces = le.Uint64(b[24:])
	t.Counts.End = time.Unix(0, int64(le.Uint64(b[32:]))).UTC()
	copy(t.Head[:], b[40:72])
	t.Signed = le.Uint32(b[72:])&1 != 0
	copy(t.PublicKey[:], b[80:112])
	copy(t.Signature[:], b[112:176])
	return t, nil
}
