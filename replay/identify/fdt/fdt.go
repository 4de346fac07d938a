// Package fdt reads a flattened device tree blob (the "dtb" a boot loader
// hands an arm64 kernel; Devicetree Specification v0.4, chapter 5), bounded
// like archive/tar: every size is checked against the blob before anything is
// allocated, malformed input is a *FormatError naming the offset, and no
// input makes it panic or loop.
//
// It answers what a kexec forensic reader asks of a dtb segment: the command
// line (/chosen bootargs), the initrd range kexec-tools wrote
// (/chosen linux,initrd-start and linux,initrd-end), whether the seeds the
// kernel uses for KASLR and its RNG are there, and what machine it describes.
package fdt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits. MaxSize is far above any real dtb (the arm64 kernel refuses one
// over 2 MiB, MAX_FDT_SIZE); MaxDepth is libfdt's FDT_MAX_DEPTH.
const (
	Magic      = 0xd00dfeed
	HeaderSize = 40
	MaxSize    = 16 << 20
	MaxDepth   = 64
	MaxNodes   = 1 << 16
	MaxProps   = 1 << 18
)

// Structure block tokens.
const (
	tokBeginNode = 1
	tokEndNode   = 2
	tokProp      = 3
	tokNop       = 4
	tokEnd       = 9
)

// ErrNotFDT: the blob does not start with the dtb magic.
var ErrNotFDT = errors.New("fdt: not a flattened device tree (no 0xd00dfeed magic)")

// FormatError is a malformed blob: what is wrong and at which byte offset.
type FormatError struct {
	Off int
	Msg string
}

func (e *FormatError) Error() string { return fmt.Sprintf("fdt: offset %d: %s", e.Off, e.Msg) }

func formatErr(off int, format string, a ...any) error {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, a...)}
}

// Header is the dtb header (all fields big-endian in the blob).
type Header struct {
	TotalSize       uint32
	OffDtStruct     uint32
	OffDtStrings    uint32
	OffMemRsvmap    uint32
	Version         uint32
	LastCompVersion uint32
	BootCPUIDPhys   uint32
	SizeDtStrings   uint32
	SizeDtStruct    uint32
}

// Reservation is one /memreserve/ entry.
type Reservation struct {
	Address, Size uint64
}

// Tree is a parsed dtb. Property values are slices of the blob passed to
// Parse: the caller must not change it while the Tree is in use.
type Tree struct {
	Header   Header
	Reserved []Reservation
	Root     *Node
	Nodes    int // nodes in the tree, the root included
}

// Node is one device tree node.
type Node struct {
	Name     string // "" for the root, "chosen", "memory@40000000", ...
	Props    []Prop
	Children []*Node
}

// Prop is one property.
type Prop struct {
	Name  string
	Value []byte
}

// Parse reads the dtb at the start of b. Bytes after the header's totalsize
// (kexec-tools pads its dtb segment) are ignored.
func Parse(b []byte) (*Tree, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	t := &Tree{Header: h}
	b = b[:h.TotalSize]
	if t.Reserved, err = parseRsvmap(b, h); err != nil {
		return nil, err
	}
	p := &structParser{blob: b, strings: b[h.OffDtStrings : h.OffDtStrings+h.SizeDtStrings]}
	start, end := int(h.OffDtStruct), int(h.OffDtStruct+h.SizeDtStruct)
	p.off, p.end = start, end
	if t.Root, err = p.tree(); err != nil {
		return nil, err
	}
	t.Nodes = p.nodes
	return t, nil
}

func parseHeader(b []byte) (Header, error) {
	if len(b) < 4 || binary.BigEndian.Uint32(b) != Magic {
		return Header{}, ErrNotFDT
	}
	if len(b) < HeaderSize {
		return Header{}, formatErr(len(b), "blob of %d bytes is shorter than the %d-byte header", len(b), HeaderSize)
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(b[4*i:]) }
	h := Header{TotalSize: u(1), OffDtStruct: u(2), OffDtStrings: u(3), OffMemRsvmap: u(4),
		Version: u(5), LastCompVersion: u(6), BootCPUIDPhys: u(7), SizeDtStrings: u(8), SizeDtStruct: u(9)}
	switch {
	case h.TotalSize < HeaderSize || h.TotalSize > MaxSize:
		return h, formatErr(4, "totalsize %d outside [%d, %d]", h.TotalSize, HeaderSize, MaxSize)
	case uint64(h.TotalSize) > uint64(len(b)):
		return h, formatErr(4, "totalsize %d runs past the %d bytes given", h.TotalSize, len(b))
	case h.Version < 17 || h.LastCompVersion > 17:
		// Version 17 (1.x of the spec) is what dtc and every kernel since
		// 2.6.x write; it is the first to record size_dt_struct.
		return h, formatErr(20, "version %d (last compatible %d): only version 17 is read", h.Version, h.LastCompVersion)
	}
	inside := func(name string, off, size uint32, at int) error {
		if uint64(off)+uint64(size) > uint64(h.TotalSize) || off < HeaderSize {
			return formatErr(at, "%s block at %d size %d is outside the %d-byte blob", name, off, size, h.TotalSize)
		}
		return nil
	}
	if err := inside("structure", h.OffDtStruct, h.SizeDtStruct, 8); err != nil {
		return h, err
	}
	if err := inside("strings", h.OffDtStrings, h.SizeDtStrings, 12); err != nil {
		return h, err
	}
	if err := inside("memory reservation", h.OffMemRsvmap, 16, 16); err != nil {
		return h, err
	}
	if h.OffDtStruct%4 != 0 || h.OffMemRsvmap%8 != 0 {
		return h, formatErr(8, "misaligned blocks (structure at %d, reservations at %d)", h.OffDtStruct, h.OffMemRsvmap)
	}
	return h, nil
}

