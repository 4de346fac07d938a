package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Kernel is a Debian kernel package unpacked into the cache.
type Kernel struct {
	Series  string // "6.1", "6.12", or with an architecture: "6.12-arm64"
	Arch    string // GOARCH of the kernel: "amd64" or "arm64"
	Package string // e.g. linux-image-6.1.0-50-amd64
	Release string // uname -r of that kernel, e.g. 6.1.0-50-amd64
	Root    string // the unpacked package (boot/, lib/modules/...)
	Vmlinuz string // Root/boot/vmlinuz-Release
	Config  string // Root/boot/config-Release
}

// ModulesDir is lib/modules/<release> inside the unpacked package.
func (k Kernel) ModulesDir() string { return filepath.Join(k.Root, "lib", "modules", k.Release) }

// CacheDir is where downloaded packages live between runs:
// $KEXECREC_CACHE, else /var/cache/kexecrec (root) or the user cache dir.
func CacheDir() string {
	if d := os.Getenv("KEXECREC_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/kexecrec"
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kexecrec-cache")
	}
	return filepath.Join(d, "kexecrec")
}

// Debian kernel package names per series: the plain signed flavour of
// amd64, or of arm64 for a series named "-arm64".
var kernelPackagePattern = map[string]*regexp.Regexp{
	"6.1":        regexp.MustCompile(`^linux-image-(6\.1\.0-(\d+)-amd64)$`),
	"6.12":       regexp.MustCompile(`^linux-image-(6\.12\.(\d+)\+deb\d+-amd64)$`),
	"6.1-arm64":  regexp.MustCompile(`^linux-image-(6\.1\.0-(\d+)-arm64)$`),
	"6.12-arm64": regexp.MustCompile(`^linux-image-(6\.12\.(\d+)\+deb\d+-arm64)$`),
}

// SeriesArch is the GOARCH of a kernel series' name ("6.12-arm64": arm64).
func SeriesArch(series string) string {
	if strings.HasSuffix(series, "-arm64") {
		return "arm64"
	}
	return "amd64"
}

// DebianKernel returns the newest Debian kernel of a series ("6.1", "6.12")
// that apt knows, downloading it with `apt-get download` (package registry
// only) and unpacking it into CacheDir on first use. Concurrent test
// processes are serialised with a lock file.
func DebianKernel(t testing.TB, series string) Kernel {
	t.Helper()
	k, err := FetchDebianKernel(series)
	if err != nil {
		Skip(t, fmt.Sprintf("Debian %s kernel not available: %v", series, err))
	}
	return k
}

// FetchDebianKernel is DebianKernel without a testing.TB (for harnesses).
func FetchDebianKernel(series string) (Kernel, error) {
	re, ok := kernelPackagePattern[series]
	if !ok {
		return Kernel{}, fmt.Errorf("unknown kernel series %q", series)
	}
	dir := filepath.Join(CacheDir(), "kernels")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Kernel{}, err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return Kernel{}, err
	}
	defer unlock()

	pkg, release, err := newestPackage(re)
	if err != nil {
		return Kernel{}, err
	}
	k := Kernel{Series: series, Arch: SeriesArch(series), Package: pkg, Release: release, Root: filepath.Join(dir, pkg)}
	k.Vmlinuz = filepath.Join(k.Root, "boot", "vmlinuz-"+release)
	k.Config = filepath.Join(k.Root, "boot", "config-"+release)
	if _, err := os.Stat(k.Vmlinuz); err == nil {
		return k, nil
	}
	// Download into a scratch dir, unpack, then rename into place, so that an
	// interrupted run never leaves a half-unpacked tree that looks complete.
	tmp, err := os.MkdirTemp(dir, "dl-")
	if err != nil {
		return Kernel{}, err
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	if err := downloadUnpack(tmp, root, pkg+":"+k.Arch); err != nil {
		return Kernel{}, err
	}
	if err := os.Rename(root, k.Root); err != nil {
		return Kernel{}, err
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return Kernel{}, fmt.Errorf("%s has no vmlinuz: %v", pkg, err)
	}
	return k, nil
}

// newestPackage asks apt for the package names matching re and returns the
// one with the highest ABI/patch number.
func newestPackage(re *regexp.Regexp) (pkg, release string, err error) {
	find := func() ([]string, error) {
		out, err := exec.Command("apt-cache", "pkgnames", "linux-image-6.").Output()
		if err != nil {
			return nil, fmt.Errorf("apt-cache pkgnames: %v", err)
		}
		var names []string
		for _, n := range strings.Fields(string(out)) {
			if re.MatchString(n) {
				names = append(names, n)
			}
		}
		return names, nil
	}
	names, err := find()
	if err == nil && len(names) == 0 && os.Geteuid() == 0 {
		// A fresh machine has empty lists: update once and look again.
		if out, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			return "", "", fmt.Errorf("apt-get update: %v: %s", uerr, LastLine(string(out)))
		}
		names, err = find()
	}
	if err != nil {
		return "", "", err
	}
	if len(names) == 0 {
		return "", "", fmt.Errorf("no package matches %s", re)
	}
	num := func(n string) int { v, _ := strconv.Atoi(re.FindStringSubmatch(n)[2]); return v }
	sort.Slice(names, func(i, j int) bool { return num(names[i]) > num(names[j]) })
	return names[0], re.FindStringSubmatch(names[0])[1], nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// LastLine is the last non-empty line of a command's output: what goes
// into a one-line error.
func LastLine(out string) string {
	s := strings.TrimSpace(out)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// downloadUnpack downloads Debian packages (apt-get download, "name:arch"
// for a foreign architecture) into dir and unpacks each into root with
// dpkg-deb -x: nothing is installed.
func downloadUnpack(dir, root string, pkgs ...string) error {
	dl := exec.Command("apt-get", append([]string{"download"}, pkgs...)...)
	dl.Dir = dir
	if out, err := dl.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %v: %s", strings.Join(pkgs, " "), err, LastLine(string(out)))
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != len(pkgs) {
		return fmt.Errorf("apt-get download %s: got %d .deb files", strings.Join(pkgs, " "), len(debs))
	}
	for _, deb := range debs {
		if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %v: %s", filepath.Base(deb), err, LastLine(string(out)))
		}
	}
	return nil
}
