// Package identify says what payload bytes are: the x86 kernel part of a
// bzImage, boot_params with its command line, kexec-tools' purgatory, an
// initramfs (with a listing of its files), ELF, setup_data, arm64 Image, EFI
// zboot, or unknown. It reads through io.ReaderAt with hard caps on every
// size and on decompression, never executes or writes anything.
//
// THIS FILE IS THE API CONTRACT replay/ and the commands compile against.
package identify

import (
	"io"
	"time"
)

// Options bound the work done on one payload. Zero values pick the defaults.
type Options struct {
	MaxDecompressed int64 // bytes of decompressed output followed at most (default 256 MiB)
	MaxFiles        int   // cpio entries listed at most (default 100000)
	NoDecompress    bool  // identify by magic only (fast path for tables)
	// Timeout bounds the wall time of each decompression (default 15 s: the
	// xz decoder needs about 0.4 s of CPU to reach the banner of a Debian
	// kernel, more on a loaded machine). A decompression that runs out of
	// time is reported in Warnings.
	Timeout time.Duration
}

// Report describes one payload.
type Report struct {
	// Type is one of: "kernel" (x86 protected-mode kernel from a bzImage,
	// i.e. a kexec_load kernel segment), "bzimage" (a whole bzImage file, as
	// kexec_file_load reads it), "boot-params", "purgatory", "initramfs",
	// "elf", "elfcorehdr", "setup-data", "arm64-image" (an arm64 Image,
	// plain or compressed whole: Compression says), "efi-zboot", "dtb" (a
	// flattened device tree; Cmdline is its /chosen bootargs), "cmdline",
	// "empty", "unknown".
	Type          string      `json:"type"`
	Summary       string      `json:"summary"` // one line for tables
	KernelVersion string      `json:"kernel_version,omitempty"`
	Banner        string      `json:"banner,omitempty"` // the full "Linux version ..." line found in the kernel
	Cmdline       string      `json:"cmdline,omitempty"`
	Compression   string      `json:"compression,omitempty"` // of the payload or its inner kernel
	BootProtocol  string      `json:"boot_protocol,omitempty"`
	Initramfs     *Initramfs  `json:"initramfs,omitempty"`
	ELF           *ELFInfo    `json:"elf,omitempty"`
	BootParams    *BootParams `json:"boot_params,omitempty"`
	Arm64Image    *Arm64Image `json:"arm64_image,omitempty"` // the Image header (of the inner Image for zboot / compressed)
	Zboot         *Zboot      `json:"zboot,omitempty"`
	DeviceTree    *DeviceTree `json:"device_tree,omitempty"`
	Warnings      []string    `json:"warnings,omitempty"` // bombs, lying lengths, caps reached
}

// Initramfs lists the archives of an initramfs (several may be concatenated).
type Initramfs struct {
	Archives []Archive `json:"archives"`
}

// Archive is one cpio archive inside an initramfs.
type Archive struct {
	Offset      int64      `json:"offset"`
	Compression string     `json:"compression"` // "none", "gzip", "zstd", "xz", ...
	Files       []CpioFile `json:"files"`
	Truncated   bool       `json:"truncated,omitempty"`
}

