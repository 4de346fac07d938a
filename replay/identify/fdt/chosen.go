package fdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Lookup returns the node at an absolute path ("/", "/chosen"), matching
// each component by its full name or by its name without the unit address
// ("memory" finds "memory@40000000"), or nil.
func (t *Tree) Lookup(path string) *Node {
	if t == nil || t.Root == nil || !strings.HasPrefix(path, "/") {
		return nil
	}
	n := t.Root
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		if c == "" {
			continue
		}
		var next *Node
		for _, ch := range n.Children {
			if ch.Name == c || (!strings.Contains(c, "@") && strings.HasPrefix(ch.Name, c+"@")) {
				next = ch
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// Prop returns the value of the property name and whether it is there.
func (n *Node) Prop(name string) ([]byte, bool) {
	if n == nil {
		return nil, false
	}
	for _, p := range n.Props {
		if p.Name == name {
			return p.Value, true
		}
	}
	return nil, false
}

// String is a string property without its terminating NUL (the raw bytes:
// they come from the blob and may be anything, so render them quoted).
func (n *Node) String(name string) (string, bool) {
	v, ok := n.Prop(name)
	if !ok {
		return "", false
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v), true
}

// Strings is a string-list property ("compatible").
func (n *Node) Strings(name string) []string {
	v, ok := n.Prop(name)
	if !ok {
		return nil
	}
	v = bytes.TrimSuffix(v, []byte{0})
	if len(v) == 0 {
		return nil
	}
	var out []string
	for _, s := range bytes.Split(v, []byte{0}) {
		out = append(out, string(s))
	}
	return out
}

// Uint is a property of one 32- or 64-bit cell (as linux,initrd-start may
// be either: the kernel's early_init_dt_check_for_initrd reads the property
// length to decide).
func (n *Node) Uint(name string) (uint64, bool, error) {
	v, ok := n.Prop(name)
	if !ok {
		return 0, false, nil
	}
	switch len(v) {
	case 4:
		return uint64(binary.BigEndian.Uint32(v)), true, nil
	case 8:
		return binary.BigEndian.Uint64(v), true, nil
	}
	return 0, true, fmt.Errorf("property %s is %d bytes, not a 32- or 64-bit cell", name, len(v))
}

// Bootargs is /chosen bootargs: the kernel command line.
func (t *Tree) Bootargs() (string, bool) { return t.Lookup("/chosen").String("bootargs") }

// Model is the root's model property ("linux,dummy-virt" under qemu).
func (t *Tree) Model() string { s, _ := t.Lookup("/").String("model"); return s }

// Compatible is the root's compatible list.
func (t *Tree) Compatible() []string { return t.Lookup("/").Strings("compatible") }

// InitrdRange is /chosen linux,initrd-start and linux,initrd-end: the
// physical range [start, end) the kernel will take its initramfs from. ok is
// false when neither is there; a half-present or malformed pair is an error.
func (t *Tree) InitrdRange() (start, end uint64, ok bool, err error) {
	c := t.Lookup("/chosen")
	start, hasStart, err := c.Uint("linux,initrd-start")
	if err != nil {
		return 0, 0, true, err
	}
	end, hasEnd, err := c.Uint("linux,initrd-end")
	if err != nil {
		return 0, 0, true, err
	}
	switch {
	case !hasStart && !hasEnd:
		return 0, 0, false, nil
	case hasStart != hasEnd:
		return start, end, true, fmt.Errorf("/chosen has only one of linux,initrd-start and linux,initrd-end")
	case end < start:
		return start, end, true, fmt.Errorf("linux,initrd-end %#x is below linux,initrd-start %#x", end, start)
	}
	return start, end, true, nil
}

// Seeds says whether /chosen carries kaslr-seed (8 bytes the kernel
// randomises its base with) and rng-seed (entropy credited to the RNG),
// and whether each is all zero (no randomness: a zero kaslr-seed means no
// KASLR in the next kernel).
type Seeds struct {
	KASLR, RNG         bool
	KASLRZero, RNGZero bool
	RNGSize            int
}

// Seeds reads the seeds of /chosen.
func (t *Tree) Seeds() Seeds {
	c := t.Lookup("/chosen")
	var s Seeds
	if v, ok := c.Prop("kaslr-seed"); ok {
		s.KASLR, s.KASLRZero = true, allZero(v)
	}
	if v, ok := c.Prop("rng-seed"); ok {
		s.RNG, s.RNGZero, s.RNGSize = true, allZero(v), len(v)
	}
	return s
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Range is one (address, size) pair of a reg-like property.
type Range struct {
	Address, Size uint64
}

// maxCells bounds #address-cells and #size-cells: 2 (64 bits) is what every
// arm64 tree uses; more cannot be held in a uint64.
const maxCells = 2

// Ranges decodes a reg-like property of node path (linux,elfcorehdr and
// linux,usable-memory-range in /chosen of a crash kernel's dtb) with the
// root's #address-cells and #size-cells (defaults 2 and 1, as the
// specification says). ok is false when the property is absent.
func (t *Tree) Ranges(path, name string) (rs []Range, ok bool, err error) {
	v, ok := t.Lookup(path).Prop(name)
	if !ok {
		return nil, false, nil
	}
	root := t.Lookup("/")
	ac, sc := uint64(2), uint64(1)
	if c, has, err := root.Uint("#address-cells"); has && err == nil {
		ac = c
	}
	if c, has, err := root.Uint("#size-cells"); has && err == nil {
		sc = c
	}
	if ac == 0 || ac > maxCells || sc > maxCells {
		return nil, true, fmt.Errorf("#address-cells %d / #size-cells %d: only 1 or 2 are read", ac, sc)
	}
	entry := int(4 * (ac + sc))
	if len(v) == 0 || len(v)%entry != 0 {
		return nil, true, fmt.Errorf("property %s is %d bytes, not a multiple of %d", name, len(v), entry)
	}
	cells := func(b []byte, n uint64) uint64 {
		var x uint64
		for i := range n {
			x = x<<32 | uint64(binary.BigEndian.Uint32(b[4*i:]))
		}
		return x
	}
	for off := 0; off < len(v); off += entry {
		rs = append(rs, Range{cells(v[off:], ac), cells(v[off+int(4*ac):], sc)})
	}
	return rs, true, nil
}
