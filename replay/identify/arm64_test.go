package identify

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/replay/identify/fdt"
)

// fakeArm64Image is an arm64 Image header (EFI stub, 4K pages, anywhere)
// followed by filler with the banner in it.
func fakeArm64Image() []byte {
	b := make([]byte, 200000)
	copy(b, "MZ\x40\xfa")                                 // code0: "MZ" + a branch, as Debian's
	binary.LittleEndian.PutUint32(b[4:], 0x14000000|0x40) // code1: b stext
	binary.LittleEndian.PutUint64(b[16:], 0x2000000)      // image_size 32 MiB
	binary.LittleEndian.PutUint64(b[24:], 0b1010)         // 4K pages, anywhere
	copy(b[56:], "ARM\x64")
	binary.LittleEndian.PutUint32(b[60:], 0x40)
	copy(b[150000:], testBanner[:len(testBanner)-1]+"\x00")
	return b
}

func checkArm64Header(t *testing.T, h *Arm64Image) {
	t.Helper()
	if h == nil {
		t.Fatal("no arm64 header")
	}
	want := Arm64Image{Code0: 0xfa405a4d, Code1: 0x14000040, ImageSize: 0x2000000, Flags: 0b1010,
		Endianness: "little", PageSize: "4K", Placement: "anywhere", EFIStub: true, PEOffset: 0x40}
	if *h != want {
		t.Errorf("header %+v, want %+v", *h, want)
	}
}

func TestArm64Image(t *testing.T) {
	img := fakeArm64Image()
	r := Identify(bytes.NewReader(img), int64(len(img)), Options{})
	if r.Type != "arm64-image" || r.KernelVersion != "6.9.0-test" || r.Compression != "" {
		t.Fatalf("%+v", r)
	}
	checkArm64Header(t, r.Arm64Image)
	if !strings.Contains(r.Summary, "image_size 33554432, little-endian, 4K pages, EFI stub") {
		t.Errorf("summary %q", r.Summary)
	}

	// Big-endian, 64K pages, near the base of DRAM, no EFI stub; a file
	// larger than its image_size is suspicious.
	be := bytes.Clone(img[:1000])
	copy(be, "\x00\x00\x00\x14")
	binary.LittleEndian.PutUint64(be[16:], 100)
	binary.LittleEndian.PutUint64(be[24:], 0b0111)
	r = Identify(bytes.NewReader(be), int64(len(be)), Options{})
	h := r.Arm64Image
	if h == nil || h.Endianness != "big" || h.PageSize != "64K" || h.Placement != "near-dram-base" || h.EFIStub {
		t.Errorf("flags: %+v", h)
	}
	if !hasWarning(r, "larger than its header's image_size") {
		t.Errorf("no image_size warning: %v", r.Warnings)
	}
}

// A gzip of the Image (Ubuntu's arm64 vmlinuz; kexec-tools accepts it).
func TestCompressedArm64Image(t *testing.T) {
	z := gz(t, fakeArm64Image())
	r := Identify(bytes.NewReader(z), int64(len(z)), Options{})
	if r.Type != "arm64-image" || r.Compression != "gzip" || r.KernelVersion != "6.9.0-test" || r.Initramfs != nil {
		t.Fatalf("%+v", r)
	}
	checkArm64Header(t, r.Arm64Image)
	// Not decompressing: it is compressed data, nothing more is claimed.
	fast := Identify(bytes.NewReader(z), int64(len(z)), Options{NoDecompress: true})
	if fast.Type == "arm64-image" {
		t.Errorf("NoDecompress identified the inside: %+v", fast)
	}
	// A gzip of anything else is not an Image.
	other := gz(t, []byte(strings.Repeat("not a kernel ", 100)))
	if r := Identify(bytes.NewReader(other), int64(len(other)), Options{}); r.Type == "arm64-image" {
		t.Errorf("gzip text identified as an Image: %+v", r)
	}
}

// zbootImage wraps payload like zboot-header.S: "MZ", "zimg", payload
// offset and size, the compression name at 24, the payload at 0x100.
func zbootImage(payload []byte, comp string) []byte {
	b := make([]byte, 0x100)
	copy(b, "MZ\x00\x00zimg")
	binary.LittleEndian.PutUint32(b[8:], 0x100)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(payload)))
	copy(b[24:], comp+"\x00")
	return append(b, payload...)
}

