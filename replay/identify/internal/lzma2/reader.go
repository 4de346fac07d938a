// Package lzma2 decodes raw LZMA2 data (the filter inside .xz blocks) fast
// and with bounded memory. It reads its input chunk by chunk, each chunk
// exactly as long as its header says, so it never reads past the end of the
// LZMA2 data: the caller knows where the stream ended. The dictionary is
// allocated as output arrives, never beyond the cap the caller gives.
package lzma2

import (
	"errors"
	"fmt"
	"io"
)

var errCorrupt = errors.New("lzma2: corrupt data")

// MinDictCap is the smallest window the Reader keeps (the .xz minimum).
const MinDictCap = 4096

// Reader decodes one LZMA2 stream, up to and including its end marker.
type Reader struct {
	r io.Reader
	m model
	w window

	rc       rangeDecoder
	packed   []byte // the current LZMA chunk's packed bytes, then inputPad zeros
	nPacked  int    // how many of them are packed bytes
	unpacked int    // bytes of the current chunk still to produce
	stored   bool   // the current chunk is stored uncompressed
	lzma     bool   // the current chunk is LZMA coded
	pend     int    // bytes of a match cut at the end of the window

	out int // next byte of the window to hand out

	started   bool // a chunk with a dictionary reset was seen
	needProps bool
	err       error
	hdr       [6]byte
}

// NewReader decodes LZMA2 from r with a window of at most dictCap bytes
// (a stream that reaches further back is reported corrupt).
func NewReader(r io.Reader, dictCap int) *Reader {
	return &Reader{r: r, w: window{max: max(dictCap, MinDictCap)}, needProps: true}
}

func (d *Reader) Read(p []byte) (int, error) {
	for {
		if d.out < d.w.pos {
			n := copy(p, d.w.buf[d.out:d.w.pos])
			d.out += n
			return n, nil
		}
		if d.err != nil || len(p) == 0 {
			return 0, d.err
		}
		if d.w.pos == len(d.w.buf) {
			d.w.makeRoom()
			d.out = d.w.pos
		}
		switch {
		case d.unpacked == 0:
			d.err = d.nextChunk()
		case d.stored:
			n := min(d.unpacked, len(d.w.buf)-d.w.pos)
			if _, err := io.ReadFull(d.r, d.w.buf[d.w.pos:d.w.pos+n]); err != nil {
				d.err = noEOF(err)
				break
			}
			d.w.pos += n
			d.unpacked -= n
		default:
			d.err = d.run(len(d.w.buf))
		}
	}
}

// nextChunk finishes the current chunk and reads the next chunk's header
// (and, for an LZMA chunk, its packed bytes).
func (d *Reader) nextChunk() error {
	if d.lzma {
		d.rc.normalize(d.packed)
		if d.pend != 0 || d.rc.code != 0 || d.rc.pos != d.nPacked {
			return errCorrupt
		}
	}
	d.lzma, d.stored = false, false
	if _, err := io.ReadFull(d.r, d.hdr[:1]); err != nil {
		return fmt.Errorf("lzma2 chunk header: %w", noEOF(err))
	}
	control := d.hdr[0]
	if control == 0 {
		return io.EOF
	}
	if control >= 0xE0 || control == 1 {
		d.needProps = true
		d.started = true
		d.w.reset()
		d.out = 0
	} else if !d.started {
		return errors.New("lzma2: first chunk does not reset the dictionary")
	}
	if control < 0x80 {
		if control > 2 {
			return fmt.Errorf("lzma2: invalid chunk control byte 0x%02x", control)
		}
		if _, err := io.ReadFull(d.r, d.hdr[:2]); err != nil {
			return fmt.Errorf("lzma2 chunk header: %w", noEOF(err))
		}
		d.unpacked = (int(d.hdr[0])<<8 | int(d.hdr[1])) + 1
		d.stored = true
		return nil
	}
	n := 4
	if control >= 0xC0 {
		n = 5
	}
	if _, err := io.ReadFull(d.r, d.hdr[:n]); err != nil {
		return fmt.Errorf("lzma2 chunk header: %w", noEOF(err))
	}
	d.unpacked = (int(control&0x1F)<<16 | int(d.hdr[0])<<8 | int(d.hdr[1])) + 1
	packed := (int(d.hdr[2])<<8 | int(d.hdr[3])) + 1
	switch {
	case control >= 0xC0:
		props := d.hdr[4]
		if props >= 9*5*5 {
			return errors.New("lzma2: invalid properties")
		}
		lc, lp, pb := uint(props%9), uint(props/9%5), uint(props/45)
		if lc+lp > 4 {
			return errors.New("lzma2: lc + lp > 4")
		}
		d.m.lc, d.m.lp, d.m.pb = lc, lp, pb
		d.needProps = false
		d.m.reset()
	case d.needProps:
		return errors.New("lzma2: LZMA chunk without properties")
	case control >= 0xA0:
		d.m.reset()
	}
	if d.packed == nil {
		d.packed = make([]byte, 1<<16+inputPad)
	}
	d.nPacked = packed
	if _, err := io.ReadFull(d.r, d.packed[:packed]); err != nil {
		return fmt.Errorf("lzma2 chunk: %w", noEOF(err))
	}
	clear(d.packed[packed:])
	if !d.rc.init(d.packed[:packed]) {
		return errCorrupt
	}
	d.lzma = true
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
