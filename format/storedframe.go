package format

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// A zstd frame (RFC 8878 §3.1.1) whose blocks are all raw: the body stored
// as it is, in blocks of at most 128 KiB, with the frame's content size and
// content checksum. Any zstd decoder reads it; zstd itself falls back to
// raw blocks for incompressible input, but only after searching it for
// matches, which costs as much as a SHA-256 pass over a compressed kernel.
const (
	zstdMaxBlock     = 128 << 10
	rawBlockType     = 0 // Block_Type Raw_Block
	storedFrameFHD   = 0xA4
	storedFrameFixed = 4 + 1 + 4 + 4 // magic, descriptor, content size, checksum
)

// appendStoredFrame appends body as one zstd frame of raw blocks. Its frame
// header descriptor (0xA4) says: 4-byte Frame_Content_Size, single segment
// (the window is the content size, at most a 4 MiB piece), content checksum
// (the low 32 bits of XXH64 of the body), no dictionary.
func appendStoredFrame(dst, body []byte) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, zstdMagic)
	dst = append(dst, storedFrameFHD)
	dst = le.AppendUint32(dst, uint32(len(body)))
	rest := body
	for {
		n := min(len(rest), zstdMaxBlock)
		hdr := uint32(n)<<3 | rawBlockType<<1
		if n == len(rest) {
			hdr |= 1 // Last_Block
		}
		dst = append(dst, byte(hdr), byte(hdr>>8), byte(hdr>>16))
		dst = append(dst, rest[:n]...)
		rest = rest[n:]
		if len(rest) == 0 {
			break
		}
	}
	return le.AppendUint32(dst, uint32(xxhash.Sum64(body)))
}

// Deciding a piece is incompressible: a few samples spread over it are
// compressed alone; when none shrinks by storedMinGain, zstd would not
// shrink the piece by much either. Small pieces are always compressed.
const (
	storedMinPiece = 64 << 10
	storedSamples  = 4
	storedSample   = 4 << 10
	storedMinGain  = 0.03
)

// incompressible reports whether body should be stored raw.
func (w *writer) incompressible(body []byte) bool {
	if len(body) < storedMinPiece {
		return false
	}
	step := (len(body) - storedSample) / (storedSamples - 1)
	for i := range storedSamples {
		s := body[i*step : i*step+storedSample]
		w.sample = w.enc.EncodeAll(s, w.sample[:0])
		if float64(len(w.sample)) < float64(len(s))*(1-storedMinGain) {
			return false
		}
	}
	return true
}
