package lzma2

// The LZMA decoder proper (the algorithm of Igor Pavlov's LZMA specification,
// lzma-specification.txt in the LZMA SDK): a range decoder over one LZMA2
// chunk's packed bytes and the literal/match model writing into a window.
// Everything the hot loop touches lives in one struct and local variables,
// so that the range coder's state stays in registers.

const (
	numStates     = 12
	posBitsMax    = 4
	probBits      = 11
	probInit      = 1 << (probBits - 1)
	moveBits      = 5
	topValue      = 1 << 24
	lenToPosState = 4
	endPosModel   = 14
	fullDistances = 1 << (endPosModel >> 1)
	alignBits     = 4
	matchMinLen   = 2
	literalCoders = 0x300
)

type prob = uint16

// lenModel decodes a match length minus matchMinLen (0..271).
type lenModel struct {
	choice, choice2 prob
	low             [1 << posBitsMax][1 << 3]prob
	mid             [1 << posBitsMax][1 << 3]prob
	high            [1 << 8]prob
}

func (l *lenModel) reset() {
	l.choice, l.choice2 = probInit, probInit
	for i := range l.low {
		for j := range l.low[i] {
			l.low[i][j], l.mid[i][j] = probInit, probInit
		}
	}
	for i := range l.high {
		l.high[i] = probInit
	}
}

// model is the adaptive state of an LZMA decoder: probabilities, the state
// machine and the last four match distances.
type model struct {
	lc, lp, pb uint
	state      uint32
	rep        [4]uint32

	isMatch    [numStates << posBitsMax]prob
	isRep      [numStates]prob
	isRepG0    [numStates]prob
	isRepG1    [numStates]prob
	isRepG2    [numStates]prob
	isRep0Long [numStates << posBitsMax]prob
	posSlot    [lenToPosState][1 << 6]prob
	posSpecial [1 + fullDistances - endPosModel]prob
	align      [1 << alignBits]prob
	matchLen   lenModel
	repLen     lenModel
	literal    [literalCoders << 4]prob // lc+lp <= 4
}

func (m *model) reset() {
	m.state = 0
	m.rep = [4]uint32{}
	fill := func(p []prob) {
		for i := range p {
			p[i] = probInit
		}
	}
	fill(m.isMatch[:])
	fill(m.isRep[:])
	fill(m.isRepG0[:])
	fill(m.isRepG1[:])
	fill(m.isRepG2[:])
	fill(m.isRep0Long[:])
	for i := range m.posSlot {
		fill(m.posSlot[i][:])
	}
	fill(m.posSpecial[:])
	fill(m.align[:])
	m.matchLen.reset()
	m.repLen.reset()
	fill(m.literal[:literalCoders<<(m.lc+m.lp)])
}

// rangeDecoder reads the packed bytes of one chunk. The slice it reads has
// inputPad zero bytes after the packed bytes: one symbol consumes at most
// about 50 input bytes, and the decoder checks pos against the packed length
// before every symbol, so the hot loop never needs a check of its own per
// byte and never indexes outside the slice.
type rangeDecoder struct {
	rng, code uint32
	pos       int
}

const inputPad = 256

// init reads the five initial bytes (the first is always zero).
func (r *rangeDecoder) init(in []byte) bool {
	if len(in) < 5 || in[0] != 0 {
		return false
	}
	r.rng = 0xFFFFFFFF
	r.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	r.pos = 5
	return r.code != r.rng
}

func (r *rangeDecoder) normalize(in []byte) {
	if r.rng < topValue {
		r.rng <<= 8
		r.code = r.code<<8 | uint32(in[r.pos])
		r.pos++
	}
}

// bit decodes one bit with the adaptive probability *p. Like every
// decoding step it normalizes first; finish does the last normalization.
func (r *rangeDecoder) bit(in []byte, p *prob) uint32 {
	if r.rng < topValue {
		r.rng <<= 8
		r.code = r.code<<8 | uint32(in[r.pos])
		r.pos++
	}
	bound := (r.rng >> probBits) * uint32(*p)
	mask := uint32(int64(uint64(r.code)-uint64(bound)) >> 63) // see literal
	r.rng = bound&mask | (r.rng-bound)&^mask
	r.code -= bound &^ mask
	v := int32(*p)
	v -= (v + int32(mask&0xFFFFF81F)) >> moveBits
	*p = prob(v)
	return mask + 1
}

