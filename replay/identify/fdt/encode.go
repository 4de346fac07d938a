package fdt

import (
	"encoding/binary"
	"slices"
)

// Encode writes t as a version 17 dtb (its Header is ignored except
// BootCPUIDPhys): what tests and sample generators use to build device
// trees. Property names are stored once each in the strings block.
func (t *Tree) Encode() []byte {
	var strs []byte
	nameOff := map[string]uint32{}
	var st []byte
	be32 := func(v uint32) { st = binary.BigEndian.AppendUint32(st, v) }
	pad := func() {
		for len(st)%4 != 0 {
			st = append(st, 0)
		}
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		be32(tokBeginNode)
		st = append(append(st, n.Name...), 0)
		pad()
		for _, p := range n.Props {
			off, ok := nameOff[p.Name]
			if !ok {
				off = uint32(len(strs))
				nameOff[p.Name] = off
				strs = append(append(strs, p.Name...), 0)
			}
			be32(tokProp)
			be32(uint32(len(p.Value)))
			be32(off)
			st = append(st, p.Value...)
			pad()
		}
		for _, c := range n.Children {
			walk(c)
		}
		be32(tokEndNode)
	}
	root := t.Root
	if root == nil {
		root = &Node{}
	}
	walk(root)
	be32(tokEnd)

	rsv := make([]byte, 0, 16*(len(t.Reserved)+1))
	for _, r := range t.Reserved {
		rsv = binary.BigEndian.AppendUint64(rsv, r.Address)
		rsv = binary.BigEndian.AppendUint64(rsv, r.Size)
	}
	rsv = append(rsv, make([]byte, 16)...)

	offRsv := uint32(HeaderSize + 8 - HeaderSize%8) // 48: 8-aligned
	offStruct := offRsv + uint32(len(rsv))
	offStrings := offStruct + uint32(len(st))
	total := offStrings + uint32(len(strs))
	out := make([]byte, offRsv, total)
	for i, v := range []uint32{Magic, total, offStruct, offStrings, offRsv, 17, 16,
		t.Header.BootCPUIDPhys, uint32(len(strs)), uint32(len(st))} {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return slices.Concat(out, rsv, st, strs)
}

// Cell32 and Cell64 are big-endian property values.
func Cell32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Cell64 is a 64-bit (two-cell) big-endian property value.
func Cell64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Str is a string property value (NUL-terminated).
func Str(s string) []byte { return append([]byte(s), 0) }