// CpioFile is one entry of a cpio archive.
type CpioFile struct {
	Path   string `json:"path"`
	Mode   uint32 `json:"mode"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // regular files only
	Link   string `json:"link,omitempty"`   // symlink target
}

// ELFInfo is what an ELF header says.
type ELFInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Machine string `json:"machine"`
}

// BootParams is the x86 boot_params setup header as kexec-tools filled it.
type BootParams struct {
	Protocol     string `json:"protocol"`
	LoaderType   uint8  `json:"loader_type"`
	RamdiskImage uint64 `json:"ramdisk_image"`
	RamdiskSize  uint64 `json:"ramdisk_size"`
	CmdLinePtr   uint64 `json:"cmd_line_ptr"`
}

// Arm64Image is the 64-byte arm64 Image header
// (Documentation/arch/arm64/booting.rst).
type Arm64Image struct {
	Code0      uint32 `json:"code0"`
	Code1      uint32 `json:"code1"`
	TextOffset uint64 `json:"text_offset"`
	ImageSize  uint64 `json:"image_size"` // 0: a kernel older than 3.17 (text_offset 0x80000 assumed)
	Flags      uint64 `json:"flags"`
	Endianness string `json:"endianness"` // flags bit 0: "little", "big"
	PageSize   string `json:"page_size"`  // flags bits 1-2: "unspecified", "4K", "16K", "64K"
	// Placement is flags bit 3: "near-dram-base" (2 MiB aligned, as close
	// to the base of DRAM as possible) or "anywhere" (2 MiB aligned anywhere
	// in the 48-bit physical address space).
	Placement string `json:"placement"`
	// EFIStub: code0 starts with "MZ", so a PE/COFF header follows (at
	// PEOffset) and UEFI firmware can start this Image directly.
	EFIStub  bool   `json:"efi_stub"`
	PEOffset uint32 `json:"pe_offset,omitempty"`
}

// Zboot is an EFI zboot header (drivers/firmware/efi/libstub/zboot-header.S):
// a small EFI program that decompresses the Image it carries.
type Zboot struct {
	PayloadOffset uint32 `json:"payload_offset"`
	PayloadSize   uint32 `json:"payload_size"`
	CompType      string `json:"comp_type"` // as the header names it: "gzip", "zstd22", "xzkern", ...
}

// DeviceTree is what a flattened device tree (dtb) segment tells the next
// kernel; its bootargs are Report.Cmdline.
type DeviceTree struct {
	Size        uint32   `json:"size"`    // totalsize from the header
	Version     uint32   `json:"version"` // 17
	Nodes       int      `json:"nodes"`
	Model       string   `json:"model,omitempty"`
	Compatible  []string `json:"compatible,omitempty"`
	HasBootargs bool     `json:"has_bootargs"`
	// InitrdStart/InitrdEnd are /chosen linux,initrd-start and
	// linux,initrd-end, the physical range the kernel takes its initramfs
	// from (both present or both absent).
	InitrdStart *uint64 `json:"initrd_start,omitempty"`
	InitrdEnd   *uint64 `json:"initrd_end,omitempty"`
	KASLRSeed   bool    `json:"kaslr_seed"`
	RNGSeed     bool    `json:"rng_seed"`
	// ElfCoreHdr and UsableMemory are /chosen linux,elfcorehdr and
	// linux,usable-memory-range: kexec -p writes them into a crash kernel's
	// dtb (where the ELF core header is, what memory it may use).
	ElfCoreHdr   []MemRange `json:"elfcorehdr,omitempty"`
	UsableMemory []MemRange `json:"usable_memory,omitempty"`
	// ZeroSeeds names the seeds present but all zero ("kaslr-seed",
	// "rng-seed"): a zero kaslr-seed means the next kernel runs without KASLR.
	ZeroSeeds []string `json:"zero_seeds,omitempty"`
}

// MemRange is a physical memory range from a device tree.
type MemRange struct {
	Start uint64 `json:"start"`
	Size  uint64 `json:"size"`
}

// Identify inspects one payload.
func Identify(ra io.ReaderAt, size int64, o Options) *Report { return identify(ra, size, o) }

// Segment is one kexec_load segment as captured, for the purgatory check.
type Segment struct {
	Index int
	Mem   uint64 // physical load address
	MemSz uint64
	Data  io.ReaderAt // captured bytes (nil when not captured)
	Size  int64       // captured length
	// BufSz is bufsz as the loader passed it, when known (0 = unknown).
	// Size < BufSz means the capture is short, so a digest mismatch may
	// only mean missing bytes; the verdict says so (Incomplete).
	BufSz uint64
}

// InitrdVerdict compares a dtb's linux,initrd-start/end with the segments of
// the same kexec_load call: kexec-tools points them at the initrd segment
// exactly (start = mem, end - start = bufsz).
type InitrdVerdict struct {
	DTBSegment int    `json:"dtb_segment"`
	Start      uint64 `json:"start"`
	End        uint64 `json:"end"`
	Segment    int    `json:"segment"` // the segment holding Start, -1 if none
	Match      bool   `json:"match"`   // the range is exactly that segment's bytes
	Detail     string `json:"detail"`
}

// CheckInitrd checks the initrd range of the dtb in segment dtbSeg against
// segs (see InitrdVerdict). ok is false when the dtb names no initrd range.
func CheckInitrd(segs []Segment, dtbSeg int, dt *DeviceTree) (v InitrdVerdict, ok bool) {
	return checkInitrd(segs, dtbSeg, dt)
}

// PurgatoryVerdict is the result of recomputing kexec-tools' purgatory digest.
type PurgatoryVerdict struct {
	Found            bool   `json:"found"` // a purgatory with sha256_regions/sha256_digest was located
	Match            bool   `json:"match"` // recomputed digest == stored digest
	Stored           string `json:"stored,omitempty"`
	Computed         string `json:"computed,omitempty"`
	Segment          int    `json:"segment"` // index of the purgatory segment
	Regions          int    `json:"regions"` // non-empty regions checked
	EntryInPurgatory bool   `json:"entry_in_purgatory"`
	Detail           string `json:"detail"` // one line: why not found, or what mismatched
	// Incomplete: some hashed segment was captured short of its bufsz (or a
	// region is outside every segment), so Match=false is not proof of tampering.
	Incomplete bool `json:"incomplete,omitempty"`
	// Arm64Jump: where an arm64 purgatory goes after the check (not covered
	// by the digest); nil when not located (x86, or no dtb segment).
	Arm64Jump *Arm64Jump `json:"arm64_jump,omitempty"`
}

// Arm64Jump is kexec-tools' arm64 purgatory's arm64_kernel_entry and
// arm64_dtb_addr, as found in the purgatory segment.
type Arm64Jump struct {
	KernelEntry   uint64 `json:"kernel_entry"`
	DTBAddr       uint64 `json:"dtb_addr"`
	KernelSegment int    `json:"kernel_segment"` // the Image segment starting at KernelEntry, -1 if none
	DTBSegment    int    `json:"dtb_segment"`
	IntoImage     bool   `json:"into_image"` // KernelEntry is the start of a segment holding an arm64 Image
	Offset        int    `json:"offset"`     // of arm64_kernel_entry in the purgatory segment
}

// CheckPurgatory finds the purgatory among segs, reads its sha256_regions and
// sha256_digest, recomputes the digest over the captured segments and checks
// that entry falls inside the purgatory segment.
func CheckPurgatory(segs []Segment, entry uint64) PurgatoryVerdict {
	return checkPurgatory(segs, entry)
}
