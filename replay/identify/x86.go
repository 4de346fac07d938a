package identify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Offsets in the x86 boot protocol's setup header (Documentation/arch/x86/boot.rst)
// and in struct boot_params (arch/x86/include/uapi/asm/bootparam.h).
const (
	offClMagic        = 0x020 // u16 0xA33F: old command-line protocol, kexec-tools sets it
	offClOffset       = 0x022 // u16 offset of the command line in the setup segment
	offExtRamdiskImg  = 0x0C0
	offExtRamdiskSize = 0x0C4
	offExtCmdLinePtr  = 0x0C8
	offSetupSects     = 0x1F1
	offBootFlag       = 0x1FE // 0xAA55
	offHeaderMagic    = 0x202 // "HdrS"
	offProtocol       = 0x206
	offKernelVersion  = 0x20E
	offLoaderType     = 0x210
	offRamdiskImage   = 0x218
	offRamdiskSize    = 0x21C
	offCmdLinePtr     = 0x228
	offPayloadOffset  = 0x248
	offPayloadLength  = 0x24C
	offInitSize       = 0x260
	setupHeaderEnd    = 0x270

	clMagic = 0xA33F
	// commandLineSize is COMMAND_LINE_SIZE on x86 (2048), which kexec-tools
	// truncates to; newer kernels accept more, so scanning goes a bit further.
	cmdlineScanMax = 64 << 10
)

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// hasSetupHeader reports whether head (at least setupHeaderEnd bytes) carries
// an x86 boot protocol setup header. Only "HdrS" is required: kexec-tools'
// boot_params segment does not keep the 0xAA55 boot flag (on Debian's
// kexec-tools 2.0.25 it reads 0x0055), while a bzImage has both.
func hasSetupHeader(head []byte) bool {
	return len(head) >= setupHeaderEnd && string(head[offHeaderMagic:offHeaderMagic+4]) == "HdrS"
}

func protocolString(v uint16) string { return fmt.Sprintf("%d.%02d", v>>8, v&0xFF) }

// kern16Size is the size of the real-mode part of a bzImage: the boot
// sector plus setup_sects sectors (0 means 4, for ancient kernels).
func kern16Size(head []byte) int64 {
	s := int64(head[offSetupSects])
	if s == 0 {
		s = 4
	}
	return (s + 1) * 512
}

// x86Setup handles payloads with a setup header: a whole bzImage (what
// kexec_file_load reads) or the boot_params segment kexec-tools builds.
func (id *identifier) x86Setup(head []byte) {
	kern16 := kern16Size(head)
	proto := le16(head, offProtocol)
	id.r.BootProtocol = protocolString(proto)
	loader := head[offLoaderType]
	version := id.setupVersionString(head)
	if loader == 0 && version != "" && id.size > kern16 && le16(head, offBootFlag) == 0xAA55 {
		id.bzImage(head, kern16, version)
		return
	}
	id.bootParams(head, kern16, proto)
}

// setupVersionString reads the NUL-terminated kernel_version string that the
// setup header points at (value + 0x200), if it is there and printable.
func (id *identifier) setupVersionString(head []byte) string {
	ptr := le16(head, offKernelVersion)
	if ptr == 0 {
		return ""
	}
	b := readAtMost(id.ra, id.size, int64(ptr)+0x200, 256)
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	} else {
		return ""
	}
	s := string(b)
	if len(s) < 3 || !isPrintable(s) || s[0] < '0' || s[0] > '9' {
		return ""
	}
	return s
}

func (id *identifier) bzImage(head []byte, kern16 int64, version string) {
	r := id.r
	r.Type = "bzimage"
	r.KernelVersion = firstField(version)
	payOff := int64(le32(head, offPayloadOffset))
	payLen := int64(le32(head, offPayloadLength))
	pm := id.size - kern16 // the protected-mode part, i.e. the kexec_load kernel segment
	compression := ""
	if proto := le16(head, offProtocol); proto >= 0x208 {
		if payOff+payLen > pm || payLen == 0 {
			id.warn(fmt.Sprintf("setup header payload_offset 0x%x + payload_length %d runs past the %d-byte protected-mode code", payOff, payLen, pm))
		} else {
			compression = detectCompression(readAtMost(id.ra, id.size, kern16+payOff, 8))
		}
	}
	detail := ""
	if compression != "" && !id.o.NoDecompress {
		banner, warn := id.bannerFrom(kern16+payOff, compression)
		if warn != "" {
			id.warn(warn)
		}
		if banner != "" {
			r.Banner = banner
			if v := bannerVersion(banner); v != r.KernelVersion {
				id.warn(fmt.Sprintf("setup header says kernel %q but the decompressed kernel's banner says %q", r.KernelVersion, v))
			}
			detail = ", banner verified"
		}
	}
	r.Compression = compression
	comp := compression
	if comp == "" {
		comp = "unknown compression"
	}
	r.Summary = fmt.Sprintf("x86 bzImage %s (boot protocol %s, %s payload%s)", r.KernelVersion, r.BootProtocol, comp, detail)
}

