package vmtest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/cilium/ebpf/btf"
	"github.com/klauspost/compress/zstd"
)

// FentryTargets are the syscall wrappers the fentry mode attaches to.
var FentryTargets = []string{"__x64_sys_kexec_load", "__x64_sys_kexec_file_load"}

// AmbiguousFentryTarget reports the first fentry target that the kernel's
// own BTF (read from the vmlinux inside vmlinuz) names more than once, or ""
// when there is none. Debian 6.1's BTF carries both the real syscall wrapper
// and the weak COND_SYSCALL stub under the same name; cilium/ebpf refuses to
// attach fentry to such a name (cilium/ebpf#894), so on that kernel fentry is
// not a mode kexecrec offers and auto picks kprobe. Reading the BTF makes
// this a property of the kernel package, not a list kept by hand.
func AmbiguousFentryTarget(vmlinuz, scratch string) (string, error) {
	vmlinux, err := extractVmlinux(vmlinuz, scratch)
	if err != nil {
		return "", err
	}
	defer os.Remove(vmlinux)
	// Only the raw .BTF section: vmlinux is stripped of the symbols that
	// loading BTF from a whole ELF object wants.
	ef, err := elf.Open(vmlinux)
	if err != nil {
		return "", err
	}
	defer ef.Close()
	sec := ef.Section(".BTF")
	if sec == nil {
		return "", fmt.Errorf("%s: vmlinux has no .BTF section", vmlinuz)
	}
	spec, err := btf.LoadSpecFromReader(io.NewSectionReader(sec, 0, int64(sec.Size)))
	if err != nil {
		return "", fmt.Errorf("BTF of %s: %w", vmlinuz, err)
	}
	for _, name := range FentryTargets {
		var fn *btf.Func
		err := spec.TypeByName(name, &fn)
		switch {
		case errors.Is(err, btf.ErrMultipleMatches):
			return name, nil
		case err != nil:
			return "", fmt.Errorf("BTF of %s: %s: %w", vmlinuz, name, err)
		}
	}
	return "", nil
}

// extractVmlinux decompresses the kernel ELF from a bzImage: the setup
// header's payload_offset/payload_length (0x248/0x24C, relative to the
// protected-mode code) locate the compressed payload, whose last four bytes
// are the decompressed size appended by the kernel build.
func extractVmlinux(vmlinuz, scratch string) (string, error) {
	bz, err := os.ReadFile(vmlinuz)
	if err != nil {
		return "", err
	}
	setup, err := SetupSize(bz)
	if err != nil {
		return "", err
	}
	off := setup + int(binary.LittleEndian.Uint32(bz[0x248:]))
	n := int(binary.LittleEndian.Uint32(bz[0x24c:]))
	if n < 4 || off+n > len(bz) {
		return "", fmt.Errorf("%s: payload %d+%d outside the file", vmlinuz, off, n)
	}
	payload := bz[off : off+n-4]
	out := filepath.Join(scratch, filepath.Base(vmlinuz)+".vmlinux")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	switch {
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(bytes.NewReader(payload), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return "", err
		}
		defer d.Close()
		if _, err := io.Copy(f, d); err != nil {
			return "", fmt.Errorf("%s: zstd payload: %w", vmlinuz, err)
		}
	case bytes.HasPrefix(payload, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		// Debian's xz kernels use the x86 BCJ filter: xz(1) knows it.
		cmd := exec.Command("xz", "-dc", "--single-stream")
		var stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(payload), f, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s: xz payload: %v %s", vmlinuz, err, bytes.TrimSpace(stderr.Bytes()))
		}
	default:
		return "", fmt.Errorf("%s: payload compression not handled (magic % x)", vmlinuz, payload[:min(6, len(payload))])
	}
	return out, f.Close()
}
