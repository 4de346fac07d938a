package identify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// tree is a small initramfs source tree built by the test, with the listing
// the cpio tool must produce from it.
type tree struct {
	dir   string
	files map[string]string // path -> sha256 of regular files
	links map[string]string // path -> target
}

func makeTree(t *testing.T, tag string) tree {
	t.Helper()
	dir := t.TempDir()
	tr := tree{dir: dir, files: map[string]string{}, links: map[string]string{}}
	write := func(p, content string, mode os.FileMode) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256([]byte(content))
		tr.files[p] = hex.EncodeToString(s[:])
	}
	write("init", "#!/bin/sh\n# "+tag+"\nexec /bin/sh\n", 0o755)
	write("etc/hostname", "kexecrec-"+tag+"\n", 0o644)
	write("empty", "", 0o644)
	// Something that does not compress to nothing, and is not 4-aligned.
	big := make([]byte, 100003)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	write("lib/blob.bin", string(big), 0o644)
	if err := os.Symlink("/init", filepath.Join(dir, "sbin-init")); err != nil {
		t.Fatal(err)
	}
	tr.links["sbin-init"] = "/init"
	return tr
}

// cpioArchive runs the cpio tool over the tree (format "newc" or "crc").
func cpioArchive(t *testing.T, tr tree, format string) []byte {
	t.Helper()
	testenv.Tool(t, "cpio")
	var names []string
	filepath.Walk(tr.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && p != tr.dir {
			rel, _ := filepath.Rel(tr.dir, p)
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	cmd := exec.Command("cpio", "-o", "-H", format, "--quiet")
	cmd.Dir = tr.dir
	cmd.Stdin = strings.NewReader(strings.Join(names, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio: %v", err)
	}
	return out
}

// compress pipes b through a compressor command.
func compressWith(t *testing.T, b []byte, argv ...string) []byte {
	t.Helper()
	testenv.Tool(t, argv[0])
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return out
}

func checkListing(t *testing.T, a Archive, tr tree) {
	t.Helper()
	got := map[string]CpioFile{}
	for _, f := range a.Files {
		got[f.Path] = f
	}
	for p, sum := range tr.files {
		f, ok := got[p]
		if !ok {
			t.Errorf("archive at %d (%s): %s missing; have %v", a.Offset, a.Compression, p, a.Files)
			continue
		}
		if f.SHA256 != sum {
			t.Errorf("%s: sha256 %s, want %s", p, f.SHA256, sum)
		}
		if f.Mode&0o170000 != 0o100000 {
			t.Errorf("%s: mode %o is not a regular file", p, f.Mode)
		}
	}
	for p, target := range tr.links {
		if f := got[p]; f.Link != target || f.Mode&0o170000 != 0o120000 {
			t.Errorf("%s: link %q mode %o, want -> %q", p, f.Link, f.Mode, target)
		}
	}
	if d, ok := got["etc"]; !ok || d.Mode&0o170000 != 0o040000 {
		t.Errorf("directory etc missing or not a directory: %+v", d)
	}
	if got["init"].Mode&0o777 != 0o755 {
		t.Errorf("init mode %o, want 0755", got["init"].Mode)
	}
}

func TestInitramfsCompressors(t *testing.T) {
	tr := makeTree(t, "main")
	plain := cpioArchive(t, tr, "newc")
	cases := []struct {
		name string
		argv []string
	}{
		{compGzip, []string{"gzip", "-9", "-c"}},
		{compXZ, []string{"xz", "--check=crc32", "-c"}},
		{compXZ, []string{"xz", "--check=crc64", "-T2", "--block-size=32KiB", "-c"}}, // several blocks
		{compXZ, []string{"xz", "--check=sha256", "-c"}},
		{compLZMA, []string{"xz", "--format=lzma", "-c"}},
		{compZstd, []string{"zstd", "-q", "-19", "-c"}},
		{compLZ4, []string{"lz4", "-l", "-q", "-c"}}, // legacy format, as the kernel wants
		{compBzip2, []string{"bzip2", "-c"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.argv, "_"), func(t *testing.T) {
			data := compressWith(t, plain, c.argv...)
			r := Identify(bytes.NewReader(data), int64(len(data)), Options{})
			if r.Type != "initramfs" || r.Compression != c.name {
				t.Fatalf("type %q compression %q, want initramfs/%s; warnings %v", r.Type, r.Compression, c.name, r.Warnings)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings: %v", r.Warnings)
			}
			if len(r.Initramfs.Archives) != 1 {
				t.Fatalf("%d archives, want 1", len(r.Initramfs.Archives))
			}
			checkListing(t, r.Initramfs.Archives[0], tr)
			if !strings.Contains(r.Summary, "/init sha256 "+tr.files["init"][:16]) {
				t.Errorf("summary %q does not name /init's hash", r.Summary)
			}
		})
	}
}

func TestInitramfsUncompressedAndCRC(t *testing.T) {
	tr := makeTree(t, "crc")
	for _, format := range []string{"newc", "crc"} {
		data := cpioArchive(t, tr, format)
		r := Identify(bytes.NewReader(data), int64(len(data)), Options{})
		if r.Type != "initramfs" || r.Compression != "none" || len(r.Warnings) != 0 {
			t.Fatalf("%s: %+v", format, r)
		}
		checkListing(t, r.Initramfs.Archives[0], tr)
		if format == "crc" {
			// Corrupt one data byte of /init: the 070702 checksum must catch it.
			i := bytes.Index(data, []byte("exec /bin/sh"))
			bad := bytes.Clone(data)
			bad[i] ^= 1
			r := Identify(bytes.NewReader(bad), int64(len(bad)), Options{})
			if !hasWarning(r, "cpio crc mismatch for init") {
				t.Errorf("corrupted crc archive: warnings %v", r.Warnings)
			}
		}
	}
}

// The layout distributions ship: an uncompressed early-microcode archive,
// then the real one compressed (and, for gzip and xz, something after it).
func TestInitramfsConcatenated(t *testing.T) {
	early := makeTree(t, "early")
	main := makeTree(t, "main")
	first := cpioArchive(t, early, "newc")
	for _, comp := range [][]string{{"gzip", "-c"}, {"xz", "--check=crc32", "-c"}, {"zstd", "-q", "-c"}} {
		t.Run(comp[0], func(t *testing.T) {
			second := compressWith(t, cpioArchive(t, main, "newc"), comp...)
			data := append(bytes.Clone(first), make([]byte, 512)...) // NUL padding is allowed between
			off2 := len(data)
			data = append(data, second...)
			exact := comp[0] != "zstd"
			if exact {
				// A third, uncompressed archive after the compressed one.
				data = append(data, first...)
			}
			r := Identify(bytes.NewReader(data), int64(len(data)), Options{})
			if r.Type != "initramfs" {
				t.Fatalf("%+v", r)
			}
			want := 2
			if exact {
				want = 3
			}
			as := r.Initramfs.Archives
			if len(as) != want {
				t.Fatalf("%d archives, want %d: %+v; warnings %v", len(as), want, as, r.Warnings)
			}
			if as[0].Offset != 0 || as[0].Compression != "none" || as[1].Offset != int64(off2) {
				t.Errorf("archives at %d/%s and %d, want 0/none and %d", as[0].Offset, as[0].Compression, as[1].Offset, off2)
			}
			checkListing(t, as[0], early)
			checkListing(t, as[1], main)
			if exact {
				checkListing(t, as[2], early)
			}
			if !strings.HasPrefix(r.Compression, "none+") {
				t.Errorf("compression %q", r.Compression)
			}
		})
	}
}

func TestInitramfsLZO(t *testing.T) {
	tr := makeTree(t, "lzo")
	data := compressWith(t, cpioArchive(t, tr, "newc"), "lzop", "-c")
	r := Identify(bytes.NewReader(data), int64(len(data)), Options{})
	if r.Compression != compLZO || !hasWarning(r, "lzo (not decompressed") || !strings.Contains(r.Summary, "could not be decompressed") {
		t.Fatalf("%+v", r)
	}
}

func hasWarning(r *Report, sub string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}
