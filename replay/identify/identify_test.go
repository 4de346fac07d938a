package identify

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"
)

const testBanner = "Linux version 6.9.0-test (builder@host) (gcc 13) #1 SMP Thu Jan 1 00:00:00 UTC 2026\n"

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// fakeVmlinux is some bytes with the banner in the middle.
func fakeVmlinux() []byte {
	b := append([]byte("\x7fELF"), make([]byte, 300000)...)
	b = append(b, testBanner...)
	b = append(b, 0)
	return append(b, make([]byte, 5000)...)
}

func elfHeader(class elf.Class, typ elf.Type, mach elf.Machine) []byte {
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(class)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h[elf.EI_VERSION] = 1
	binary.LittleEndian.PutUint16(h[16:], uint16(typ))
	binary.LittleEndian.PutUint16(h[18:], uint16(mach))
	return h
}

func TestIdentifyTypes(t *testing.T) {
	zbootPayload := gz(t, fakeVmlinux())
	zboot := make([]byte, 0x200)
	copy(zboot, "MZ\x00\x00zimg")
	binary.LittleEndian.PutUint32(zboot[8:], 0x200)
	binary.LittleEndian.PutUint32(zboot[12:], uint32(len(zbootPayload)))
	copy(zboot[24:], "gzip\x00")
	zboot = append(zboot, zbootPayload...)

	arm := make([]byte, 64)
	binary.LittleEndian.PutUint64(arm[16:], 0x1234000)
	copy(arm[56:], "ARM\x64")
	arm = append(arm, fakeVmlinux()...)

	setup := make([]byte, 16+32)
	binary.LittleEndian.PutUint32(setup[8:], 9)
	binary.LittleEndian.PutUint32(setup[12:], 32)
	copy(setup[16:], bytes.Repeat([]byte{0xA5}, 32))

	kseg := append([]byte{0xFC, 0xFA}, make([]byte, 0x2CA)...)
	kseg = append(kseg, gz(t, fakeVmlinux())...)

	purg := append(make([]byte, 1000), "I'm in purgatory\n\x00"...)

	cases := []struct {
		name, typ, summary string
		data               []byte
		check              func(*Report) bool
	}{
		{"empty", "empty", "empty", nil, nil},
		{"cmdline", "cmdline", `"root=/dev/sda1 init=/bin/sh"`, []byte("root=/dev/sda1 init=/bin/sh\x00"),
			func(r *Report) bool { return r.Cmdline == "root=/dev/sda1 init=/bin/sh" }},
		{"not cmdline without NUL", "unknown", "unrecognised", []byte("root=/dev/sda1"), nil},
		{"elf exec", "elf", "ELF ELFCLASS64 ET_EXEC EM_X86_64", elfHeader(elf.ELFCLASS64, elf.ET_EXEC, elf.EM_X86_64),
			func(r *Report) bool { return r.ELF.Machine == "EM_X86_64" }},
		{"elfcorehdr", "elfcorehdr", "ELF core header", elfHeader(elf.ELFCLASS64, elf.ET_CORE, elf.EM_X86_64),
			func(r *Report) bool { return r.ELF.Type == "ET_CORE" }},
		{"arm64", "arm64-image", "kernel 6.9.0-test", arm,
			func(r *Report) bool { return r.KernelVersion == "6.9.0-test" }},
		{"zboot", "efi-zboot", "kernel 6.9.0-test", zboot,
			func(r *Report) bool { return r.KernelVersion == "6.9.0-test" && r.Compression == "gzip" }},
		{"setup_data", "setup-data", "RNG_SEED", setup, nil},
		{"kernel segment", "kernel", "x86 kernel 6.9.0-test", kseg,
			func(r *Report) bool {
				return r.KernelVersion == "6.9.0-test" && r.Banner == strings.TrimSpace(testBanner)
			}},
		{"purgatory", "purgatory", "purgatory", purg, nil},
		{"vmlinux", "elf", "EM_X86_64 kernel 6.9.0-test", append(elfHeader(elf.ELFCLASS64, elf.ET_EXEC, elf.EM_X86_64), fakeVmlinux()...),
			func(r *Report) bool { return r.KernelVersion == "6.9.0-test" }},
		{"uncompressed kernel code", "kernel", "uncompressed", append([]byte{0x48, 0x8d}, fakeVmlinux()[4:]...),
			func(r *Report) bool { return r.KernelVersion == "6.9.0-test" }},
		{"zeros", "unknown", "all zero", make([]byte, 100000), nil},
		{"random", "unknown", "unrecognised", []byte("\x01\x02\x03\x04garbage"), nil},
		{"gzip not cpio", "unknown", "not a cpio archive", gz(t, []byte("hello")), func(r *Report) bool { return r.Compression == "gzip" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Identify(bytes.NewReader(c.data), int64(len(c.data)), Options{})
			if r.Type != c.typ || !strings.Contains(r.Summary, c.summary) || (c.check != nil && !c.check(r)) {
				t.Fatalf("got %+v; want type %q, summary containing %q", r, c.typ, c.summary)
			}
		})
	}
}