func (id *identifier) bootParams(head []byte, kern16 int64, proto uint16) {
	r := id.r
	r.Type = "boot-params"
	bp := &BootParams{
		Protocol:     protocolString(proto),
		LoaderType:   head[offLoaderType],
		RamdiskImage: uint64(le32(head, offRamdiskImage)) | uint64(le32(head, offExtRamdiskImg))<<32,
		RamdiskSize:  uint64(le32(head, offRamdiskSize)) | uint64(le32(head, offExtRamdiskSize))<<32,
		CmdLinePtr:   uint64(le32(head, offCmdLinePtr)) | uint64(le32(head, offExtCmdLinePtr))<<32,
	}
	r.BootParams = bp
	// kexec-tools (x86-linux-setup.c) records the command line's offset in
	// the old cl_magic/cl_offset fields; it puts it at max(kern16, 4096)
	// (kexec-bzImage64.c: kern16_size_needed), so fall back to that.
	cmdOff := kern16
	if cmdOff < 4096 {
		cmdOff = 4096
	}
	if le16(head, offClMagic) == clMagic {
		if o := int64(le16(head, offClOffset)); o >= setupHeaderEnd && o < id.size {
			cmdOff = o
		}
	}
	if cmdOff < id.size {
		b := readAtMost(id.ra, id.size, cmdOff, cmdlineScanMax)
		if i := bytes.IndexByte(b, 0); i >= 0 {
			r.Cmdline = string(b[:i])
			if !isPrintable(r.Cmdline) {
				id.warn(fmt.Sprintf("command line at offset 0x%x has non-printable bytes", cmdOff))
			}
		} else {
			id.warn(fmt.Sprintf("command line at offset 0x%x is not NUL-terminated", cmdOff))
			r.Cmdline = string(b)
		}
	} else {
		id.warn(fmt.Sprintf("boot_params segment (%d bytes) ends before the command line offset 0x%x", id.size, cmdOff))
	}
	loader := fmt.Sprintf("loader 0x%02x", bp.LoaderType)
	if bp.LoaderType>>4 == 0xD {
		loader = "loader kexec-tools"
	}
	r.Summary = fmt.Sprintf("x86 boot_params (protocol %s, %s, initrd %d bytes at 0x%x) cmdline %q",
		bp.Protocol, loader, bp.RamdiskSize, bp.RamdiskImage, r.Cmdline)
}

