package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
)

func sdFileLoad(cmdline string, kernel []byte) sdCall {
	return sdCall{fileLoad: true, comm: "kexec", exe: "/usr/sbin/kexec", segs: [][]byte{kernel, sdInitrd}, cmdline: cmdline}
}

func TestDiffIdenticalCaptures(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.kxr")
	b := filepath.Join(dir, "b.kxr")
	// Same calls from another host and run: still the same calls.
	os.WriteFile(a, sdCapture(t, "host-a", true, sdBaseline()...), 0o644)
	os.WriteFile(b, sdCapture(t, "host-b", true, sdBaseline()...), 0o644)
	code, out, errOut := cli("diff", "--no-identify", a, b)
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d stderr %q\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "2 same, 0 changed, 0 only in A, 0 only in B") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDiffDifferentCaptures(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "baseline.kxr")
	b := filepath.Join(dir, "incident.kxr")
	kernel2 := append([]byte("another kernel "), sdKernel...)
	os.WriteFile(a, sdCapture(t, "host-a", true,
		sdFileLoad("root=/dev/sda1 ro quiet", sdKernel),
		sdBaseline()[0], sdBaseline()[0], sdBaseline()[0],
	), 0o644)
	os.WriteFile(b, sdCapture(t, "host-a", true,
		sdFileLoad("root=/dev/sda1 ro quiet init=/bin/sh", kernel2),
		sdBaseline()[0], sdBaseline()[0], // one identical kexec_load fewer: multiset
		sdCall{comm: "evil", exe: "/tmp/evil", uid: 1000, flags: 0x3e0001, ret: -1, segs: [][]byte{sdPurgatory}},
	), 0o644)
	code, out, errOut := cli("diff", "--no-identify", a, b)
	if code != ExitFinding || errOut != "" {
		t.Fatalf("exit %d (want %d) stderr %q\n%s", code, ExitFinding, errOut, out)
	}
	for _, want := range []string{
		"2 same, 1 changed, 1 only in A, 1 only in B",
		"~ call 1 -> call 1: kexec_file_load by kexec (/usr/sbin/kexec)",
		"    cmdline gained init=/bin/sh",
		"    kernel bytes changed",
		"    cmdline bytes changed",
		"- call 4: kexec_load by kexec (/usr/sbin/kexec) -> 0",
		"+ call 4: kexec_load by evil (/tmp/evil) -> -1 EPERM",
		"    at 2026-11-29 12:00:04.000000 UTC",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
	sdGolden(t, "diff-different.txt", out, dir)

	code, out, _ = cli("diff", "--no-identify", "--format", "json", a, b)
	if code != ExitFinding {
		t.Fatalf("json exit %d", code)
	}
	var r replay.DiffResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Same != 2 || len(r.Changed) != 1 || len(r.OnlyA) != 1 || len(r.OnlyB) != 1 || r.CallsA != 4 || r.CallsB != 4 {
		t.Fatalf("json: %+v", r)
	}
	found := false
	for _, c := range r.Changed[0].Changes {
		if c.Field == "cmdline" && c.Op == "gained" && c.To == "init=/bin/sh" {
			found = true
		}
	}
	if !found {
		t.Errorf("json changes lack cmdline gained init=/bin/sh: %+v", r.Changed[0].Changes)
	}
	if r.OnlyB[0].Exe != "/tmp/evil" || r.OnlyB[0].Errno != "EPERM" {
		t.Errorf("only in B = %+v", r.OnlyB[0])
	}
}

func TestDiffTrouble(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.kxr")
	data := sdCapture(t, "host-a", true, sdBaseline()...)
	os.WriteFile(good, data, 0o644)
	bad := map[string][]byte{
		"empty.kxr":     {},
		"garbage.kxr":   []byte("garbage"),
		"truncated.kxr": data[:len(data)/2],
	}
	for name, b := range bad {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		for _, args := range [][]string{{good, p}, {p, good}} {
			code, out, errOut := cli(append([]string{"diff", "--no-identify"}, args...)...)
			if code != ExitTrouble {
				t.Errorf("%s: exit %d, want %d", name, code, ExitTrouble)
			}
			if out != "" || !strings.Contains(errOut, name) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%s: stdout %q stderr %q", name, out, errOut)
			}
		}
	}
	code, _, errOut := cli("diff", good, filepath.Join(dir, "missing.kxr"))
	if code != ExitTrouble || !strings.Contains(errOut, "missing.kxr") {
		t.Errorf("missing file: exit %d stderr %q", code, errOut)
	}
	if code, _, _ := cli("diff", good); code != ExitTrouble {
		t.Errorf("one argument: exit %d", code)
	}
}