// parseRsvmap reads /memreserve/ entries up to the {0, 0} terminator.
func parseRsvmap(b []byte, h Header) ([]Reservation, error) {
	var rs []Reservation
	for off := int(h.OffMemRsvmap); ; off += 16 {
		if off+16 > len(b) {
			return nil, formatErr(off, "memory reservation map has no terminating entry")
		}
		r := Reservation{binary.BigEndian.Uint64(b[off:]), binary.BigEndian.Uint64(b[off+8:])}
		if r.Address == 0 && r.Size == 0 {
			return rs, nil
		}
		rs = append(rs, r)
	}
}

type structParser struct {
	blob, strings []byte
	off, end      int
	nodes, props  int
}

func (p *structParser) u32() (uint32, error) {
	if p.off+4 > p.end {
		return 0, formatErr(p.off, "structure block ends inside a token")
	}
	v := binary.BigEndian.Uint32(p.blob[p.off:])
	p.off += 4
	return v, nil
}

// nextToken skips NOPs.
func (p *structParser) nextToken() (uint32, error) {
	for {
		tok, err := p.u32()
		if err != nil || tok != tokNop {
			return tok, err
		}
	}
}

// tree reads the root node and the FDT_END after it.
func (p *structParser) tree() (*Node, error) {
	at := p.off
	tok, err := p.nextToken()
	if err != nil {
		return nil, err
	}
	if tok != tokBeginNode {
		return nil, formatErr(at, "structure block starts with token %#x, not FDT_BEGIN_NODE", tok)
	}
	root, err := p.node(1)
	if err != nil {
		return nil, err
	}
	at = p.off
	if tok, err = p.nextToken(); err != nil {
		return nil, err
	}
	if tok != tokEnd {
		return nil, formatErr(at, "token %#x after the root node, not FDT_END", tok)
	}
	return root, nil
}

// node reads a node whose FDT_BEGIN_NODE was just consumed, children
// included (recursion at most MaxDepth deep).
func (p *structParser) node(depth int) (*Node, error) {
	if depth > MaxDepth {
		return nil, formatErr(p.off, "nodes nested deeper than %d", MaxDepth)
	}
	if p.nodes++; p.nodes > MaxNodes {
		return nil, formatErr(p.off, "more than %d nodes", MaxNodes)
	}
	name, err := p.cstring(p.blob[:p.end], p.off, "node name")
	if err != nil {
		return nil, err
	}
	p.off = align4(p.off + len(name) + 1)
	n := &Node{Name: name}
	for {
		at := p.off
		tok, err := p.nextToken()
		if err != nil {
			return nil, err
		}
		switch tok {
		case tokProp:
			if len(n.Children) > 0 {
				return nil, formatErr(at, "property of node %q after its first child", name)
			}
			prop, err := p.prop(at)
			if err != nil {
				return nil, err
			}
			n.Props = append(n.Props, prop)
		case tokBeginNode:
			child, err := p.node(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, child)
		case tokEndNode:
			return n, nil
		default:
			return nil, formatErr(at, "unexpected token %#x inside node %q", tok, name)
		}
	}
}

func (p *structParser) prop(at int) (Prop, error) {
	if p.props++; p.props > MaxProps {
		return Prop{}, formatErr(at, "more than %d properties", MaxProps)
	}
	n, err := p.u32()
	if err != nil {
		return Prop{}, err
	}
	nameOff, err := p.u32()
	if err != nil {
		return Prop{}, err
	}
	if uint64(p.off)+uint64(n) > uint64(p.end) {
		return Prop{}, formatErr(at, "property of %d bytes runs past the structure block", n)
	}
	if uint64(nameOff) >= uint64(len(p.strings)) {
		return Prop{}, formatErr(at, "property name offset %d outside the %d-byte strings block", nameOff, len(p.strings))
	}
	name, err := p.cstring(p.strings, int(nameOff), "property name")
	if err != nil {
		return Prop{}, err
	}
	v := p.blob[p.off : p.off+int(n) : p.off+int(n)]
	p.off = align4(p.off + int(n))
	return Prop{Name: name, Value: v}, nil
}

// cstring is the NUL-terminated string at b[off:]; names are short in real
// trees, so one longer than 4 KiB is malformed rather than read.
func (p *structParser) cstring(b []byte, off int, what string) (string, error) {
	const maxName = 4096
	lim := min(len(b), off+maxName)
	for i := off; i < lim; i++ {
		if b[i] == 0 {
			return string(b[off:i]), nil
		}
	}
	return "", formatErr(off, "%s is not NUL-terminated within %d bytes", what, maxName)
}

func align4(n int) int { return (n + 3) &^ 3 }