// kernelSegment recognises the protected-mode part of a bzImage (the
// kexec_load kernel segment). The setup header with payload_offset is not in
// this segment, so the compressed vmlinux is found by its magic near the
// start (payload_offset is a few hundred bytes in every kernel since 2.6.30)
// and confirmed by decompressing it and finding the "Linux version" banner.
func (id *identifier) kernelSegment() bool {
	const scan = 1 << 20
	head := readAtMost(id.ra, id.size, 0, scan)
	type cand struct {
		off  int64
		comp string
	}
	var cands []cand
	for i := 0; i+8 <= len(head) && len(cands) < 8; i++ {
		if !magicFirstByte[head[i]] {
			continue // most bytes start no magic: skip the seven comparisons
		}
		c := detectCompression(head[i:])
		// lzma's 3-byte magic and gzip's are weak: accept them only where a
		// kernel would have them (within the first 64 KiB).
		if c == "" || ((c == compLZMA || c == compGzip) && i > 64<<10) {
			continue
		}
		cands = append(cands, cand{int64(i), c})
	}
	if len(cands) == 0 {
		return false
	}
	// x86 startup_32 begins with cld; cli (FC FA): a cheap extra sign.
	startup := len(head) >= 2 && head[0] == 0xFC && head[1] == 0xFA
	if id.o.NoDecompress {
		if !startup {
			return false
		}
		c := cands[0]
		id.r.Type = "kernel"
		id.r.Compression = c.comp
		id.r.Summary = fmt.Sprintf("x86 kernel (protected-mode code, %s payload at 0x%x; not decompressed)", c.comp, c.off)
		return true
	}
	var warns []string
	for _, c := range cands {
		if c.comp == compLZO {
			continue
		}
		banner, warn := id.bannerFrom(c.off, c.comp)
		if banner != "" {
			id.r.Type = "kernel"
			id.r.Compression = c.comp
			id.r.Banner = banner
			id.r.KernelVersion = bannerVersion(banner)
			id.r.Summary = fmt.Sprintf("x86 kernel %s (protected-mode code, %s payload at 0x%x)", id.r.KernelVersion, c.comp, c.off)
			return true
		}
		if warn != "" {
			warns = append(warns, warn)
		}
	}
	if startup {
		c := cands[0]
		id.r.Type = "kernel"
		id.r.Compression = c.comp
		id.r.Summary = fmt.Sprintf("x86 kernel? (starts like startup_32, %s data at 0x%x, no banner found)", c.comp, c.off)
		for _, w := range warns {
			id.warn(w)
		}
		return true
	}
	return false
}

var bannerPrefix = []byte("Linux version ")

// bannerFrom decompresses the stream at off and returns the first
// "Linux version <digit>..." line, reading no further than needed.
func (id *identifier) bannerFrom(off int64, comp string) (banner, warning string) {
	deadline := id.deadline()
	in := newCountingReader(io.NewSectionReader(id.ra, off, id.size-off), deadline)
	d, err := openDecompressor(comp, in, id.o.MaxDecompressed)
	if err != nil {
		return "", fmt.Sprintf("%s stream at 0x%x: %v", comp, off, err)
	}
	defer d.close()
	b, err := scanBanner(newBounded(d, id.o.MaxDecompressed, deadline))
	if b != "" {
		return b, ""
	}
	if err != nil {
		return "", boundWarning(fmt.Sprintf("%s stream at 0x%x", comp, off), err, id.o)
	}
	return "", fmt.Sprintf("%s stream at 0x%x: decompressed completely, no \"Linux version\" banner", comp, off)
}

// scanBanner reads r until it finds the banner or ends.
func scanBanner(r io.Reader) (string, error) {
	// Small chunks: decoding stops at most one chunk past the banner.
	const chunk = 64 << 10
	const keep = 512 // a banner line is well under this
	buf := make([]byte, 0, chunk+keep)
	for {
		// Fill the chunk; keep the reader's own error (io.EOF is a clean
		// end, io.ErrUnexpectedEOF a truncated stream).
		var err error
		for idle := 0; len(buf) < cap(buf) && err == nil; {
			var n int
			n, err = r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if n > 0 {
				idle = 0
			} else if idle++; idle > 1000 {
				err = io.ErrNoProgress
			}
		}
		for start := 0; ; {
			i := bytes.Index(buf[start:], bannerPrefix)
			if i < 0 {
				break
			}
			i += start
			rest := buf[i:]
			end := bytes.IndexByte(rest, 0)
			if end < 0 && len(rest) < keep && err == nil {
				break // the line continues in the next chunk
			}
			if end < 0 || end > keep {
				end = min(len(rest), keep)
			}
			line := string(rest[:end])
			if len(line) > len(bannerPrefix) && line[len(bannerPrefix)] >= '0' && line[len(bannerPrefix)] <= '9' {
				return strings.TrimRight(line, "\n"), nil
			}
			start = i + 1
		}
		if err != nil {
			if err == io.EOF {
				return "", nil
			}
			return "", err
		}
		// Keep the tail so a banner split across chunks is still found.
		tail := buf[len(buf)-keep:]
		copy(buf[:keep], tail)
		buf = buf[:keep]
	}
}

// bannerVersion is the release in "Linux version <release> (...".
func bannerVersion(banner string) string {
	return firstField(strings.TrimPrefix(banner, string(bannerPrefix)))
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 || c > 0x7E) && c != '\t' && c != '\n' {
			return false
		}
	}
	return true
}
