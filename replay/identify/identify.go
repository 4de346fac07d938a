package identify

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/kexecrec/kexecrec/replay/identify/fdt"
)

// identifier carries one Identify call's input and the report it builds.
type identifier struct {
	ra   io.ReaderAt
	size int64
	o    Options
	r    *Report
	// spent is the decompressed output already produced for this payload.
	spent int64
	// end is when this Identify call stops decompressing: one deadline for
	// all the streams of a payload, so that many candidates cannot each
	// take the whole Timeout.
	end time.Time
}

func (id *identifier) warn(s string) { id.r.Warnings = append(id.r.Warnings, s) }

func identify(ra io.ReaderAt, size int64, o Options) *Report {
	id := &identifier{ra: ra, size: size, o: o.withDefaults(), r: &Report{}}
	id.end = time.Now().Add(id.o.Timeout)
	if ra == nil || size <= 0 {
		id.r.Type, id.r.Summary = "empty", "empty (0 bytes)"
		return id.r
	}
	head := readAtMost(ra, size, 0, 4096)
	if int64(len(head)) < min(size, 4096) {
		id.warn(fmt.Sprintf("payload claims %d bytes but only %d could be read", size, len(head)))
		id.size = int64(len(head))
		size = id.size
		if size == 0 {
			id.r.Type, id.r.Summary = "empty", "empty (nothing readable)"
			return id.r
		}
	}
	switch {
	case hasSetupHeader(head):
		id.x86Setup(head)
	case len(head) >= 28 && bytes.Equal(head[:2], []byte("MZ")) && bytes.Equal(head[4:8], []byte("zimg")):
		id.zboot(head)
	case isArm64Image(head):
		id.arm64(head)
	case len(head) >= 4 && binary.BigEndian.Uint32(head) == fdt.Magic:
		id.dtb()
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		id.elf(head)
	case bytes.HasPrefix(head, []byte("07070")) || detectCompression(head) != "":
		id.initramfs()
		if id.r.Type == "unknown" && detectCompression(head) != "" {
			id.retryAsCompressedArm64(head)
		}
	case id.purgatory():
	case id.setupData(head):
	case id.cmdline():
	case id.kernelSegment():
	default:
		id.unknown(head)
	}
	return id.r
}

func (id *identifier) deadline() time.Time { return id.end }

func versionSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " kernel " + v
}

func (id *identifier) elf(head []byte) {
	r := id.r
	if len(head) < 20 {
		r.Type, r.Summary = "unknown", "truncated ELF header"
		id.warn("ELF magic but only " + fmt.Sprint(len(head)) + " bytes")
		return
	}
	info := &ELFInfo{Class: elf.Class(head[elf.EI_CLASS]).String()}
	var bo binary.ByteOrder = binary.LittleEndian
	if elf.Data(head[elf.EI_DATA]) == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	typ := elf.Type(bo.Uint16(head[16:]))
	info.Type = typ.String()
	info.Machine = elf.Machine(bo.Uint16(head[18:])).String()
	r.ELF = info
	r.Type = "elf"
	what := "ELF"
	if typ == elf.ET_CORE {
		// kexec -p builds an ELF core header describing the crashed
		// kernel's memory for the capture kernel's /proc/vmcore.
		r.Type, what = "elfcorehdr", "ELF core header (elfcorehdr)"
	}
	if typ == elf.ET_EXEC || typ == elf.ET_DYN {
		// A vmlinux (kexec -l accepts one) carries its banner uncompressed.
		if b := id.rawBanner(); b != "" {
			r.Banner, r.KernelVersion = b, bannerVersion(b)
		}
	}
	r.Summary = fmt.Sprintf("%s %s %s %s%s", what, info.Class, info.Type, info.Machine, versionSuffix(r.KernelVersion))
}

// rawBanner looks for the banner in the payload bytes themselves (bounded
// like a decompression).
func (id *identifier) rawBanner() string {
	if id.o.NoDecompress {
		return ""
	}
	limit := min(id.size, id.o.MaxDecompressed)
	b, err := scanBanner(newBounded(io.NewSectionReader(id.ra, 0, limit), limit, id.deadline()))
	if err != nil {
		id.warn(boundWarning("banner scan", err, id.o))
	}
	return b
}

// purgatory recognises kexec-tools' purgatory by the messages its C code
// prints: the segment holds its SHF_ALLOC sections but no ELF header.
func (id *identifier) purgatory() bool {
	if id.size > 4<<20 {
		return false
	}
	b := readAtMost(id.ra, id.size, 0, int(id.size))
	if !bytes.Contains(b, []byte("I'm in purgatory")) && !bytes.Contains(b, []byte("sha256 digests do not match")) {
		return false
	}
	id.r.Type = "purgatory"
	id.r.Summary = fmt.Sprintf("kexec-tools purgatory (%d bytes, no ELF header; checks the sha256 of the other segments)", id.size)
	return true
}

// setupData recognises a struct setup_data (arch/x86/include/uapi/asm/bootparam.h):
// u64 next, u32 type, u32 len, then len bytes.
func (id *identifier) setupData(head []byte) bool {
	if len(head) < 16 {
		return false
	}
	typ := le32(head, 8)
	n := int64(le32(head, 12))
	names := map[uint32]string{1: "E820_EXT", 2: "DTB", 3: "PCI", 4: "EFI", 5: "APPLE_PROPERTIES",
		6: "JAILHOUSE", 7: "CC_BLOB", 8: "IMA", 9: "RNG_SEED", 1<<31 | 0: "INDIRECT"}
	name, ok := names[typ]
	if !ok || 16+n > id.size || id.size-(16+n) >= 4096 {
		return false
	}
	id.r.Type = "setup-data"
	id.r.Summary = fmt.Sprintf("x86 setup_data %s (%d bytes, next 0x%x)", name, n, binary.LittleEndian.Uint64(head))
	return true
}

// cmdline is a kexec_file_load command line: printable text and one NUL at the end.
func (id *identifier) cmdline() bool {
	if id.size > cmdlineScanMax {
		return false
	}
	b := readAtMost(id.ra, id.size, 0, int(id.size))
	if len(b) == 0 || b[len(b)-1] != 0 || !isPrintable(string(b[:len(b)-1])) {
		return false
	}
	id.r.Type = "cmdline"
	id.r.Cmdline = string(b[:len(b)-1])
	id.r.Summary = fmt.Sprintf("command line %q", id.r.Cmdline)
	return true
}

func (id *identifier) unknown(head []byte) {
	id.r.Type = "unknown"
	if len(bytes.Trim(head, "\x00")) == 0 && id.allZero() {
		id.r.Summary = fmt.Sprintf("all zero (%d bytes)", id.size)
		return
	}
	// Uncompressed kernel code (a vmlinux PT_LOAD segment as kexec -l
	// loads an ELF kernel) still says what it is.
	if id.size >= 64<<10 {
		if b := id.rawBanner(); b != "" {
			id.r.Type = "kernel"
			id.r.Banner, id.r.KernelVersion = b, bannerVersion(b)
			id.r.Summary = fmt.Sprintf("kernel code (uncompressed, %d bytes) %s", id.size, id.r.KernelVersion)
			return
		}
	}
	n := min(len(head), 8)
	id.r.Summary = fmt.Sprintf("unrecognised data (%d bytes, starts % x)", id.size, head[:n])
}

func (id *identifier) allZero() bool {
	r := io.NewSectionReader(id.ra, 0, min(id.size, id.o.MaxDecompressed))
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if len(bytes.Trim(buf[:n], "\x00")) != 0 {
			return false
		}
		if err != nil {
			return true
		}
	}
}
