package lzma2

// window is the output and the dictionary at once: decoded bytes are written
// at pos and matches copy from behind it. It grows (fourfold: each growth
// copies what is there) up to max as
// output arrives, so a stream that claims a huge dictionary but produces
// little costs little; once at max it is circular.
type window struct {
	buf  []byte
	pos  int
	full bool   // buf has wrapped: all of it is history
	base uint32 // stream position of buf[0], mod 2^32 (for the position bits)
	max  int
}

func (w *window) reset() {
	w.pos, w.full, w.base = 0, false, 0
}

// makeRoom is called when pos reached the end of buf and every byte has
// been handed out.
func (w *window) makeRoom() {
	if len(w.buf) < w.max {
		n := min(max(4*len(w.buf), 64<<10), w.max)
		nb := make([]byte, n)
		copy(nb, w.buf[:w.pos])
		w.buf = nb
		return
	}
	w.base += uint32(len(w.buf))
	w.pos, w.full = 0, true
}

// reaches says whether a match dist+1 bytes behind pos stays in the history.
func (w *window) reaches(pos int, dist uint32) bool {
	if w.full {
		return int64(dist) < int64(len(w.buf))
	}
	return int64(dist) < int64(pos)
}

// copyMatch copies n bytes from dist+1 bytes back to pos and returns the new pos.
func copyMatch(buf []byte, pos int, dist uint32, n int) int {
	src := pos - int(dist) - 1
	if src < 0 {
		src += len(buf)
	}
	end := pos + n
	if src < pos && n <= 16 {
		// Most matches are short: a forward byte loop beats a memmove
		// call and is right for overlapping matches too.
		_ = buf[end-1]
		for ; pos < end; pos++ {
			buf[pos] = buf[src]
			src++
		}
		return pos
	}
	if src < pos {
		// Overlapping copies repeat the period dist+1; each pass doubles
		// what can be copied at once.
		for pos < end {
			pos += copy(buf[pos:end], buf[src:pos])
		}
		return pos
	}
	if src+n <= len(buf) && src >= end {
		copy(buf[pos:end], buf[src:src+n])
		return end
	}
	for ; pos < end; pos++ {
		buf[pos] = buf[src]
		if src++; src == len(buf) {
			src = 0
		}
	}
	return pos
}

// run decodes the current LZMA chunk until the window reaches limit or the
// chunk's unpacked bytes are all produced.
func (d *Reader) run(limit int) error {
	m := &d.m
	w := &d.w
	in, nPacked := d.packed, d.nPacked
	rc := d.rc
	buf := w.buf
	pos := w.pos
	left := d.unpacked
	defer func() {
		d.rc = rc
		w.pos = pos
		d.unpacked = left
	}()
	if d.pend > 0 {
		n := min(d.pend, limit-pos)
		pos = copyMatch(buf, pos, m.rep[0], n)
		d.pend -= n
		left -= n
	}
	lc, lpMask, pbMask := m.lc, uint32(1)<<m.lp-1, uint32(1)<<m.pb-1
	for pos < limit && left > 0 {
		if rc.pos > nPacked {
			return errCorrupt
		}
		tp := w.base + uint32(pos)
		posState := tp & pbMask
		s := m.state
		if rc.bit(in, &m.isMatch[s<<posBitsMax|posState]) == 0 {
			var prev uint32
			if pos > 0 {
				prev = uint32(buf[pos-1])
			} else if w.full {
				prev = uint32(buf[len(buf)-1])
			}
			probs := (*[literalCoders]prob)(m.literal[literalCoders*((tp&lpMask)<<lc+prev>>(8-lc)):])
			if s >= 7 {
				src := pos - int(m.rep[0]) - 1
				if src < 0 {
					src += len(buf)
				}
				buf[pos] = rc.matchedLiteral(in, probs, uint32(buf[src]))
			} else {
				buf[pos] = rc.literal(in, probs)
			}
			pos++
			left--
			m.state = nextStateLiteral(s)
			continue
		}
		var length uint32
		if rc.bit(in, &m.isRep[s]) != 0 {
			if pos == 0 && !w.full {
				return errCorrupt
			}
			if rc.bit(in, &m.isRepG0[s]) == 0 {
				if rc.bit(in, &m.isRep0Long[s<<posBitsMax|posState]) == 0 {
					if !w.reaches(pos, m.rep[0]) {
						return errCorrupt
					}
					m.state = nextState(s, 9, 11)
					src := pos - int(m.rep[0]) - 1
					if src < 0 {
						src += len(buf)
					}
					buf[pos] = buf[src]
					pos++
					left--
					continue
				}
			} else {
				var dist uint32
				if rc.bit(in, &m.isRepG1[s]) == 0 {
					dist = m.rep[1]
				} else {
					if rc.bit(in, &m.isRepG2[s]) == 0 {
						dist = m.rep[2]
					} else {
						dist = m.rep[3]
						m.rep[3] = m.rep[2]
					}
					m.rep[2] = m.rep[1]
				}
				m.rep[1] = m.rep[0]
				m.rep[0] = dist
			}
			length = rc.length(in, &m.repLen, posState)
			m.state = nextState(s, 8, 11)
		} else {
			m.rep[3], m.rep[2], m.rep[1] = m.rep[2], m.rep[1], m.rep[0]
			length = rc.length(in, &m.matchLen, posState)
			m.state = nextState(s, 7, 10)
			slot := rc.tree(in, m.posSlot[min(length, lenToPosState-1)][:], 6)
			dist := slot
			if slot >= 4 {
				direct := uint(slot>>1) - 1
				dist = (2 | slot&1) << direct
				if slot < endPosModel {
					dist += rc.reverseTree(in, m.posSpecial[dist-slot:], direct)
				} else {
					dist += rc.direct(in, direct-alignBits) << alignBits
					dist += rc.reverseTree(in, m.align[:], alignBits)
				}
			}
			m.rep[0] = dist // 0xFFFFFFFF, the end marker, is not allowed in LZMA2
		}
		n := int(length) + matchMinLen
		if n > left || !w.reaches(pos, m.rep[0]) {
			return errCorrupt
		}
		k := min(n, limit-pos)
		pos = copyMatch(buf, pos, m.rep[0], k)
		left -= k
		d.pend = n - k
	}
	if rc.pos > nPacked {
		return errCorrupt
	}
	return nil
}
