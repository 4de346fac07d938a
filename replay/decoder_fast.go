package replay

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The recorder's own records (process, payload) are JSON and come with
// every call; encoding/json's reflection was most of the decoder's time on
// large captures. fastProcess and fastPayload parse the plain form the
// recorder writes (known keys, integers, booleans, strings without escapes,
// arrays of those) and give up (ok=false) on anything else, which then goes
// to json.Unmarshal: the result is the same either way (decoder_fast_test.go).

func fastProcess(b []byte, intern func([]byte) string) (p layout.Process, ok bool) {
	s := scanner{b: b, intern: intern}
	ok = s.object(func(key []byte) bool {
		var ok bool
		switch string(key) { // compared, not converted: no allocation
		case "call_id":
			p.CallID, ok = s.uint(64)
		case "pid":
			var v uint64
			v, ok = s.uint(32)
			p.PID = uint32(v)
		case "exe":
			p.Exe, ok = s.str()
		case "cgroup_path":
			p.CgroupPath, ok = s.str()
		case "container_id":
			p.ContainerID, ok = s.str()
		case "argv":
			p.Argv, ok = s.strs()
		case "raced":
			p.Raced, ok = s.strs()
		case "missing":
			p.Missing, ok = s.strs()
		}
		return ok // false for an unknown key too
	})
	return p, ok && s.end()
}

// decodeProcess parses a process record; intern (may be nil) makes its strings.
func decodeProcess(b []byte, intern func([]byte) string) (layout.Process, error) {
	return decodeJSON(b, intern, fastProcess)
}

// decodeJSON parses b with fast or, when fast gives up, encoding/json.
func decodeJSON[T any](b []byte, intern func([]byte) string, fast func([]byte, func([]byte) string) (T, bool)) (T, error) {
	if v, ok := fast(b, intern); ok {
		return v, nil
	}
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

func fastPayload(b []byte, intern func([]byte) string) (p layout.Payload, ok bool) {
	s := scanner{b: b, intern: intern}
	var seen uint16 // a repeated key goes to encoding/json, which keeps the last
	ok = s.object(func(key []byte) bool {
		var ok bool
		var v uint64
		var bit uint16
		switch string(key) { // compared, not converted: no allocation
		case "call_id":
			p.CallID, ok = s.uint(64)
			bit = 1 << 0
		case "kind":
			v, ok = s.uint(16)
			p.Kind, bit = uint16(v), 1<<1
		case "index":
			v, ok = s.uint(16)
			p.Index, bit = uint16(v), 1<<2
		case "source":
			v, ok = s.uint(16)
			p.Source, bit = uint16(v), 1<<3
		case "total":
			p.Total, ok = s.uint(64)
			bit = 1 << 4
		case "captured":
			p.Captured, ok = s.uint(64)
			bit = 1 << 5
		case "sha256":
			p.SHA256, ok = s.str()
			bit = 1 << 6
		case "blob":
			p.Blob, ok = s.str()
			bit = 1 << 11
		case "missing":
			p.Missing, ok = s.ranges()
			bit = 1 << 7
		case "complete":
			p.Complete, ok = s.bool()
			bit = 1 << 8
		case "reasons":
			p.Reasons, ok = s.strs()
			bit = 1 << 9
		case "read_errors":
			v, ok = s.uint(32)
			p.ReadErrors, bit = uint32(v), 1<<10
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	return p, ok && s.end()
}

// decodePayload parses a payload record; intern (may be nil) makes its strings.
func decodePayload(b []byte, intern func([]byte) string) (layout.Payload, error) {
	return decodeJSON(b, intern, fastPayload)
}

type scanner struct {
	b   []byte
	off int
	// intern, when set, makes strings (and may return one already made).
	intern func([]byte) string
}

func (s *scanner) ws() {
	for s.off < len(s.b) {
		switch s.b[s.off] {
		case ' ', '\t', '\n', '\r':
			s.off++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	s.ws()
	if s.off < len(s.b) && s.b[s.off] == c {
		s.off++
		return true
	}
	return false
}

func (s *scanner) end() bool {
	s.ws()
	return s.off == len(s.b)
}

// object reads one object, handing each key to field, which reads its value
// (false: an unknown key or a value it cannot read, and so the object).
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		key, ok := s.raw() // keys are compared, never kept: not interned
		if !ok || !s.byte(':') || !field(key) {
			return false
		}
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

// raw reads a string without escapes or control characters, valid UTF-8,
// and returns its bytes (a slice of the input).
func (s *scanner) raw() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.off
	ascii := true
	for s.off < len(s.b) {
		c := s.b[s.off]
		switch {
		case c == '"':
			v := s.b[start:s.off]
			s.off++
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.off++
	}
	return nil, false
}

// str reads a string (see raw) as a Go string.
func (s *scanner) str() (string, bool) {
	v, ok := s.raw()
	if !ok {
		return "", false
	}
	if s.intern != nil {
		return s.intern(v), true
	}
	return string(v), true
}

func (s *scanner) strs() ([]string, bool) {
	if !s.byte('[') {
		return nil, false
	}
	out := []string{}
	if s.byte(']') {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.byte(',') {
			continue
		}
		return out, s.byte(']')
	}
}

// uint reads a JSON integer that fits in bits (no sign, fraction or exponent).
func (s *scanner) uint(bits int) (uint64, bool) {
	s.ws()
	start := s.off
	var v uint64
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		d := uint64(s.b[s.off] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false // overflows uint64
		}
		v = v*10 + d
		s.off++
	}
	n := s.off - start
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.off < len(s.b) && (s.b[s.off] == '.' || s.b[s.off] == 'e' || s.b[s.off] == 'E') {
		return 0, false
	}
	if bits < 64 && v >= 1<<bits {
		return 0, false
	}
	return v, true
}

// bool reads true or false.
func (s *scanner) bool() (v, ok bool) {
	s.ws()
	switch {
	case len(s.b)-s.off >= 4 && string(s.b[s.off:s.off+4]) == "true":
		s.off += 4
		return true, true
	case len(s.b)-s.off >= 5 && string(s.b[s.off:s.off+5]) == "false":
		s.off += 5
		return false, true
	}
	return false, false
}

// ranges reads [{"off":N,"len":N},...] (keys in either order, each once).
func (s *scanner) ranges() ([]layout.Range, bool) {
	if !s.byte('[') {
		return nil, false
	}
	out := []layout.Range{}
	if s.byte(']') {
		return out, true
	}
	for {
		var r layout.Range
		var seen [2]bool
		ok := s.object(func(key []byte) bool {
			var ok bool
			var i int
			switch string(key) {
			case "off":
				r.Off, ok = s.uint(64)
			case "len":
				r.Len, ok = s.uint(64)
				i = 1
			}
			if !ok || seen[i] {
				return false
			}
			seen[i] = true
			return true
		})
		if !ok {
			return nil, false
		}
		out = append(out, r)
		if s.byte(',') {
			continue
		}
		return out, s.byte(']')
	}
}
