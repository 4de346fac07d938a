package replay

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Process records come with every call; encoding/json's reflection was half
// the decoder's time on large captures. fastProcess parses the plain form the
// recorder writes (known keys, integers, strings without escapes, string
// arrays) and gives up (ok=false) on anything else, which then goes to
// json.Unmarshal: the result is the same either way (decoder_fast_test.go).
func fastProcess(b []byte) (p layout.Process, ok bool) {
	s := scanner{b: b}
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

func decodeProcess(b []byte) (layout.Process, error) {
	if p, ok := fastProcess(b); ok {
		return p, nil
	}
	var p layout.Process
	err := json.Unmarshal(b, &p)
	return p, err
}

type scanner struct {
	b   []byte
	off int
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
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		s.off++
	}
	d := s.b[start:s.off]
	if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
		return 0, false
	}
	if s.off < len(s.b) && (s.b[s.off] == '.' || s.b[s.off] == 'e' || s.b[s.off] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d), 10, bits)
	return v, err == nil
}