func TestZboot(t *testing.T) {
	img := fakeArm64Image()
	for _, c := range []struct {
		name, comp string
		payload    []byte
	}{
		{"gzip", "gzip", gz(t, img)},
		{"zstd22", "zstd", compressWith(t, img, "zstd", "-19", "-c")},
		{"xzkern", "xz", compressWith(t, img, "xz", "--check=crc32", "-c")},
	} {
		z := zbootImage(c.payload, c.name)
		r := Identify(bytes.NewReader(z), int64(len(z)), Options{})
		if r.Type != "efi-zboot" || r.Compression != c.comp || r.KernelVersion != "6.9.0-test" {
			t.Errorf("%s: %+v", c.name, r)
			continue
		}
		if r.Zboot == nil || *r.Zboot != (Zboot{PayloadOffset: 0x100, PayloadSize: uint32(len(c.payload)), CompType: c.name}) {
			t.Errorf("%s: zboot %+v", c.name, r.Zboot)
		}
		checkArm64Header(t, r.Arm64Image)
	}
	// A payload size that runs past the file is a warning, not a read.
	z := zbootImage(gz(t, img), "gzip")
	binary.LittleEndian.PutUint32(z[12:], 1<<30)
	if r := Identify(bytes.NewReader(z), int64(len(z)), Options{}); r.Type != "efi-zboot" || !hasWarning(r, "runs past") {
		t.Errorf("lying size: %+v", r)
	}
}

func virtTree(bootargs string) *fdt.Tree {
	return &fdt.Tree{Root: &fdt.Node{
		Props: []fdt.Prop{{Name: "model", Value: fdt.Str("linux,dummy-virt")}, {Name: "compatible", Value: fdt.Str("linux,dummy-virt")}},
		Children: []*fdt.Node{{Name: "chosen", Props: []fdt.Prop{
			{Name: "bootargs", Value: fdt.Str(bootargs)},
			{Name: "linux,initrd-start", Value: fdt.Cell64(0x48000000)},
			{Name: "linux,initrd-end", Value: fdt.Cell64(0x48000000 + 5000)},
			{Name: "kaslr-seed", Value: make([]byte, 8)},
			{Name: "rng-seed", Value: bytes.Repeat([]byte{7}, 64)},
		}}}}}
}

func TestDTB(t *testing.T) {
	hostile := "console=ttyAMA0 \x1b]0;owned\x07\n<script>alert(1)</script>"
	b := append(virtTree(hostile).Encode(), make([]byte, 3000)...) // kexec-tools pads the segment
	r := Identify(bytes.NewReader(b), int64(len(b)), Options{})
	if r.Type != "dtb" || r.Cmdline != hostile || r.DeviceTree == nil {
		t.Fatalf("%+v", r)
	}
	dt := r.DeviceTree
	if dt.Model != "linux,dummy-virt" || !dt.HasBootargs || dt.InitrdStart == nil || *dt.InitrdStart != 0x48000000 ||
		*dt.InitrdEnd != 0x48000000+5000 || !dt.KASLRSeed || !dt.RNGSeed || len(dt.ZeroSeeds) != 1 {
		t.Errorf("%+v", dt)
	}
	if got := dt.SeedText(); got != "kaslr-seed (zero), rng-seed" {
		t.Errorf("seeds %q", got)
	}
	if strings.ContainsAny(r.Summary, "\x1b\x07\n") || !strings.Contains(r.Summary, `\x1b]0;owned\a\n`) {
		t.Errorf("summary not inert: %q", r.Summary)
	}

	// A crash kernel's dtb (kexec -p) says where the core header is.
	crash := virtTree("maxcpus=1 reset_devices")
	crash.Root.Props = append(crash.Root.Props, fdt.Prop{Name: "#address-cells", Value: fdt.Cell32(2)}, fdt.Prop{Name: "#size-cells", Value: fdt.Cell32(2)})
	ch := crash.Root.Children[0]
	ch.Props = append(ch.Props, fdt.Prop{Name: "linux,elfcorehdr", Value: append(fdt.Cell64(0xbfff0000), fdt.Cell64(0x10000)...)},
		fdt.Prop{Name: "linux,usable-memory-range", Value: append(fdt.Cell64(0xa0000000), fdt.Cell64(0x20000000)...)})
	cb := crash.Encode()
	r = Identify(bytes.NewReader(cb), int64(len(cb)), Options{})
	if dt := r.DeviceTree; dt == nil || len(dt.ElfCoreHdr) != 1 || dt.ElfCoreHdr[0] != (MemRange{0xbfff0000, 0x10000}) ||
		len(dt.UsableMemory) != 1 || !strings.Contains(r.Summary, "crash kernel: elfcorehdr 0xbfff0000+0x10000") {
		t.Errorf("crash dtb: %+v %+v", r, r.DeviceTree)
	}

	// A real qemu dtb.
	real := readGzFile(t, "fdt/testdata/qemu-virt-boot.dtb.gz")
	r = Identify(bytes.NewReader(real), int64(len(real)), Options{})
	if r.Type != "dtb" || r.Cmdline != "console=ttyAMA0 root=/dev/vda" || r.DeviceTree.Nodes < 20 {
		t.Errorf("qemu dtb: %+v", r)
	}

	// Malformed: still called a dtb, with the reason.
	bad := bytes.Clone(b)
	binary.BigEndian.PutUint32(bad[8:], 1<<20) // off_dt_struct far away
	r = Identify(bytes.NewReader(bad), int64(len(bad)), Options{})
	if r.Type != "dtb" || r.DeviceTree != nil || !hasWarning(r, "structure block") {
		t.Errorf("malformed: %+v", r)
	}
}

