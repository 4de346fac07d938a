package main

import (
	"bytes"
	"crypto/sha256"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/replay/identify/fdt"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// The arm64 sample: what `kexec -l Image --initrd --dtb --append` hands
// kexec_load on arm64 (kexec-tools' kexec-image-arm64 and
// arm64_load_other_segments): the Image, the initrd, the device tree with
// the command line and the initrd range, and the purgatory whose
// sha256_regions name the other three. Payloads are made up but
// self-consistent: the purgatory digest and the dtb's initrd range match.
const (
	nrKexecLoadArm64 = 104
	archAArch64      = 183 << 16 // KEXEC_ARCH_AARCH64

	arm64Image     = 0x40200000
	arm64Initrd    = 0x48000000
	arm64DTB       = 0x48200000
	arm64Purgatory = 0x48400000
	arm64Entry     = arm64Purgatory + 0x100 // purgatory_start
	arm64Cmdline   = "console=ttyAMA0 root=/dev/vda1 ro"
)

// fakeArm64Image is an arm64 Image header (EFI stub, 4K pages) and filler
// with the banner in it.
func fakeArm64Image(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	copy(b, "MZ\x40\xfa")
	le.PutUint32(b[4:], 0x14000000|0x40)
	le.PutUint64(b[8:], 0)
	le.PutUint64(b[16:], 0x1000000) // image_size
	le.PutUint64(b[24:], 0b1010)    // 4K pages, anywhere
	for i := 32; i < 56; i++ {
		b[i] = 0
	}
	copy(b[56:], "ARM\x64")
	le.PutUint32(b[60:], 0x40)
	copy(b[n/2:], "Linux version 6.12.48+deb13-arm64 (debian-kernel@lists.debian.org) (aarch64-linux-gnu-gcc-14) #1 SMP Debian 6.12.48-1 (2025-09-20)\n\x00")
	return b
}

func fakeDTB(cmdline string, initrdStart, initrdEnd uint64) []byte {
	t := &fdt.Tree{Root: &fdt.Node{
		Props: []fdt.Prop{
			{Name: "#address-cells", Value: fdt.Cell32(2)}, {Name: "#size-cells", Value: fdt.Cell32(2)},
			{Name: "model", Value: fdt.Str("linux,dummy-virt")}, {Name: "compatible", Value: fdt.Str("linux,dummy-virt")},
		},
		Children: []*fdt.Node{
			{Name: "chosen", Props: []fdt.Prop{
				{Name: "bootargs", Value: fdt.Str(cmdline)},
				{Name: "linux,initrd-start", Value: fdt.Cell64(initrdStart)},
				{Name: "linux,initrd-end", Value: fdt.Cell64(initrdEnd)},
				{Name: "kaslr-seed", Value: fdt.Cell64(0x5eed5eed5eed5eed)},
				{Name: "rng-seed", Value: bytes.Repeat([]byte{0xa5}, 64)},
				{Name: "stdout-path", Value: fdt.Str("/pl011@9000000")},
			}},
			{Name: "memory@40000000", Props: []fdt.Prop{
				{Name: "device_type", Value: fdt.Str("memory")},
				{Name: "reg", Value: append(fdt.Cell64(0x40000000), fdt.Cell64(0x40000000)...)},
			}},
		},
	}}
	return t.Encode()
}

// fakeArm64Purgatory holds purgatory.c's messages and a sha256_regions
// table naming segs, with sha256_digest (over each segment's bytes
// zero-filled to memsz) right after it.
func fakeArm64Purgatory(segs []synth.Segment) []byte {
	b := make([]byte, 0x3000)
	copy(b, "purgatory: entry=%lx\n\x00purgatory: dtb=%lx\n\x00I'm in purgatory\n\x00sha256 digests do not match :(\n\x00")
	const table = 0x2000
	h := sha256.New()
	for i, s := range segs {
		le.PutUint64(b[table+16*i:], s.Mem)
		le.PutUint64(b[table+16*i+8:], s.MemSz)
		h.Write(s.Data)
		h.Write(make([]byte, s.MemSz-uint64(len(s.Data))))
	}
	copy(b[table+16*16:], h.Sum(nil))
	// entry.S's .data: arm64_kernel_entry and arm64_dtb_addr.
	le.PutUint64(b[0x2800:], arm64Image)
	le.PutUint64(b[0x2808:], arm64DTB)
	return b
}

func arm64Segments(cmdline string) []synth.Segment {
	img := fakeArm64Image(48000)
	initrd := fakeInitrd()
	dtb := fakeDTB(cmdline, arm64Initrd, arm64Initrd+uint64(len(initrd)))
	segs := []synth.Segment{
		{Data: img, Mem: arm64Image, MemSz: 0x1000000},
		{Data: initrd, Mem: arm64Initrd, MemSz: uint64(len(initrd)+4095) &^ 4095},
		{Data: dtb, Mem: arm64DTB, MemSz: uint64(len(dtb)+4095) &^ 4095},
	}
	return append(segs, synth.Segment{Data: fakeArm64Purgatory(segs), Mem: arm64Purgatory, MemSz: 0x3000})
}

// kexecLoadArm64 records one arm64 kexec_load call.
func (g *gen) kexecLoadArm64(c caller, segs []synth.Segment, ret int64) {
	g.enter(c, nrKexecLoadArm64, [6]uint64{arm64Entry, uint64(len(segs)), 0xffff_c123_0000, archAArch64})
	g.raw(synth.SegmentTable(g.hdr(), segs).Marshal(le))
	for i, sg := range segs {
		g.payload(layout.KindSegment, uint16(i), layout.SrcSyscallEntry, sg.Data)
	}
	g.exit(nrKexecLoadArm64, ret)
}

// arm64KexecLoadCalls: kexec -l Image --initrd --dtb --append, then the same
// load with a dtb whose initrd range points one page past the initrd (a
// tampered device tree: the purgatory digest still matches, because
// kexec-tools hashed the tampered dtb, but the initrd check does not).
func arm64KexecLoadCalls(g *gen) {
	c := root
	c.argv = []string{"kexec", "-l", "/boot/vmlinuz-6.12.48+deb13-arm64", "--initrd=/boot/initrd.img-6.12.48+deb13-arm64",
		"--dtb=/sys/firmware/fdt", "--append=" + arm64Cmdline}
	g.kexecLoadArm64(c, arm64Segments(arm64Cmdline), 0)

	segs := arm64Segments(arm64Cmdline + " init=/tmp/x")
	initrd := segs[1]
	segs[2].Data = fakeDTB(arm64Cmdline+" init=/tmp/x", initrd.Mem+0x1000, initrd.Mem+0x1000+uint64(len(initrd.Data)))
	segs[3].Data = fakeArm64Purgatory(segs[:3])
	g.kexecLoadArm64(c, segs, 0)
}
