package layout

import "encoding/binary"

// RecLoaded (raw, type Loaded): one segment of the image a call staged,
// read back at the syscall's exit (bpf/readback.h).
const RecLoaded uint16 = 9

// The read-back payloads: a segment's bytes [0, bufsz) as the kernel holds
// them, and its [bufsz, memsz), which the kernel zero-fills. Index is the
// segment number in the kernel's image; the source is SrcKernelPages.
const (
	KindLoaded     = 5
	KindLoadedTail = 6
)

// SrcKernelPages: the staged image's pages, read back at the syscall's exit.
const SrcKernelPages = 3

// Loaded statuses (enum kr_loaded_status): LSRead, or why the segment was
// not read back.
const (
	LSRead      = 0
	LSMode      = 1 // the run cannot read back (the header's notes say why)
	LSNoSymbols = 2 // kexec_image / kexec_crash_image / page_offset_base unknown
	LSNoImage   = 3 // the kernel's image pointer was empty or unreadable at the exit
	LSReplaced  = 4 // the image's segments are not the call's: another load replaced it
	LSBusy      = 5 // another readback was running
	LSTooLarge  = 6 // more pages than the readback's page table holds
	LSEntryList = 7 // the kimage entry list did not lead to the segment's pages
)

// Image types (KR_IMAGE_*).
const (
	ImageNormal = 0
	ImageCrash  = 1
)

// Tail flags (KR_TF_*): BPF checks the tail's whole pages for zeros and
// sends only the partial page after bufsz, unless a page is not zero.
const (
	TFNonZero = 0x1 // a page not zero: the tail payload is all of [bufsz, memsz)
	TFCut     = 0x2 // the time limit stopped the check after ZeroChecked bytes
)

// LoadedSize is sizeof(struct kr_loaded).
const LoadedSize = HeaderSize + 2 + 2 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4 // 80

// Loaded is struct kr_loaded.
type Loaded struct {
	Header
	Index, NrSegments uint16
	Status            uint32
	ImageType         uint32
	BufSz, Mem, MemSz uint64
	// ZeroChecked: bytes from bufsz rounded up to a page that BPF found
	// zero (not sent); TailFlags: TF*.
	ZeroChecked uint64
	TailFlags   uint32
}

// ParseLoaded decodes a RecLoaded record.
func ParseLoaded(b []byte, bo binary.ByteOrder) (Loaded, error) {
	h, d, err := body(b, bo, RecLoaded, LoadedSize)
	if err != nil {
		return Loaded{Header: h}, err
	}
	l := Loaded{Header: h}
	l.Index, l.NrSegments = d.u16(), d.u16()
	l.Status, l.ImageType = d.u32(), d.u32()
	d.u32() // pad
	l.BufSz, l.Mem, l.MemSz = d.u64(), d.u64(), d.u64()
	l.ZeroChecked, l.TailFlags = d.u64(), d.u32()
	return l, nil
}

// Marshal encodes x as a RecLoaded record.
func (x Loaded) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecLoaded, LoadedSize)
	e.u16(x.Index)
	e.u16(x.NrSegments)
	e.u32(x.Status)
	e.u32(x.ImageType)
	e.u32(0)
	e.u64(x.BufSz)
	e.u64(x.Mem)
	e.u64(x.MemSz)
	e.u64(x.ZeroChecked)
	e.u32(x.TailFlags)
	e.u32(0)
	return e.b
}
