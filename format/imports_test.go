package format

import (
	"errors"
	"go/build"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoKexecImports: the container format knows nothing about kexec. No
// package under format/, none of their tests and nothing they import from
// this module imports the bpf packages (bpf, bpf/layout): what a capture's
// records mean belongs to internal/content and replay, not here.
func TestNoKexecImports(t *testing.T) {
	const module = "github.com/kexecrec/kexecrec"
	forbidden := func(imp string) bool { return imp == module+"/bpf" || strings.HasPrefix(imp, module+"/bpf/") }

	type pkg struct {
		path  string // import path
		tests bool   // also follow its test imports (packages under format/)
	}
	var queue []pkg
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		queue = append(queue, pkg{path.Join(module, "format", filepath.ToSlash(p)), true})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	checked := 0
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p.path] {
			continue
		}
		seen[p.path] = true
		dir := filepath.Join("..", filepath.FromSlash(strings.TrimPrefix(p.path, module)))
		bp, err := build.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		checked++
		imports := bp.Imports
		if p.tests {
			imports = append(append(imports, bp.TestImports...), bp.XTestImports...)
		}
		for _, imp := range imports {
			if forbidden(imp) {
				t.Errorf("%s imports %s: the container package tree must not know kexec records", p.path, imp)
			}
			if strings.HasPrefix(imp, module+"/") {
				queue = append(queue, pkg{imp, false})
			}
		}
	}
	if !seen[module+"/format"] || checked == 0 {
		t.Fatalf("checked %d packages (%v): the walk did not find format itself", checked, seen)
	}
}
