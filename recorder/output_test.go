package recorder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenOutput creates the first file at once (0600) and hands it to the
// recorder as part 0; later parts are created as they come.
func TestOpenOutputCreatesFirstFile(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	out, err := OpenOutput(OutputConfig{Base: base, Rotating: true})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(base)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 0 {
		t.Fatalf("first file before recording: %v %v", fi, err)
	}
	f0, err := out.Create(0)
	if err != nil || f0.Name() != base {
		t.Fatalf("part 0: %v %v", f0, err)
	}
	if _, err := out.Create(0); err == nil {
		t.Error("part 0 handed out twice")
	}
	f1, err := out.Create(1)
	if err != nil || f1.Name() != base+".1" {
		t.Fatalf("part 1: %v", err)
	}
	f0.Close()
	f1.Close()
	out.Abandon() // the recorder has the file: nothing to remove
	if _, err := os.Stat(base); err != nil {
		t.Errorf("Abandon after the recorder took the file removed it: %v", err)
	}
}

// A recording that never starts leaves no empty capture behind.
func TestOpenOutputAbandon(t *testing.T) {
	base := filepath.Join(t.TempDir(), "cap.zst")
	out, err := OpenOutput(OutputConfig{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	out.Abandon()
	if _, err := os.Lstat(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned output still there: %v", err)
	}
}

func TestOpenOutputRefusals(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.zst")
	os.WriteFile(existing, []byte("keep"), 0o600)
	os.WriteFile(filepath.Join(dir, "set.zst.3"), []byte("keep"), 0o600)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	for _, tc := range []struct {
		c    OutputConfig
		want string
	}{
		{OutputConfig{Base: existing}, "exists"},
		{OutputConfig{Base: filepath.Join(dir, "set.zst"), Rotating: true}, "set.zst.3: output file exists"},
		{OutputConfig{Base: sub, Force: true}, "a directory, not a capture"},
		{OutputConfig{Base: "/dev/null", Force: true}, "a device, not a capture"},
		{OutputConfig{Base: "/proc/version", Force: true}, "a kernel interface file"},
		{OutputConfig{Base: filepath.Join(dir, "missing", "cap.zst")}, "no such file or directory"},
	} {
		out, err := OpenOutput(tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want an error with %q", tc.c, err, tc.want)
		}
		if out != nil {
			out.Abandon()
		}
	}
	for _, name := range []string{existing, filepath.Join(dir, "set.zst.3")} {
		if b, _ := os.ReadFile(name); string(b) != "keep" {
			t.Errorf("%s changed", name)
		}
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("directory %s removed", sub)
	}
	// --force on a regular file replaces it.
	out, err := OpenOutput(OutputConfig{Base: existing, Force: true})
	if err != nil || len(out.Replaced) != 1 || out.Replaced[0] != existing {
		t.Fatalf("--force on a capture: %v %+v", err, out)
	}
	if b, _ := os.ReadFile(existing); len(b) != 0 {
		t.Errorf("replaced file still holds %q", b)
	}
	out.Abandon()
}
