package fdt

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func readGz(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testdata/qemu-virt-boot.dtb.gz is what `qemu-system-aarch64 -M
// virt,dumpdtb=... -cpu cortex-a72 -m 512 -kernel Image -append
// "console=ttyAMA0 root=/dev/vda" -initrd <100000 bytes>` hands the kernel;
// qemu-virt.dtb.gz the same machine with dtb-randomness=off and no kernel.
func TestQemuVirtBoot(t *testing.T) {
	b := readGz(t, "testdata/qemu-virt-boot.dtb.gz")
	tr, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header.TotalSize != 1<<20 || tr.Nodes < 20 {
		t.Errorf("header %+v, %d nodes", tr.Header, tr.Nodes)
	}
	if args, ok := tr.Bootargs(); !ok || args != "console=ttyAMA0 root=/dev/vda" {
		t.Errorf("bootargs %q %v", args, ok)
	}
	start, end, ok, err := tr.InitrdRange()
	if !ok || err != nil || end-start != 100000 || start < 0x40000000 {
		t.Errorf("initrd [%#x, %#x) ok %v err %v, want 100000 bytes in RAM", start, end, ok, err)
	}
	if s := tr.Seeds(); !s.KASLR || !s.RNG || s.KASLRZero || s.RNGZero || s.RNGSize != 32 {
		t.Errorf("seeds %+v, want both present, random, rng-seed 32 bytes", s)
	}
	if m := tr.Model(); m != "linux,dummy-virt" {
		t.Errorf("model %q", m)
	}
	if c := tr.Compatible(); !slices.Equal(c, []string{"linux,dummy-virt"}) {
		t.Errorf("compatible %q", c)
	}
	if n := tr.Lookup("/memory"); n == nil || n.Name != "memory@40000000" {
		t.Errorf("lookup /memory: %+v", n)
	}
	if tr.Lookup("/no/such") != nil || tr.Lookup("chosen") != nil {
		t.Error("lookup of a missing or relative path found something")
	}
}

func TestQemuVirtNoRandomness(t *testing.T) {
	tr, err := Parse(readGz(t, "testdata/qemu-virt.dtb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Bootargs(); ok {
		t.Error("bootargs in a dtb dumped without -append")
	}
	if _, _, ok, _ := tr.InitrdRange(); ok {
		t.Error("initrd range in a dtb dumped without -initrd")
	}
	if s := tr.Seeds(); s.KASLR || s.RNG {
		t.Errorf("dtb-randomness=off still has seeds: %+v", s)
	}
}

func chosenTree(chosen ...Prop) *Tree {
	return &Tree{Root: &Node{Props: []Prop{{"model", Str("test,board")}, {"compatible", []byte("a,b\x00c,d\x00")}},
		Children: []*Node{{Name: "chosen", Props: chosen}, {Name: "memory@80000000", Props: []Prop{{"device_type", Str("memory")}}}}}}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := chosenTree(Prop{"bootargs", Str("root=/dev/vda \x1b[31mred")}, Prop{"linux,initrd-start", Cell32(0x48000000)},
		Prop{"linux,initrd-end", Cell64(0x48001000)}, Prop{"kaslr-seed", make([]byte, 8)})
	in.Reserved = []Reservation{{0x1000, 0x2000}}
	b := in.Encode()
	tr, err := Parse(append(b, make([]byte, 4096)...)) // padding after totalsize is ignored
	if err != nil {
		t.Fatal(err)
	}
	if args, _ := tr.Bootargs(); args != "root=/dev/vda \x1b[31mred" {
		t.Errorf("bootargs %q", args)
	}
	// Mixed cell sizes: start is one 32-bit cell, end two.
	if s, e, ok, err := tr.InitrdRange(); !ok || err != nil || s != 0x48000000 || e != 0x48001000 {
		t.Errorf("initrd %#x-%#x %v %v", s, e, ok, err)
	}
	if s := tr.Seeds(); !s.KASLR || !s.KASLRZero || s.RNG {
		t.Errorf("seeds %+v", s)
	}
	if !slices.Equal(tr.Compatible(), []string{"a,b", "c,d"}) || tr.Model() != "test,board" {
		t.Errorf("compatible %q model %q", tr.Compatible(), tr.Model())
	}
	if len(tr.Reserved) != 1 || tr.Reserved[0] != (Reservation{0x1000, 0x2000}) {
		t.Errorf("reserved %+v", tr.Reserved)
	}
	if !bytes.Equal(tr.Encode(), b) {
		t.Error("re-encoding the parsed tree changed the bytes")
	}
}

func TestInitrdRangeErrors(t *testing.T) {
	for name, c := range map[string]struct {
		props []Prop
		want  string
	}{
		"only start": {[]Prop{{"linux,initrd-start", Cell32(1)}}, "only one of"},
		"end below":  {[]Prop{{"linux,initrd-start", Cell32(9)}, {"linux,initrd-end", Cell32(1)}}, "below"},
		"3 bytes":    {[]Prop{{"linux,initrd-start", []byte{1, 2, 3}}, {"linux,initrd-end", Cell32(1)}}, "3 bytes"},
	} {
		tr, err := Parse(chosenTree(c.props...).Encode())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok, err := tr.InitrdRange(); !ok || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ok %v err %v, want %q", name, ok, err, c.want)
		}
	}
}

// Every truncation and every single-byte corruption of a real dtb is either
// parsed or a *FormatError / ErrNotFDT: never a panic, never another error.
func TestCorruptions(t *testing.T) {
	b := chosenTree(Prop{"bootargs", Str("console=ttyAMA0")}, Prop{"linux,initrd-start", Cell64(1)},
		Prop{"linux,initrd-end", Cell64(2)}).Encode()
	check := func(what string, in []byte) {
		_, err := Parse(in)
		var fe *FormatError
		if err != nil && !errors.As(err, &fe) && !errors.Is(err, ErrNotFDT) {
			t.Fatalf("%s: error of the wrong kind: %T %v", what, err, err)
		}
	}
	for n := range len(b) {
		_, err := Parse(b[:n])
		if err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
		check("truncated", b[:n])
	}
	for i := range b {
		for _, v := range []byte{0, 0xff, b[i] ^ 1} {
			c := bytes.Clone(b)
			c[i] = v
			check("corrupted", c)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := &Node{}
	for n, i := deep, 0; i < MaxDepth+1; i++ {
		c := &Node{Name: "d"}
		n.Children = []*Node{c}
		n = c
	}
	_, err := Parse((&Tree{Root: deep}).Encode())
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "deeper") {
		t.Errorf("too deep: %v", err)
	}
	b := chosenTree().Encode()
	b[4], b[5], b[6], b[7] = 0x7f, 0xff, 0xff, 0xff // totalsize 2 GiB
	if _, err := Parse(b); !errors.As(err, &fe) || !strings.Contains(fe.Msg, "totalsize") {
		t.Errorf("huge totalsize: %v", err)
	}
	if _, err := Parse([]byte("not a dtb at all")); !errors.Is(err, ErrNotFDT) {
		t.Errorf("bad magic: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(chosenTree(Prop{"bootargs", Str("x")}, Prop{"linux,initrd-start", Cell32(1)}, Prop{"linux,initrd-end", Cell32(2)}).Encode())
	f.Add(chosenTree().Encode())
	f.Add([]byte{0xd0, 0x0d, 0xfe, 0xed})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Parse(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) && !errors.Is(err, ErrNotFDT) {
				t.Fatalf("error of the wrong kind: %T %v", err, err)
			}
			return
		}
		tr.Bootargs()
		tr.InitrdRange()
		tr.Seeds()
		tr.Ranges("/chosen", "linux,elfcorehdr")
		tr.Model()
		tr.Compatible()
		// What parsed re-encodes to a blob that parses to the same tree.
		again, err := Parse(tr.Encode())
		if err != nil {
			t.Fatalf("re-encoded tree does not parse: %v", err)
		}
		if again.Nodes != tr.Nodes {
			t.Fatalf("re-encoded tree has %d nodes, want %d", again.Nodes, tr.Nodes)
		}
	})
}

// A crash kernel's dtb: kexec -p adds linux,elfcorehdr and
// linux,usable-memory-range to /chosen, in the root's cell sizes.
func TestRanges(t *testing.T) {
	reg := append(append(Cell64(0x7f000000), Cell64(0x10000)...), append(Cell64(0x80000000), Cell64(0x20000000)...)...)
	tr := chosenTree(Prop{"linux,elfcorehdr", reg[:16]}, Prop{"linux,usable-memory-range", reg}, Prop{"odd", reg[:12]})
	tr.Root.Props = append(tr.Root.Props, Prop{"#address-cells", Cell32(2)}, Prop{"#size-cells", Cell32(2)})
	p, err := Parse(tr.Encode())
	if err != nil {
		t.Fatal(err)
	}
	rs, ok, err := p.Ranges("/chosen", "linux,usable-memory-range")
	if !ok || err != nil || !slices.Equal(rs, []Range{{0x7f000000, 0x10000}, {0x80000000, 0x20000000}}) {
		t.Errorf("usable-memory-range %v %v %v", rs, ok, err)
	}
	if _, ok, err := p.Ranges("/chosen", "odd"); !ok || err == nil {
		t.Errorf("12-byte property with 2+2 cells: ok %v err %v", ok, err)
	}
	if _, ok, _ := p.Ranges("/chosen", "absent"); ok {
		t.Error("absent property found")
	}
	// Default cells (2 address, 1 size) when the root does not say.
	q, _ := Parse(chosenTree(Prop{"linux,elfcorehdr", reg[:12]}).Encode())
	if rs, _, err := q.Ranges("/chosen", "linux,elfcorehdr"); err != nil || len(rs) != 1 || rs[0] != (Range{0x7f000000, 0}) {
		t.Errorf("default cells: %v %v", rs, err)
	}
}