func readGzFile(t *testing.T, name string) []byte {
	t.Helper()
	z, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckInitrd(t *testing.T) {
	start, end := uint64(0x48000000), uint64(0x48000000+5000)
	dt := &DeviceTree{InitrdStart: &start, InitrdEnd: &end}
	seg := func(i int, mem, memsz, bufsz uint64) Segment {
		return Segment{Index: i, Mem: mem, MemSz: memsz, BufSz: bufsz}
	}
	for _, c := range []struct {
		name  string
		segs  []Segment
		match bool
		seg   int
		want  string
	}{
		{"exact", []Segment{seg(0, 0x40200000, 0x2000000, 0x1f00000), seg(1, 0x48000000, 0x2000, 5000), seg(2, 0x49000000, 0x1000, 100)}, true, 1, "segment 1 exactly"},
		{"shorter", []Segment{seg(1, 0x48000000, 0x2000, 4000)}, false, 1, "INITRD RANGE DIFFERS"},
		{"past end", []Segment{seg(1, 0x47fff000, 0x2000, 0x2000)}, false, 1, "PAST ITS SEGMENT"},
		{"nowhere", []Segment{seg(0, 0x40200000, 0x1000, 10), seg(2, 0x48000000, 0x1000, 10)}, false, -1, "IN NO SEGMENT"},
	} {
		v, ok := CheckInitrd(c.segs, 2, dt)
		if !ok || v.Match != c.match || v.Segment != c.seg || !strings.Contains(v.Detail, c.want) {
			t.Errorf("%s: %+v", c.name, v)
		}
	}
	if _, ok := CheckInitrd(nil, 0, &DeviceTree{}); ok {
		t.Error("a dtb without initrd range was checked")
	}
}

// kexec-tools' arm64 purgatory is built from the same purgatory.c: the same
// sha256_regions/sha256_digest pair, filled the same way by
// update_purgatory(). This builds the segments kexec -l Image --initrd
// --dtb lays out on arm64 and checks the verdict, the purgatory found by the
// same message strings.
func TestArm64Purgatory(t *testing.T) {
	img := fakeArm64Image()
	initrd := bytes.Repeat([]byte("initrd"), 1000)
	dtb := virtTree("console=ttyAMA0").Encode()
	segs := []Segment{
		{Index: 0, Mem: 0x40200000, MemSz: 0x2000000, Data: bytes.NewReader(img), Size: int64(len(img))},
		{Index: 1, Mem: 0x48000000, MemSz: 0x2000, Data: bytes.NewReader(initrd), Size: int64(len(initrd))},
		{Index: 2, Mem: 0x48200000, MemSz: 0x1000, Data: bytes.NewReader(dtb), Size: int64(len(dtb))},
	}
	h := sha256.New()
	pur := make([]byte, 0x3000)
	copy(pur, "purgatory: entry=%lx\n\x00I'm in purgatory\n\x00sha256 digests do not match :(\n\x00")
	const tbl = 0x2000
	for i, s := range segs {
		binary.LittleEndian.PutUint64(pur[tbl+16*i:], s.Mem)
		binary.LittleEndian.PutUint64(pur[tbl+16*i+8:], s.MemSz)
		b := make([]byte, s.MemSz)
		s.Data.ReadAt(b[:s.Size], 0)
		h.Write(b)
	}
	copy(pur[tbl+regionArraySize:], h.Sum(nil)) // digest after the table
	// entry.S's .data: arm64_kernel_entry, arm64_dtb_addr.
	binary.LittleEndian.PutUint64(pur[0x2800:], 0x40200000)
	binary.LittleEndian.PutUint64(pur[0x2808:], 0x48200000)
	segs = append(segs, Segment{Index: 3, Mem: 0x48400000, MemSz: 0x3000, Data: bytes.NewReader(pur), Size: int64(len(pur))})
	v := CheckPurgatory(segs, 0x48400000+0x100)
	if !v.Found || !v.Match || !v.EntryInPurgatory || v.Segment != 3 || v.Regions != 3 {
		t.Errorf("%+v", v)
	}
	want := Arm64Jump{KernelEntry: 0x40200000, DTBAddr: 0x48200000, KernelSegment: 0, DTBSegment: 2, IntoImage: true, Offset: 0x2800}
	if v.Arm64Jump == nil || *v.Arm64Jump != want || !strings.Contains(v.Detail, "jumps to the Image at 0x40200000 (segment 0)") {
		t.Errorf("jump %+v, want %+v; %s", v.Arm64Jump, want, v.Detail)
	}
	// The purgatory does not hash itself: a changed kernel entry keeps the
	// digest but is called out.
	binary.LittleEndian.PutUint64(pur[0x2800:], 0x40201000)
	v = CheckPurgatory(segs, 0x48400000+0x100)
	if !v.Match || v.Arm64Jump == nil || v.Arm64Jump.IntoImage || !strings.Contains(v.Detail, "PURGATORY JUMPS ELSEWHERE") {
		t.Errorf("tampered jump: %+v %+v", v, v.Arm64Jump)
	}
	if r := Identify(bytes.NewReader(pur), int64(len(pur)), Options{}); r.Type != "purgatory" {
		t.Errorf("arm64 purgatory identified as %+v", r)
	}
}

// Debian's real arm64 kernels (plain EFI-signed Images, not gzip), fetched
// by .ci/setup into the cache the arm64 qemu bed uses.
func TestDebianArm64Kernel(t *testing.T) {
	images, _ := filepath.Glob(filepath.Join(testenv.CacheDir(), "kernels-arm64", "linux-image-*-arm64", "boot", "vmlinuz-*"))
	if len(images) == 0 {
		testenv.Skip(t, "no Debian arm64 kernel under "+filepath.Join(testenv.CacheDir(), "kernels-arm64")+" (.ci/setup fetches one)")
	}
	for _, path := range images {
		release := strings.TrimPrefix(filepath.Base(path), "vmlinuz-")
		t.Run(release, func(t *testing.T) {
			img, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := Identify(bytes.NewReader(img), int64(len(img)), Options{})
			if r.Type != "arm64-image" || r.KernelVersion != release || len(r.Warnings) != 0 {
				t.Fatalf("%s: %+v", path, r)
			}
			h := r.Arm64Image
			if h.Endianness != "little" || h.PageSize != "4K" || !h.EFIStub || h.ImageSize < uint64(len(img)) || h.TextOffset != 0 {
				t.Errorf("header %+v", h)
			}
			// gzip of it, as other distributions ship it.
			z := gz(t, img)
			rz := Identify(bytes.NewReader(z), int64(len(z)), Options{})
			if rz.Type != "arm64-image" || rz.Compression != "gzip" || rz.Banner != r.Banner || *rz.Arm64Image != *h {
				t.Errorf("gzip: %+v", rz)
			}
		})
	}
}
