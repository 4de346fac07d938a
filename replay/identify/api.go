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
	// "elf", "elfcorehdr", "setup-data", "arm64-image", "efi-zboot",
	// "cmdline", "empty", "unknown".
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
}

// CheckPurgatory finds the purgatory among segs, reads its sha256_regions and
// sha256_digest, recomputes the digest over the captured segments and checks
// that entry falls inside the purgatory segment.
func CheckPurgatory(segs []Segment, entry uint64) PurgatoryVerdict {
	return checkPurgatory(segs, entry)
}
