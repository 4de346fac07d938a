package identify

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

func FuzzIdentify(f *testing.F) {
	cpio := append(cpioEntry("init", 0o100755, []byte("#!/bin/sh\n"), 10, 5), cpioEntry("TRAILER!!!", 0, nil, 0, 11)...)
	kseg := append([]byte{0xFC, 0xFA}, make([]byte, 0x2CA)...)
	bp := make([]byte, 4200)
	copy(bp[offHeaderMagic:], "HdrS")
	bp[offLoaderType] = 0xD0
	copy(bp[4096:], "console=ttyS0\x00")
	for _, seed := range [][]byte{
		nil, cpio, gz(f, cpio), append(bytes.Clone(cpio), gz(f, cpio)...),
		append(kseg, gz(f, fakeVmlinux()[:2000])...), bp,
		elfHeader(2, 4, 62), []byte("root=/dev/sda\x00"),
		{0xFD, '7', 'z', 'X', 'Z', 0, 0, 1, 0x69, 0x22, 0xDE, 0x36},
		{0x5D, 0, 0, 0x80, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
		{0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0, 0}, {0x02, 0x21, 0x4C, 0x18, 0xFF, 0xFF, 0xFF, 0x7F},
		[]byte("BZh91AY&SY\x00\x00"), []byte("MZ\x00\x00zimg\xff\xff\xff\xff\xff\xff\xff\xffgzip\x00....."),
		fakeArm64Image()[:4096], gz(f, fakeArm64Image()[:4096]), zbootImage(gz(f, fakeArm64Image()[:4096]), "gzip"),
		virtTree("console=ttyAMA0").Encode(),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Options{MaxDecompressed: 1 << 20, MaxFiles: 100, Timeout: 500 * time.Millisecond}
		r := Identify(bytes.NewReader(b), int64(len(b)), o)
		if r == nil || r.Type == "" || r.Summary == "" {
			t.Fatalf("no answer: %+v", r)
		}
		// Claiming more bytes than there are must not change the safety.
		Identify(bytes.NewReader(b), int64(len(b))+1<<30, o)
	})
}

func FuzzCheckPurgatory(f *testing.F) {
	f.Add(make([]byte, 512), uint64(0x3000))
	f.Fuzz(func(t *testing.T, pur []byte, entry uint64) {
		// Two fixed segments and a fuzzed "purgatory" that may name them.
		a := []byte("segment a")
		segs := []Segment{
			{Index: 0, Mem: 0x1000, MemSz: 0x1000, Data: bytes.NewReader(a), Size: int64(len(a))},
			{Index: 1, Mem: 0x2000, MemSz: 0x1000},
			{Index: 2, Mem: 0x3000, MemSz: 0x10000, Data: bytes.NewReader(pur), Size: int64(len(pur))},
		}
		if len(pur) >= 16 {
			binary.LittleEndian.PutUint64(pur[len(pur)/16*8-8+0:], 0x1000)
		}
		v := CheckPurgatory(segs, entry)
		if v.Match && !v.Found {
			t.Fatalf("match without found: %+v", v)
		}
	})
}

// FuzzArm64Purgatory: a fuzzed purgatory beside an Image and a dtb segment
// (the arm64 jump search and the dtb initrd check).
func FuzzArm64Purgatory(f *testing.F) {
	f.Add(make([]byte, 1024), uint64(0x48400000))
	f.Fuzz(func(t *testing.T, pur []byte, entry uint64) {
		img := fakeArm64Image()[:4096]
		dtb := virtTree("x").Encode()
		segs := []Segment{
			{Index: 0, Mem: 0x40200000, MemSz: 0x2000, Data: bytes.NewReader(img), Size: int64(len(img))},
			{Index: 1, Mem: 0x48200000, MemSz: 0x1000, Data: bytes.NewReader(dtb), Size: int64(len(dtb))},
			{Index: 2, Mem: 0x48400000, MemSz: 0x10000, Data: bytes.NewReader(pur), Size: int64(len(pur))},
		}
		if len(pur) >= 48 {
			binary.LittleEndian.PutUint64(pur[len(pur)/16*8:], 0x40200000)
		}
		v := CheckPurgatory(segs, entry)
		if j := v.Arm64Jump; j != nil && (!v.Found || j.DTBAddr != 0x48200000 || j.IntoImage != (j.KernelSegment == 0)) {
			t.Fatalf("jump %+v in %+v", j, v)
		}
		r := Identify(bytes.NewReader(dtb), int64(len(dtb)), Options{})
		CheckInitrd(segs, 1, r.DeviceTree)
	})
}