// A boot_params segment as kexec-tools lays it out: setup header copied at
// 0x1F1, cl_magic/cl_offset, the command line at max(kern16, 4096).
func TestBootParamsLayout(t *testing.T) {
	for _, sects := range []byte{4, 39} {
		kern16 := (int(sects) + 1) * 512
		off := max(kern16, 4096)
		cmd := "console=ttyS0 init=/bin/sh"
		b := make([]byte, off+len(cmd)+1)
		b[offSetupSects] = sects
		copy(b[offHeaderMagic:], "HdrS")
		binary.LittleEndian.PutUint16(b[offProtocol:], 0x20F)
		b[offLoaderType] = 0xD0
		binary.LittleEndian.PutUint32(b[offRamdiskImage:], 0x7000000)
		binary.LittleEndian.PutUint32(b[offExtRamdiskImg:], 0x6)
		binary.LittleEndian.PutUint32(b[offRamdiskSize:], 12345)
		copy(b[off:], cmd)
		for _, magic := range []bool{false, true} {
			if magic {
				binary.LittleEndian.PutUint16(b[offClMagic:], clMagic)
				binary.LittleEndian.PutUint16(b[offClOffset:], uint16(off))
			}
			r := Identify(bytes.NewReader(b), int64(len(b)), Options{})
			if r.Type != "boot-params" || r.Cmdline != cmd || r.BootParams.RamdiskImage != 0x607000000 ||
				r.BootParams.RamdiskSize != 12345 || r.BootProtocol != "2.15" || len(r.Warnings) != 0 {
				t.Fatalf("setup_sects %d cl_magic %v: %+v %+v", sects, magic, r, r.BootParams)
			}
		}
		// Cut before the command line: a warning, not a panic.
		cut := b[:off-10]
		r := Identify(bytes.NewReader(cut), int64(len(cut)), Options{})
		if r.Type != "boot-params" || len(r.Warnings) == 0 {
			t.Fatalf("cut: %+v", r)
		}
	}
}

// magicFirstByte must agree with detectCompression, or kernelSegment would
// skip a real magic.
func TestMagicFirstByte(t *testing.T) {
	for _, m := range [][]byte{{0xFD, '7', 'z', 'X', 'Z', 0x00}, {0x28, 0xB5, 0x2F, 0xFD}, {0x02, 0x21, 0x4C, 0x18},
		{0x89, 'L', 'Z', 'O'}, []byte("BZh9"), {0x1F, 0x8B, 0x08}, {0x5D, 0x00, 0x00}} {
		if detectCompression(append(m, 0, 0, 0, 0, 0)) == "" || !magicFirstByte[m[0]] {
			t.Errorf("magic % x: first byte not marked", m)
		}
	}
	for b := range 256 {
		head := append([]byte{byte(b)}, make([]byte, 15)...)
		for _, rest := range [][]byte{{'7', 'z', 'X', 'Z', 0}, {0xB5, 0x2F, 0xFD}, {0x21, 0x4C, 0x18}, {'L', 'Z', 'O'}, []byte("Zh9"), {0x8B, 0x08}, {0, 0}} {
			copy(head[1:], rest)
			if detectCompression(head) != "" && !magicFirstByte[b] {
				t.Errorf("0x%02x starts a magic but is not marked", b)
			}
		}
	}
}
