package vmtest

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// guestArch is what differs between the guest machines the bed boots.
type guestArch struct {
	Qemu     string   // qemu system emulator
	Machine  []string // machine and CPU arguments
	MemoryMB int
	Console  string // the kernel's serial console
	// DriveArgs attach the results disk as a virtio block device.
	DriveArgs func(disk string) []string
	// Syscall facts of the native ABI (docs/kexec-facts.md).
	ABI            uint32
	NrLoad, NrFile uint32
	// ArchFlag is the KEXEC_ARCH_* value kexec-tools puts in the top 16
	// bits of kexec_load's flags.
	ArchFlag uint64
	// LibDirs are where the guest's dynamic loader looks for libraries.
	LibDirs []string
	// FirstModeOnly (plan.Plan) are the scenarios run in the first mode
	// only, and no getppid rounds: TCG emulating another architecture
	// makes each scenario several times slower than on amd64 guests.
	FirstModeOnly []string
	// Skip (plan.Plan) are scenarios this guest does not run.
	Skip []string
	// Trigger32 is the GOARCH cmd/kexec-trigger is built for to call as a
	// 32-bit (compat) task in the AArch32 scenario ("": none, the scenario
	// is skipped).
	Trigger32 string
	// RingBuf is the recorder's --ringbuf-size ("" = its default). With one
	// guest CPU no hook waits for ring space (the reader cannot run while a
	// hook holds the CPU), so every payload of one call must fit at once.
	RingBuf string
}

var guestArches = map[string]guestArch{
	"amd64": {
		Qemu: "qemu-system-x86_64", MemoryMB: 1024, Console: "ttyS0",
		DriveArgs: func(disk string) []string {
			return []string{"-drive", "file=" + disk + ",format=raw,if=virtio,cache=unsafe"}
		},
		ABI: layout.ABIX64, NrLoad: 246, NrFile: 320, ArchFlag: 0x3e0000,
		LibDirs: []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64"},
		// ia32 and x32 callers are covered by the recorder's privileged
		// tests on the host (recorder/privileged_test.go).
		Skip: []string{plan.AArch32},
	},
	// The dtb kexec-tools passes to the next kernel is the machine's own,
	// dumped by qemu with the same machine, CPU, memory and CPU count
	// (dtb-randomness=off: no kaslr-seed or rng-seed, so the same bytes on
	// every dump). Debian's arm64 kernel is 44 MB uncompressed: 2 GiB
	// leaves room for the initramfs, two loaded images, the crash kernel
	// and the captures.
	"arm64": {
		Qemu: "qemu-system-aarch64", Machine: []string{"-M", "virt,dtb-randomness=off", "-cpu", "cortex-a72"},
		MemoryMB: 2048, Console: "ttyAMA0",
		DriveArgs: func(disk string) []string {
			return []string{"-drive", "file=" + disk + ",format=raw,if=none,id=out,cache=unsafe", "-device", "virtio-blk-pci,drive=out"}
		},
		ABI: layout.ABIARM64, NrLoad: 104, NrFile: 294, ArchFlag: 0xb70000,
		LibDirs: []string{"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"},
		// kexec -l (the 44 MB Image, initrd, dtb) in every mode; the rest once.
		FirstModeOnly: []string{plan.FileLoad, plan.Crash, plan.Unload, plan.NoPerm, plan.BadFlags, plan.Disabled},
		// The race is caught by the read-back, which kexecrec does on x86-64 only.
		Skip: []string{plan.Race},
		// Debian's arm64 kernels have CONFIG_COMPAT, and qemu's cortex-a72
		// runs AArch32 at EL0: a 32-bit ARM binary runs as a compat task.
		Trigger32: "arm",
		RingBuf:   "64M", // the 44 MB Image, initrd, dtb and purgatory of one kexec_load
	},
}

// DumpDTB has qemu write the device tree of the arm64 machine the bed boots
// (-M virt,...,dumpdtb=FILE; qemu exits once it is written).
func DumpDTB(a guestArch, smp int, out string) error {
	machine := append([]string(nil), a.Machine...)
	machine[1] += ",dumpdtb=" + out
	args := append(machine, "-m", fmt.Sprint(a.MemoryMB), "-smp", fmt.Sprint(smp), "-nodefaults", "-display", "none")
	if b, err := exec.Command(a.Qemu, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s dumpdtb: %v: %s", a.Qemu, err, b)
	}
	return nil
}

// GuestFile is a file of the initramfs copied from the host.
type GuestFile struct{ Guest, Host string }

// GuestTools are the programs one guest architecture runs.
type GuestTools struct {
	Arch      string
	Kexecrec  string      // static kexecrec for the guest
	Agent     string      // static guest agent
	Trigger32 string      // static cmd/kexec-trigger for the guest's 32-bit ABI ("" = none)
	Kexec     string      // kexec-tools binary on the host
	Files     []GuestFile // kexec's shared libraries and its loader
}

// ForeignLibs lists the loader and the shared libraries (the closure of
// DT_NEEDED) a binary of an unpacked foreign root needs, at the guest paths
// the loader looks in. Symlinks resolve inside root.
func ForeignLibs(root, bin string, libDirs []string) ([]GuestFile, error) {
	var files []GuestFile
	seen := map[string]bool{}
	var visit func(guest string) error
	visit = func(guest string) error {
		host, err := resolveIn(root, guest)
		if err != nil {
			return err
		}
		f, err := elf.Open(host)
		if err != nil {
			return fmt.Errorf("%s: %v", guest, err)
		}
		defer f.Close()
		needs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %v", guest, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return err
				}
				interp := strings.TrimRight(string(b), "\x00")
				if !seen[interp] {
					seen[interp] = true
					ih, err := resolveIn(root, interp)
					if err != nil {
						return fmt.Errorf("loader of %s: %v", guest, err)
					}
					files = append(files, GuestFile{interp, ih})
				}
			}
		}
		for _, n := range needs {
			if seen[n] {
				continue
			}
			seen[n] = true
			found := ""
			for _, d := range libDirs {
				if _, err := resolveIn(root, path.Join(d, n)); err == nil {
					found = path.Join(d, n)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s: not in the unpacked packages (%s)", guest, n, strings.Join(libDirs, ", "))
			}
			h, _ := resolveIn(root, found)
			files = append(files, GuestFile{found, h})
			if err := visit(found); err != nil {
				return err
			}
		}
		return nil
	}
	return files, visit(bin)
}

// resolveIn follows a guest path's symlinks inside root (absolute links
// point into root, not at the host's files).
func resolveIn(root, guest string) (string, error) {
	p := guest
	for range 16 {
		host := filepath.Join(root, p)
		// Resolve the directories first (/lib may itself be a link).
		dir, err := resolveDir(root, path.Dir(p))
		if err != nil {
			return "", err
		}
		host = filepath.Join(root, dir, path.Base(p))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return host, nil
		}
		t, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if !path.IsAbs(t) {
			t = path.Join(dir, t)
		}
		p = t
	}
	return "", fmt.Errorf("%s: too many symlinks", guest)
}

func resolveDir(root, dir string) (string, error) {
	if dir == "/" || dir == "." {
		return "/", nil
	}
	parent, err := resolveDir(root, path.Dir(dir))
	if err != nil {
		return "", err
	}
	p := path.Join(parent, path.Base(dir))
	for range 16 {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return p, nil // a missing directory fails at the file
		}
		t, err := os.Readlink(filepath.Join(root, p))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = t
	}
	return "", fmt.Errorf("%s: too many symlinks", dir)
}
