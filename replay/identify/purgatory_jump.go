package identify

import (
	"encoding/binary"
	"fmt"

	"github.com/kexecrec/kexecrec/replay/identify/fdt"
)

// Where kexec-tools' arm64 purgatory jumps. purgatory/arch/arm64/entry.S
// ends with
//
//	ldr x17, arm64_kernel_entry
//	ldr x0, arm64_dtb_addr
//	br  x17
//
// and keeps the two as adjacent .quad in its .data, which
// arm64_load_other_segments() sets to the Image's base and the dtb's base.
// The purgatory does not hash itself, so these two are not covered by the
// digest: they are checked here instead. Found by content: an aligned u64
// equal to the mem of a segment holding a device tree (outside the
// sha256_regions table), the u64 before it being the kernel entry.

func arm64Jump(pur []byte, table int, segs []Segment, self int) *Arm64Jump {
	var best *Arm64Jump
	for di, d := range segs {
		if di == self || !startsWith(d, fdtMagic[:]) {
			continue
		}
		for off := 8; off+8 <= len(pur); off += 8 {
			if off >= table && off < table+regionArraySize || binary.LittleEndian.Uint64(pur[off:]) != d.Mem {
				continue
			}
			j := &Arm64Jump{KernelEntry: binary.LittleEndian.Uint64(pur[off-8:]), DTBAddr: d.Mem,
				DTBSegment: d.Index, KernelSegment: -1, Offset: off - 8}
			for _, k := range segs {
				if k.Mem == j.KernelEntry && startsWithImage(k) {
					j.KernelSegment, j.IntoImage = k.Index, true
				}
			}
			if best == nil || (j.IntoImage && !best.IntoImage) {
				best = j
			}
		}
	}
	return best
}

var fdtMagic = binary.BigEndian.AppendUint32(nil, fdt.Magic)

func startsWith(s Segment, magic []byte) bool {
	if s.Data == nil || s.Size < int64(len(magic)) {
		return false
	}
	b := make([]byte, len(magic))
	n, _ := s.Data.ReadAt(b, 0)
	return n == len(b) && string(b) == string(magic)
}

func startsWithImage(s Segment) bool {
	if s.Data == nil || s.Size < arm64HeaderSize {
		return false
	}
	b := make([]byte, arm64HeaderSize)
	n, _ := s.Data.ReadAt(b, 0)
	return n == len(b) && isArm64Image(b)
}

// text is the jump in a few words; loud when it does not go to the Image.
func (j *Arm64Jump) text() string {
	if j.IntoImage {
		return fmt.Sprintf("jumps to the Image at 0x%x (segment %d) with the dtb at 0x%x (segment %d)", j.KernelEntry, j.KernelSegment, j.DTBAddr, j.DTBSegment)
	}
	return fmt.Sprintf("PURGATORY JUMPS ELSEWHERE: arm64_kernel_entry 0x%x is not the start of an Image segment (dtb at 0x%x, segment %d)", j.KernelEntry, j.DTBAddr, j.DTBSegment)
}
