//go:build amd64

package identify

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/replay/identify/internal/ptracecap"
)

// captureKexecLoad runs Debian's kexec -l under ptrace and returns what it
// passed to kexec_load (the syscall itself is skipped: nothing is loaded).
func captureKexecLoad(t *testing.T, initrd []byte, cmdline string) (*ptracecap.Capture, testenv.Kernel) {
	t.Helper()
	testenv.Root(t)
	kexec := testenv.Tool(t, "kexec")
	k := testenv.DebianKernel(t, "6.1")
	path := filepath.Join(t.TempDir(), "initrd.img")
	if err := os.WriteFile(path, initrd, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ptracecap.Run([]string{kexec, "-l", k.Vmlinuz, "--initrd", path, "--append", cmdline})
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if c.Flags&0xFFFF0000 != 0x3E0000 {
		t.Errorf("flags 0x%x: want KEXEC_ARCH_X86_64", c.Flags)
	}
	return c, k
}

func toSegments(c *ptracecap.Capture) []Segment {
	var segs []Segment
	for i, s := range c.Segments {
		segs = append(segs, Segment{Index: i, Mem: s.Mem, MemSz: s.MemSz,
			Data: bytes.NewReader(s.Data), Size: int64(len(s.Data)), BufSz: s.BufSz})
	}
	return segs
}

func TestRealKexecLoad(t *testing.T) {
	tr := makeTree(t, "kexec")
	initrd := compressWith(t, cpioArchive(t, tr, "newc"), "gzip", "-c")
	const cmdline = "console=ttyS0 init=/bin/sh kexecrec.test=1"
	c, k := captureKexecLoad(t, initrd, cmdline)

	// Every segment says what it is.
	types := map[string]int{}
	for i, s := range c.Segments {
		r := Identify(bytes.NewReader(s.Data), int64(len(s.Data)), Options{})
		types[r.Type] = i
		t.Logf("segment %d mem 0x%x bufsz %d memsz %d: %s", i, s.Mem, s.BufSz, s.MemSz, r.Summary)
		switch r.Type {
		case "kernel":
			if r.KernelVersion != k.Release {
				t.Errorf("kernel segment version %q, want %q", r.KernelVersion, k.Release)
			}
		case "boot-params":
			if r.Cmdline != cmdline {
				t.Errorf("cmdline %q, want %q", r.Cmdline, cmdline)
			}
			if r.BootParams.LoaderType>>4 != 0xD || r.BootParams.RamdiskSize != uint64(len(initrd)) {
				t.Errorf("boot params %+v (initrd is %d bytes)", r.BootParams, len(initrd))
			}
		case "initramfs":
			if !bytes.Equal(s.Data, initrd) {
				t.Errorf("initramfs segment is not the initrd file")
			}
			checkListing(t, r.Initramfs.Archives[0], tr)
		}
	}
	for _, want := range []string{"kernel", "boot-params", "initramfs", "purgatory"} {
		if _, ok := types[want]; !ok {
			t.Errorf("no %s segment among %v", want, types)
		}
	}

	segs := toSegments(c)
	v := CheckPurgatory(segs, c.Entry)
	t.Logf("verdict: %+v", v)
	if !v.Found || !v.Match || !v.EntryInPurgatory || v.Incomplete {
		t.Fatalf("real kexec -l: %+v", v)
	}
	if v.Segment != types["purgatory"] || v.Regions != len(segs)-1 {
		t.Errorf("purgatory segment %d with %d regions; want %d with %d", v.Segment, v.Regions, types["purgatory"], len(segs)-1)
	}

	// One flipped byte in the initrd: the stored digest no longer matches,
	// and the stored one is still the original.
	ird := types["initramfs"]
	flipped := toSegments(c)
	data := bytes.Clone(c.Segments[ird].Data)
	data[len(data)/2] ^= 0x01
	flipped[ird].Data = bytes.NewReader(data)
	m := CheckPurgatory(flipped, c.Entry)
	if !m.Found || m.Match || m.Stored != v.Stored || m.Computed == v.Computed || !strings.Contains(m.Detail, "MISMATCH") {
		t.Errorf("flipped initrd byte: %+v", m)
	}

	// A byte in the memsz tail of the kernel segment is zero for purgatory:
	// a capture that is short of bufsz is flagged Incomplete.
	kseg := types["kernel"]
	short := toSegments(c)
	short[kseg].Data = bytes.NewReader(c.Segments[kseg].Data[:1000])
	short[kseg].Size = 1000
	sv := CheckPurgatory(short, c.Entry)
	if sv.Match || !sv.Incomplete {
		t.Errorf("short capture: %+v", sv)
	}

	// Entry outside purgatory: e.g. straight into the kernel segment.
	e := CheckPurgatory(segs, c.Segments[kseg].Mem+0x200)
	if !e.Found || !e.Match || e.EntryInPurgatory || !strings.Contains(e.Detail, "ENTRY OUTSIDE PURGATORY") {
		t.Errorf("entry in kernel segment: %+v", e)
	}

	// A tampered region table (one region's length changed) no longer
	// describes what kexec-tools hashed.
	pur := types["purgatory"]
	pdata := bytes.Clone(c.Segments[pur].Data)
	var lenField [8]byte
	binary.LittleEndian.PutUint64(lenField[:], c.Segments[kseg].MemSz)
	var startField [8]byte
	binary.LittleEndian.PutUint64(startField[:], c.Segments[kseg].Mem)
	i := bytes.Index(pdata, append(startField[:], lenField[:]...))
	if i < 0 {
		t.Fatal("kernel region not found in purgatory")
	}
	binary.LittleEndian.PutUint64(pdata[i+8:], c.Segments[kseg].MemSz-4096)
	tampered := toSegments(c)
	tampered[pur].Data = bytes.NewReader(pdata)
	tv := CheckPurgatory(tampered, c.Entry)
	if !tv.Found || tv.Match {
		t.Errorf("tampered region table: %+v", tv)
	}
}

// A forged memsz must not make us hash exabytes of zeros.
func TestCheckPurgatoryHugeRegion(t *testing.T) {
	pur := make([]byte, 4096)
	binary.LittleEndian.PutUint64(pur[1024:], 0x100000)
	binary.LittleEndian.PutUint64(pur[1032:], 1<<60)
	segs := []Segment{
		{Index: 0, Mem: 0x100000, MemSz: 1 << 60, Data: bytes.NewReader([]byte("x")), Size: 1},
		{Index: 1, Mem: 0x10000, MemSz: 0x1000, Data: bytes.NewReader(pur), Size: int64(len(pur))},
	}
	v := CheckPurgatory(segs, 0x10000)
	if !v.Found || v.Match || !v.Incomplete || !strings.Contains(v.Detail, "not recomputed") {
		t.Fatalf("%+v", v)
	}
}

func TestCheckPurgatoryNothing(t *testing.T) {
	if v := CheckPurgatory(nil, 0x1000); v.Found || v.Segment != -1 || v.Detail == "" {
		t.Errorf("no segments: %+v", v)
	}
	segs := []Segment{{Mem: 0x1000, MemSz: 0x1000, Data: bytes.NewReader(make([]byte, 4096)), Size: 4096}}
	if v := CheckPurgatory(segs, 0x1800); v.Found || v.Segment != 0 {
		t.Errorf("zero segment: %+v", v)
	}
}
