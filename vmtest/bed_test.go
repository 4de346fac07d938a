package vmtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

type cpioEntry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         []byte
	headerOffset int
}

// readNewc is an independent newc parser for checking the writer.
func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		e := cpioEntry{mode: field(1), rmaj: field(9), rmin: field(10), headerOffset: off}
		size, nameSize := int(field(6)), int(field(11))
		e.name = string(b[off+110 : off+110+nameSize-1])
		if b[off+110+nameSize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", e.name)
		}
		dataOff := align(off + 110 + nameSize)
		e.data = b[dataOff : dataOff+size]
		off = align(dataOff + size)
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestNewcWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newNewcWriter(&buf)
	w.CharDev("dev/console", 5, 1)
	w.Bytes("/a/b/file", 0o644, []byte("hello"))
	w.Bytes("a/odd", 0o755, []byte("123"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readNewc(t, buf.Bytes())
	var names []string
	for _, e := range got {
		names = append(names, e.name)
	}
	want := []string{"dev", "dev/console", "a", "a/b", "a/b/file", "a/odd"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	if e := got[1]; e.mode != cpioChar|0o600 || e.rmaj != 5 || e.rmin != 1 {
		t.Errorf("console: mode %o rdev %d:%d", e.mode, e.rmaj, e.rmin)
	}
	if e := got[4]; e.mode != cpioReg|0o644 || string(e.data) != "hello" {
		t.Errorf("file: mode %o data %q", e.mode, e.data)
	}
	if e := got[0]; e.mode != cpioDir|0o755 {
		t.Errorf("dir: mode %o", e.mode)
	}
	// The cpio tool (what the kernel's format is usually made with) agrees.
	if cpio, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command(cpio, "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -it: %v", err)
		}
		if got := strings.Fields(string(out)); !slices.Equal(got, want) {
			t.Errorf("cpio -it lists %q, want %q", got, want)
		}
	}
}

func TestSetupSize(t *testing.T) {
	bz := make([]byte, 0x300)
	copy(bz[0x202:], "HdrS")
	bz[0x1f1] = 27
	if n, err := SetupSize(bz); err != nil || n != 28*512 {
		t.Errorf("setup_sects 27: %d, %v; want %d", n, err, 28*512)
	}
	bz[0x1f1] = 0 // 0 means 4
	if n, err := SetupSize(bz); err != nil || n != 5*512 {
		t.Errorf("setup_sects 0: %d, %v; want %d", n, err, 5*512)
	}
	if _, err := SetupSize(bz[:0x100]); err == nil {
		t.Error("short image accepted")
	}
}

func TestExpectedModes(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	for _, tc := range []struct {
		config string
		want   []string
	}{
		{"CONFIG_DEBUG_INFO_BTF=y\nCONFIG_BPF_JIT=y\nCONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y\nCONFIG_KPROBES=y\nCONFIG_KPROBE_EVENTS=y\n",
			[]string{"fentry", "kprobe", "raw"}},
		{"CONFIG_DEBUG_INFO_BTF=y\n# CONFIG_KPROBES is not set\n", []string{"raw"}},
		{"CONFIG_KPROBES=y\nCONFIG_KPROBE_EVENTS=y\n", []string{"kprobe"}},
	} {
		if err := os.WriteFile(cfg, []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ExpectedModes(cfg)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.config, got, err, tc.want)
		}
	}
}

