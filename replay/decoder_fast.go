package replay

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Process records come with every call; encoding/json's reflection was half
// the decoder's time on large captures. fastProcess parses the plain form the
// recorder writes (known keys, integers, strings without escapes, string
// arrays) and gives up (ok=false) on anything else, which then goes to
// json.Unmarshal: the result is the same either way (decoder_fast_test.go).
func fastProcess(b []byte, intern func([]byte) string) (p layout.Process, ok bool) {
	s := scanner{b: b, intern: intern}
	if !s.byte('{') {
		return p, false
	}
	if s.byte('}') {
		return p, s.end()
	}
	for {
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return p, false
		}
		switch key {
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
		default:
			return p, false
		}
		if !ok {
			return p, false
		}
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return p, s.end()
		}
		return p, false
	}
}

// decodeProcess parses a process record; intern (may be nil) makes its strings.
func decodeProcess(b []byte, intern func([]byte) string) (layout.Process, error) {
	if p, ok := fastProcess(b, intern); ok {
		return p, nil
	}
	var p layout.Process
	err := json.Unmarshal(b, &p)
	return p, err
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

// str reads a string without escapes or control characters, valid UTF-8.
func (s *scanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
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
				return "", false
			}
			if s.intern != nil {
				return s.intern(v), true
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.off++
	}
	return "", false
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
		if !s.byte('{') {
			return nil, false
		}
		var r layout.Range
		var seen [2]bool
		for {
			key, ok := s.str()
			if !ok || !s.byte(':') {
				return nil, false
			}
			var i int
			switch key {
			case "off":
				r.Off, ok = s.uint(64)
			case "len":
				r.Len, ok = s.uint(64)
				i = 1
			default:
				return nil, false
			}
			if !ok || seen[i] {
				return nil, false
			}
			seen[i] = true
			if s.byte(',') {
				continue
			}
			if s.byte('}') {
				break
			}
			return nil, false
		}
		out = append(out, r)
		if s.byte(',') {
			continue
		}
		return out, s.byte(']')
	}
}

// fastPayload parses the payload records the recorder writes, like
// fastProcess: the plain form or nothing (ok=false, then encoding/json).
// Payload records are one per segment, so on large captures their parsing
// was the summarize command's biggest cost.
func fastPayload(b []byte, intern func([]byte) string) (p layout.Payload, ok bool) {
	s := scanner{b: b, intern: intern}
	if !s.byte('{') {
		return p, false
	}
	if s.byte('}') {
		return p, s.end()
	}
	var seen uint16 // a repeated key goes to encoding/json, which keeps the last
	for {
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return p, false
		}
		var v uint64
		var bit uint16
		switch key {
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
		default:
			return p, false
		}
		if !ok || seen&bit != 0 {
			return p, false
		}
		seen |= bit
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return p, s.end()
		}
		return p, false
	}
}

// decodePayload parses a payload record; intern (may be nil) makes its strings.
func decodePayload(b []byte, intern func([]byte) string) (layout.Payload, error) {
	if p, ok := fastPayload(b, intern); ok {
		return p, nil
	}
	var p layout.Payload
	err := json.Unmarshal(b, &p)
	return p, err
}
