package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// foreignKexecPackages are Debian 12's kexec-tools for another architecture
// and the packages of every shared library it loads (its libxenctrl pulls
// in the Xen libraries). The bed checks that they resolve every library
// (vmtest's guest file closure), so a missing one fails by name.
var foreignKexecPackages = []string{
	"kexec-tools", "libc6", "zlib1g", "libxenmisc4.17", "libxencall1", "libxendevicemodel1",
	"libxenevtchn1", "libxenforeignmemory1", "libxengnttab1", "libxenhypfs1", "libxenstore4",
	"libxentoollog1", "libxentoolcore1", "libyajl2", "libext2fs2", "libfdt1", "libuuid1", "libcom-err2",
}

// ForeignKexec returns the root of Debian's kexec-tools for arch (a GOARCH
// other than the host's, e.g. arm64) unpacked with its libraries into
// CacheDir (apt-get download of "pkg:arch", dpkg-deb -x; nothing is
// installed). The architecture must be known to dpkg
// (dpkg --add-architecture arm64; apt-get update: .ci/setup does it).
func ForeignKexec(arch string) (string, error) {
	dir := filepath.Join(CacheDir(), "kexec-tools-"+arch)
	root := filepath.Join(dir, "root")
	stamp := strings.Join(foreignKexecPackages, " ") + "\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(dir, "packages")); err == nil && string(b) == stamp {
		return root, nil
	}
	tmp, err := os.MkdirTemp(dir, "dl-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	var pkgs []string
	for _, p := range foreignKexecPackages {
		pkgs = append(pkgs, p+":"+arch)
	}
	if err := downloadUnpack(tmp, filepath.Join(tmp, "root"), pkgs...); err != nil {
		return "", fmt.Errorf("kexec-tools:%s: %v", arch, err)
	}
	os.RemoveAll(root)
	if err := os.Rename(filepath.Join(tmp, "root"), root); err != nil {
		return "", err
	}
	return root, os.WriteFile(filepath.Join(dir, "packages"), []byte(stamp), 0o644)
}