// TestResolveModules checks the dependency order on Debian's real packages
// (cached by testenv; TestVM needs them anyway).
func TestResolveModules(t *testing.T) {
	testenv.Tool(t, "xz")
	for _, series := range []string{"6.1", "6.12"} {
		t.Run(series, func(t *testing.T) {
			k := testenv.DebianKernel(t, series)
			mods, err := resolveModules(k.ModulesDir(), "virtio_pci", "virtio_blk")
			if err != nil {
				t.Fatal(err)
			}
			if len(mods) == 0 || mods[len(mods)-1].Name != "virtio_blk" {
				t.Fatalf("order %v: want virtio_blk last", moduleNames(mods))
			}
			loaded := map[string]bool{}
			for _, m := range mods {
				if !bytes.HasPrefix(m.Data, []byte("\x7fELF")) {
					t.Errorf("%s: not an uncompressed ELF module", m.Name)
				}
				deps, err := moduleDepends(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range deps {
					if !loaded[modName(d)] && slices.ContainsFunc(mods, func(x module) bool { return x.Name == modName(d) }) {
						t.Errorf("%s comes before its dependency %s", m.Name, d)
					}
				}
				loaded[m.Name] = true
			}
			t.Logf("%s: %v", series, moduleNames(mods))
		})
	}
}

func TestShowCalls(t *testing.T) {
	for name, in := range map[string]string{
		"json array of files": `[{"file":"a","calls":[{"syscall_nr":246,"ret":0,"outcome":"ok"},{"syscall_nr":320,"ret":-22,"outcome":"error"}]}]`,
		"ndjson calls":        "{\"syscall_nr\":246,\"ret\":0,\"outcome\":\"ok\"}\n{\"syscall_nr\":320,\"ret\":-22,\"outcome\":\"error\"}\n",
	} {
		calls, err := showCalls([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(calls) != 2 || calls[0].SyscallNr != 246 || *calls[1].Ret != -22 {
			t.Errorf("%s: %+v", name, calls)
		}
	}
}

// Debian 6.1's BTF names both x64 wrappers twice (the real one and the weak
// stub); 6.12's names each once. The bed expects kexecrec's note on the
// resolution, with these ids, exactly where the kernel's own BTF needs one.
func TestFentryResolutions(t *testing.T) {
	for series, wantNames := range map[string][]string{
		"6.1":  {"__x64_sys_kexec_load", "__x64_sys_kexec_file_load", "__ia32_compat_sys_kexec_load"},
		"6.12": nil,
	} {
		k := testenv.DebianKernel(t, series)
		got, err := FentryResolutions(k.Vmlinuz, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", series, err)
		}
		if len(got) != len(wantNames) {
			t.Errorf("%s: resolutions %v, want one for each of %v", series, got, wantNames)
		}
		for _, name := range wantNames {
			if got[name] == 0 {
				t.Errorf("%s: no BTF id for %s", series, name)
			}
		}
	}
}

// TestResolveIn: symlinks of an unpacked foreign root resolve inside it,
// absolute ones included, through linked directories too.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/aarch64-linux-gnu"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/aarch64-linux-gnu/libc.so.6"), []byte("libc"), 0o644))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.Symlink("/usr/lib/aarch64-linux-gnu/libc.so.6", filepath.Join(root, "usr/lib/aarch64-linux-gnu/libc-abs.so")))
	for _, guest := range []string{"/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc-abs.so"} {
		host, err := resolveIn(root, guest)
		if err != nil {
			t.Fatalf("%s: %v", guest, err)
		}
		if want := filepath.Join(root, "usr/lib/aarch64-linux-gnu/libc.so.6"); host != want {
			t.Errorf("%s resolved to %s, want %s", guest, host, want)
		}
	}
	if _, err := resolveIn(root, "/lib/aarch64-linux-gnu/libz.so.1"); err == nil {
		t.Error("a missing library resolved")
	}
}

// TestForeignLibs: Debian's kexec-tools:arm64 comes with every library it
// loads (libxenctrl's Xen libraries included) and the arm64 loader.
func TestForeignLibs(t *testing.T) {
	testenv.Short(t, "downloads kexec-tools:arm64")
	root, err := testenv.ForeignKexec("arm64")
	if err != nil {
		testenv.Skip(t, fmt.Sprintf("kexec-tools:arm64 not available: %v", err))
	}
	files, err := ForeignLibs(root, "/sbin/kexec", guestArches["arm64"].LibDirs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range files {
		got[path.Base(f.Guest)] = true
		e, err := elf.Open(f.Host)
		if err != nil {
			t.Errorf("%s (%s): %v", f.Guest, f.Host, err)
			continue
		}
		if e.Machine != elf.EM_AARCH64 {
			t.Errorf("%s is %v, want aarch64", f.Guest, e.Machine)
		}
		e.Close()
	}
	for _, want := range []string{"ld-linux-aarch64.so.1", "libc.so.6", "libz.so.1", "libxenctrl.so.4.17"} {
		if !got[want] {
			t.Errorf("%s missing from %v", want, files)
		}
	}
}
