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

// FentryTargets are the syscall wrappers the fentry mode attaches to, the
// optional compat ones included.
var FentryTargets = []string{"__x64_sys_kexec_load", "__x64_sys_kexec_file_load",
	"__ia32_compat_sys_kexec_load", "__x32_compat_sys_kexec_load"}

// FentryResolutions reads the kernel's own BTF (from the vmlinux inside
// vmlinuz) and returns, for every fentry target it names more than once, the
// BTF id of the real syscall wrapper: `long (const struct pt_regs *regs)`,
// where the weak COND_SYSCALL stub names its parameter __unused. Debian
// 6.1's BTF names both wrappers twice; cilium/ebpf refuses such a target by
// name (cilium/ebpf#894), so kexecrec resolves it itself and says so in an
// info note, which the bed compares with this independent reading.
func FentryResolutions(vmlinuz, scratch string) (map[string]btf.TypeID, error) {
	vmlinux, err := extractVmlinux(vmlinuz, scratch)
	if err != nil {
		return nil, err
	}
	defer os.Remove(vmlinux)
	// Only the raw .BTF section: vmlinux is stripped of the symbols that
	// loading BTF from a whole ELF object wants.
	ef, err := elf.Open(vmlinux)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	sec := ef.Section(".BTF")
	if sec == nil {
		return nil, fmt.Errorf("%s: vmlinux has no .BTF section", vmlinuz)
	}
	spec, err := btf.LoadSpecFromReader(io.NewSectionReader(sec, 0, int64(sec.Size)))
	if err != nil {
		return nil, fmt.Errorf("BTF of %s: %w", vmlinuz, err)
	}
	out := map[string]btf.TypeID{}
	for _, name := range FentryTargets {
		types, err := spec.AnyTypesByName(name)
		if errors.Is(err, btf.ErrNotFound) {
			continue // an optional wrapper this kernel does not build
		}
		if err != nil {
			return nil, fmt.Errorf("BTF of %s: %s: %w", vmlinuz, name, err)
		}
		var funcs []*btf.Func
		for _, t := range types {
			if fn, ok := t.(*btf.Func); ok {
				funcs = append(funcs, fn)
			}
		}
		if len(funcs) < 2 {
			continue
		}
		for _, fn := range funcs {
			proto, ok := fn.Type.(*btf.FuncProto)
			if ok && len(proto.Params) == 1 && proto.Params[0].Name == "regs" {
				id, err := spec.TypeID(fn)
				if err != nil {
					return nil, err
				}
				out[name] = id
			}
		}
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("BTF of %s: %d funcs named %s, none with a parameter named regs", vmlinuz, len(funcs), name)
		}
	}
	return out, nil
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
