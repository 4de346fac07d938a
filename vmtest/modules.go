package vmtest

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// module is one kernel module of the unpacked kernel package, decompressed.
type module struct {
	Name string // canonical name (underscores)
	Path string // file in the package (.ko or .ko.xz)
	Data []byte // the uncompressed .ko
}

// modName turns a file or dependency name into the kernel's canonical
// module name ("virtio-rng.ko.xz" -> "virtio_rng").
func modName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

// resolveModules returns the modules needed to load wants, dependencies
// first, skipping those built into the kernel. Debian's package ships no
// modules.dep (depmod runs at install time), so the dependencies are read
// from each module's .modinfo "depends=" field.
func resolveModules(modulesDir string, wants ...string) ([]module, error) {
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modulesDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			files[modName(d.Name())] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if f, err := os.Open(filepath.Join(modulesDir, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			builtin[modName(sc.Text())] = true
		}
		f.Close()
	}
	var order []module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		name = modName(name)
		if builtin[name] || state[name] == 2 {
			return nil
		}
		if state[name] == 1 {
			return fmt.Errorf("module dependency cycle at %s", name)
		}
		p, ok := files[name]
		if !ok {
			return fmt.Errorf("module %s: neither built in nor in %s", name, modulesDir)
		}
		state[name] = 1
		data, err := readModule(p)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, module{Name: name, Path: p, Data: data})
		return nil
	}
	for _, w := range wants {
		if err := visit(w); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// readModule returns the uncompressed module (finit_module in the guest
// then needs no in-kernel decompression support).
func readModule(p string) ([]byte, error) {
	if strings.HasSuffix(p, ".ko") {
		return os.ReadFile(p)
	}
	if !strings.HasSuffix(p, ".ko.xz") {
		return nil, fmt.Errorf("%s: unsupported module compression", p)
	}
	out, err := exec.Command("xz", "-dc", p).Output()
	if err != nil {
		return nil, fmt.Errorf("xz -dc %s: %v", p, err)
	}
	return out, nil
}

// moduleDepends reads "depends=" from the .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