func TestDiffSamples(t *testing.T) {
	paths := sdSamples(t)
	for _, p := range paths {
		if code, out, errOut := cli("diff", p, p); code != ExitOK {
			t.Errorf("%s against itself: exit %d %s\n%s", p, code, errOut, out)
		}
	}
	a := filepath.Join("..", "..", "testdata", "samples", "synthetic-kexec_load.zst")
	b := filepath.Join("..", "..", "testdata", "samples", "synthetic-kexec_file_load.zst")
	if !fileExists(a) || !fileExists(b) {
		t.Fatalf("samples %s, %s missing", a, b)
	}
	code, out, errOut := cli("diff", a, b)
	if code != ExitFinding {
		t.Fatalf("exit %d, want %d: %s", code, ExitFinding, errOut)
	}
	sdGolden(t, "diff-samples.txt", out, "")
}

// sdCpio builds an uncompressed newc initramfs holding the given files.
func sdCpio(files ...[2]string) []byte {
	var b bytes.Buffer
	entry := func(name, data string, mode uint32) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, f := range files {
		entry(f[0], f[1], 0o100755)
	}
	entry("TRAILER!!!", "", 0)
	for b.Len()%512 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// sdBzImage builds a whole bzImage as kexec_file_load reads it: a setup
// header naming the kernel version, then the protected-mode part.
func sdBzImage(version string) []byte {
	b := make([]byte, 5*512+8192)
	b[0x1f1] = 4 // setup_sects
	binary.LittleEndian.PutUint16(b[0x1fe:], 0xAA55)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	binary.LittleEndian.PutUint16(b[0x20e:], 0x400-0x200) // kernel_version pointer
	copy(b[0x400:], version+" (debian-kernel@lists.debian.org) #1 SMP Debian\x00")
	return b
}

// sdBootParams builds kexec-tools' boot_params segment with a command line.
func sdBootParams(cmdline string) []byte {
	b := make([]byte, 8192)
	b[0x1f1] = 4
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	b[0x210] = 0xD0 // type_of_loader: kexec-tools
	copy(b[4096:], cmdline)
	return b
}

// What identification adds to diff, end to end: kernel version, initramfs
// files and command-line parameters (of kexec_file_load and, from the
// boot_params segment, of kexec_load).
func TestDiffIdentifiedPayloads(t *testing.T) {
	initA := sdCpio([2]string{"init", "#!/bin/sh\nexec /sbin/init\n"}, [2]string{"bin/busybox", "busybox"})
	initB := sdCpio([2]string{"init", "#!/bin/sh\nexec /bin/sh\n"}, [2]string{"bin/busybox", "busybox"})
	dir := t.TempDir()
	a := filepath.Join(dir, "a.kxr")
	b := filepath.Join(dir, "b.kxr")
	os.WriteFile(a, sdCapture(t, "host-a", true,
		sdCall{fileLoad: true, comm: "kexec", exe: "/usr/sbin/kexec", segs: [][]byte{sdBzImage("6.1.0-56-amd64"), initA},
			cmdline: "root=/dev/sda1 ro quiet"},
		sdCall{comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000,
			segs: [][]byte{sdPurgatory, sdBootParams("root=/dev/sda1 ro"), initA}},
	), 0o644)
	os.WriteFile(b, sdCapture(t, "host-a", true,
		sdCall{fileLoad: true, comm: "kexec", exe: "/usr/sbin/kexec", segs: [][]byte{sdBzImage("6.1.0-57-amd64"), initB},
			cmdline: "root=/dev/sda1 ro quiet init=/bin/sh"},
		sdCall{comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000,
			segs: [][]byte{sdPurgatory, sdBootParams("root=/dev/sda1 ro init=/bin/sh"), initA}},
	), 0o644)
	code, out, errOut := cli("diff", a, b)
	if code != ExitFinding {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"~ call 1 -> call 1: kexec_file_load by kexec (/usr/sbin/kexec)\n" +
			"    kernel version changed 6.1.0-56-amd64 -> 6.1.0-57-amd64\n" +
			"    cmdline gained init=/bin/sh\n" +
			"    initramfs /init changed\n",
		"~ call 2 -> call 2: kexec_load by kexec (/usr/sbin/kexec)\n" +
			"    cmdline gained init=/bin/sh\n" +
			"    segment 1 bytes changed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s\nin\n%s", want, out)
		}
	}
	if strings.Contains(out, "busybox") {
		t.Errorf("an unchanged initramfs file is reported:\n%s", out)
	}
	sdGolden(t, "diff-identified.txt", out, dir)

	// summarize names the distinct kernels by version and hash.
	code, out, errOut = cli("summarize", a, b)
	if code != ExitOK {
		t.Fatalf("summarize: exit %d %s", code, errOut)
	}
	total := out[strings.Index(out, "== TOTAL"):]
	for _, want := range []string{"Kernels: 2 distinct", "6.1.0-56-amd64", "6.1.0-57-amd64"} {
		if !strings.Contains(total, want) {
			t.Errorf("summarize TOTAL lacks %q:\n%s", want, total)
		}
	}
}
