package identify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// arm64HeaderSize is the arm64 Image header: code0, code1, text_offset,
// image_size, flags, three reserved u64, magic "ARM\x64" at 56, and the PE
// header offset at 60 (Documentation/arch/arm64/booting.rst).
const arm64HeaderSize = 64

func isArm64Image(head []byte) bool {
	return len(head) >= arm64HeaderSize && bytes.Equal(head[56:60], []byte("ARM\x64"))
}

// parseArm64Header decodes the header of head (isArm64Image(head) holds).
func parseArm64Header(head []byte) *Arm64Image {
	le64 := binary.LittleEndian.Uint64
	h := &Arm64Image{
		Code0: le32(head, 0), Code1: le32(head, 4),
		TextOffset: le64(head[8:]), ImageSize: le64(head[16:]), Flags: le64(head[24:]),
		Endianness: "little", Placement: "near-dram-base",
	}
	if h.Flags&1 != 0 {
		h.Endianness = "big"
	}
	h.PageSize = [4]string{"unspecified", "4K", "16K", "64K"}[h.Flags>>1&3]
	if h.Flags&8 != 0 {
		h.Placement = "anywhere"
	}
	if head[0] == 'M' && head[1] == 'Z' {
		h.EFIStub, h.PEOffset = true, le32(head, 60)
	}
	return h
}

// Describe is the header in a few words for summaries.
func (h *Arm64Image) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "text_offset 0x%x, image_size %d, %s-endian, %s pages", h.TextOffset, h.ImageSize, h.Endianness, h.PageSize)
	if h.EFIStub {
		b.WriteString(", EFI stub")
	}
	return b.String()
}

// arm64 is an uncompressed arm64 Image: what kexec-tools loads as the
// kernel segment on arm64 (it decompresses a gzip or zboot file first) and
// what Debian ships as vmlinuz (an EFI-signed plain Image). The banner is in
// it, found by the same bounded scan as a vmlinux.
func (id *identifier) arm64(head []byte) {
	r := id.r
	r.Type = "arm64-image"
	r.Arm64Image = parseArm64Header(head)
	if b := id.rawBanner(); b != "" {
		r.Banner, r.KernelVersion = b, bannerVersion(b)
	}
	id.checkImageSize(r.Arm64Image, id.size)
	r.Summary = fmt.Sprintf("arm64 Image (%s)%s", r.Arm64Image.Describe(), versionSuffix(r.KernelVersion))
}

// checkImageSize warns about an Image bigger than the image_size it
// declares: image_size covers the file and the BSS, so the bytes loaded can
// never be more.
func (id *identifier) checkImageSize(h *Arm64Image, have int64) {
	if h.ImageSize != 0 && uint64(have) > h.ImageSize {
		id.warn(fmt.Sprintf("arm64 Image of %d bytes is larger than its header's image_size %d", have, h.ImageSize))
	}
}

// retryAsCompressedArm64 looks again at compressed data that is not an
// initramfs: a compressed arm64 Image (Ubuntu's vmlinuz is a gzip of the
// Image; kexec-tools' kexec-image-arm64 accepts it) decompresses to an Image
// header. Tried only after the initramfs walk failed, so that an initramfs
// (the common case) pays nothing for it; the walk's warnings are replaced
// when it is an Image.
func (id *identifier) retryAsCompressedArm64(head []byte) {
	walked := id.r
	id.r = &Report{}
	if !id.compressedArm64(head) {
		id.r = walked
	}
}

// compressedArm64 reports whether the stream at 0 decompresses to an arm64
// Image and, if so, fills the report.
func (id *identifier) compressedArm64(head []byte) bool {
	if id.o.NoDecompress {
		return false
	}
	comp := detectCompression(head)
	if comp == compLZO {
		return false
	}
	hdr, banner, warn := id.imageFrom(0, comp, true)
	if hdr == nil {
		return false
	}
	r := id.r
	r.Type, r.Compression, r.Arm64Image = "arm64-image", comp, hdr
	if warn != "" {
		id.warn(warn)
	}
	if banner != "" {
		r.Banner, r.KernelVersion = banner, bannerVersion(banner)
	}
	r.Summary = fmt.Sprintf("arm64 Image, %s-compressed (%s)%s", comp, hdr.Describe(), versionSuffix(r.KernelVersion))
	return true
}

// zboot is an EFI zboot image (drivers/firmware/efi/libstub/zboot-header.S):
// "MZ", "zimg" at 4, payload offset at 8 and size at 12, the compression
// name as a C string at 24. The payload is the compressed Image; it is
// decompressed only as far as the banner.
func (id *identifier) zboot(head []byte) {
	r := id.r
	r.Type = "efi-zboot"
	off, n := le32(head, 8), le32(head, 12)
	name := head[24:min(len(head), 24+32)]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	z := &Zboot{PayloadOffset: off, PayloadSize: n, CompType: string(name)}
	if !isPrintable(z.CompType) {
		id.warn(fmt.Sprintf("zboot compression name %q is not printable", z.CompType))
	}
	r.Zboot = z
	r.Compression = z.CompType
	inner := ""
	if int64(off)+int64(n) > id.size || off < 28 {
		id.warn(fmt.Sprintf("zboot payload offset 0x%x + size %d runs past the %d-byte image", off, n, id.size))
	} else if comp := detectCompression(readAtMost(id.ra, id.size, int64(off), 8)); comp != "" && !id.o.NoDecompress {
		r.Compression = comp
		hdr, banner, warn := id.imageFrom(int64(off), comp, false)
		if warn != "" {
			id.warn(warn)
		}
		if banner != "" {
			r.Banner, r.KernelVersion = banner, bannerVersion(banner)
		}
		if hdr != nil {
			r.Arm64Image = hdr
			inner = ", arm64 Image " + hdr.Describe()
		}
	}
	r.Summary = fmt.Sprintf("EFI zboot image (%s payload, %d bytes%s)%s", r.Compression, n, inner, versionSuffix(r.KernelVersion))
}

// imageFrom decompresses the stream at off: the arm64 Image header at its
// start (nil if it is not one) and the banner. With needImage it stops after
// the first 64 bytes unless they are an Image header.
func (id *identifier) imageFrom(off int64, comp string, needImage bool) (hdr *Arm64Image, banner, warning string) {
	deadline := id.deadline()
	in := newCountingReader(io.NewSectionReader(id.ra, off, id.size-off), deadline)
	what := fmt.Sprintf("%s stream at 0x%x", comp, off)
	d, err := openDecompressor(comp, in, id.o.MaxDecompressed)
	if err != nil {
		if needImage {
			return nil, "", ""
		}
		return nil, "", fmt.Sprintf("%s: %v", what, err)
	}
	defer d.close()
	bounded := newBounded(d, id.o.MaxDecompressed, deadline)
	first := make([]byte, arm64HeaderSize)
	k, err := io.ReadFull(bounded, first)
	first = first[:k]
	if isArm64Image(first) {
		hdr = parseArm64Header(first)
	} else if needImage {
		return nil, "", ""
	}
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return hdr, "", boundWarning(what, err, id.o)
	}
	banner, err = scanBanner(io.MultiReader(bytes.NewReader(first), bounded))
	if banner != "" {
		return hdr, banner, ""
	}
	if err != nil {
		return hdr, "", boundWarning(what, err, id.o)
	}
	return hdr, "", what + ": decompressed completely, no \"Linux version\" banner"
}