// tree decodes a bits-wide symbol MSB first; probs has 1<<bits entries.
func (r *rangeDecoder) tree(in []byte, probs []prob, bits uint) uint32 {
	m := uint32(1)
	for range bits {
		m = m<<1 | r.bit(in, &probs[m&(1<<bits-1)])
	}
	return m - 1<<bits
}

// reverseTree decodes a bits-wide symbol LSB first.
func (r *rangeDecoder) reverseTree(in []byte, probs []prob, bits uint) uint32 {
	m, sym := uint32(1), uint32(0)
	for i := range bits {
		b := r.bit(in, &probs[m])
		m = m<<1 | b
		sym |= b << i
	}
	return sym
}

func (r *rangeDecoder) direct(in []byte, bits uint) uint32 {
	var res uint32
	for range bits {
		r.normalize(in)
		r.rng >>= 1
		r.code -= r.rng
		t := 0 - (r.code >> 31)
		r.code += r.rng & t
		res = res<<1 + t + 1
	}
	return res
}

func (r *rangeDecoder) length(in []byte, l *lenModel, posState uint32) uint32 {
	if r.bit(in, &l.choice) == 0 {
		return r.tree(in, l.low[posState][:], 3)
	}
	if r.bit(in, &l.choice2) == 0 {
		return 8 + r.tree(in, l.mid[posState][:], 3)
	}
	return 16 + r.tree(in, l.high[:], 8)
}

func nextStateLiteral(s uint32) uint32 {
	switch {
	case s < 4:
		return 0
	case s < 10:
		return s - 3
	}
	return s - 6
}

func nextState(s, ifLiteral, otherwise uint32) uint32 {
	if s < 7 {
		return ifLiteral
	}
	return otherwise
}

// Literals are most of the decoding work: their bits are decoded here with
// the range coder in local variables and without a branch per bit (the bits
// are hard to predict, and a mispredicted branch costs more than computing
// both outcomes). mask is all ones for a 0 bit (code < bound); for the
// probability, bit 0 is p += (2048-p)>>5 and bit 1 is p -= p>>5, which are
// both p -= (p+c)>>5 (arithmetic shift) with c = -2017 or 0.

// literal decodes a literal's 8 bits.
func (r *rangeDecoder) literal(in []byte, probs *[literalCoders]prob) byte {
	rng, code, pos := r.rng, r.code, r.pos
	sym := uint32(1)
	for sym < 0x100 {
		if rng < topValue {
			rng <<= 8
			code = code<<8 | uint32(in[pos])
			pos++
		}
		p := &probs[sym&0xFF|0x100&sym] // == &probs[sym]: sym < 0x100 here
		bound := (rng >> probBits) * uint32(*p)
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
		rng = bound&mask | (rng-bound)&^mask
		code -= bound &^ mask
		v := int32(*p)
		v -= (v + int32(mask&0xFFFFF81F)) >> moveBits
		*p = prob(v)
		sym = sym<<1 + mask + 1
	}
	r.rng, r.code, r.pos = rng, code, pos
	return byte(sym)
}

// matchedLiteral decodes a literal after a match: while its bits agree
// with the byte at rep0 (match), they use that byte's bits as context.
func (r *rangeDecoder) matchedLiteral(in []byte, probs *[literalCoders]prob, match uint32) byte {
	rng, code, pos := r.rng, r.code, r.pos
	sym, offset := uint32(1), uint32(0x100)
	for sym < 0x100 {
		if rng < topValue {
			rng <<= 8
			code = code<<8 | uint32(in[pos])
			pos++
		}
		match <<= 1
		matchBit := match & offset
		p := &probs[(offset+matchBit+sym)%literalCoders] // the sum is < 0x300
		bound := (rng >> probBits) * uint32(*p)
		mask := uint32(int64(uint64(code)-uint64(bound)) >> 63)
		rng = bound&mask | (rng-bound)&^mask
		code -= bound &^ mask
		v := int32(*p)
		v -= (v + int32(mask&0xFFFFF81F)) >> moveBits
		*p = prob(v)
		sym = sym<<1 + mask + 1
		// A 1 bit keeps offset where the match byte had a 1, a 0 bit where
		// it had a 0; once they differ offset is 0 and the context is plain.
		offset = matchBit&^mask | offset&^matchBit&mask
	}
	r.rng, r.code, r.pos = rng, code, pos
	return byte(sym)
}
