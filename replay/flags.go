package replay

import (
	"fmt"
	"strconv"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"golang.org/x/sys/unix"
)

// Names below follow docs/kexec-facts.md (kernel UAPI headers):
// every known bit by name, every unknown bit as hex, never dropped, because
// an unknown bit is itself evidence (a newer tool, a probe, an exploit).

type flagBit struct {
	bit  uint64
	name string
}

var kexecLoadBits = []flagBit{
	{0x1, "KEXEC_ON_CRASH"},
	{0x2, "KEXEC_PRESERVE_CONTEXT"},
	{0x4, "KEXEC_UPDATE_ELFCOREHDR"},
	{0x8, "KEXEC_CRASH_HOTPLUG_SUPPORT"},
	// Not in any kernel: a proposed patch that kexec-tools -d already sends.
	{0x10, "KEXEC_DEBUG(proposed)"},
}

var kexecFileLoadBits = []flagBit{
	{0x1, "KEXEC_FILE_UNLOAD"},
	{0x2, "KEXEC_FILE_ON_CRASH"},
	{0x4, "KEXEC_FILE_NO_INITRAMFS"},
	{0x8, "KEXEC_FILE_DEBUG"},
	{0x10, "KEXEC_FILE_NO_CMA"},
	{0x20, "KEXEC_FILE_FORCE_DTB"},
}

// kexecArchMask selects kexec_load's architecture field (KEXEC_ARCH_MASK).
const kexecArchMask = 0xffff0000

var kexecArchNames = map[uint64]string{
	0x0:       "KEXEC_ARCH_DEFAULT",
	0x30000:   "KEXEC_ARCH_386",
	0x40000:   "KEXEC_ARCH_68K",
	0x80000:   "KEXEC_ARCH_MIPS",
	0xA0000:   "KEXEC_ARCH_MIPS_LE",
	0xF0000:   "KEXEC_ARCH_PARISC",
	0x140000:  "KEXEC_ARCH_PPC",
	0x150000:  "KEXEC_ARCH_PPC64",
	0x160000:  "KEXEC_ARCH_S390",
	0x280000:  "KEXEC_ARCH_ARM",
	0x2A0000:  "KEXEC_ARCH_SH",
	0x320000:  "KEXEC_ARCH_IA_64",
	0x3E0000:  "KEXEC_ARCH_X86_64",
	0xB70000:  "KEXEC_ARCH_AARCH64",
	0xF30000:  "KEXEC_ARCH_RISCV",
	0x1020000: "KEXEC_ARCH_LOONGARCH",
}

func hexBits(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

func bitNames(flags uint64, bits []flagBit) []string {
	names := []string{}
	for _, b := range bits {
		if flags&b.bit != 0 {
			names = append(names, b.name)
			flags &^= b.bit
		}
	}
	// Remaining bits one by one, lowest first, so each unknown bit is visible.
	for bit := uint64(1); flags != 0 && bit != 0; bit <<= 1 {
		if flags&bit != 0 {
			names = append(names, hexBits(bit))
			flags &^= bit
		}
	}
	return names
}

// KexecLoadFlags names kexec_load flags: the architecture field first (by
// name, or "KEXEC_ARCH_0x..." when unknown), then the known bits, then
// unknown bits in hex (bits 32-63 included: the kernel ignores them, but a
// caller set them). It returns the names and the architecture name.
func KexecLoadFlags(flags uint64) (names []string, arch string) {
	archVal := flags & kexecArchMask
	arch, ok := kexecArchNames[archVal]
	if !ok {
		arch = "KEXEC_ARCH_" + hexBits(archVal)
	}
	names = append([]string{arch}, bitNames(flags&^kexecArchMask, kexecLoadBits)...)
	return names, arch
}

// KexecFileLoadFlags names kexec_file_load flags; unknown bits in hex.
func KexecFileLoadFlags(flags uint64) []string {
	return bitNames(flags, kexecFileLoadBits)
}

// ErrnoName returns "EPERM" for 1 and so on ("errno 4000" when unknown).
// Linux errno numbers are the same on x86 and arm (only alpha, mips, parisc
// and sparc differ, and kexecrec does not record those).
func ErrnoName(errno int64) string {
	if errno > 0 && errno < 4096 {
		if n := unix.ErrnoName(unix.Errno(errno)); n != "" {
			return n
		}
		switch errno {
		case 512:
			return "ERESTARTSYS"
		case 513:
			return "ERESTARTNOINTR"
		case 514:
			return "ERESTARTNOHAND"
		case 516:
			return "ERESTART_RESTARTBLOCK"
		}
	}
	return fmt.Sprintf("errno %d", errno)
}

// SyscallName names a syscall number of an ABI (layout.ABI*), or "" when it
// is not a kexec syscall there.
func SyscallName(abi uint32, nr uint32) string {
	switch abi {
	case layout.ABIX64:
		switch nr {
		case 246:
			return "kexec_load"
		case 320:
			return "kexec_file_load"
		}
	case layout.ABIIA32:
		if nr == 283 {
			return "kexec_load"
		}
	case layout.ABIX32:
		switch nr &^ 0x40000000 { // __X32_SYSCALL_BIT
		case 528:
			return "kexec_load"
		case 320:
			return "kexec_file_load"
		}
	case layout.ABIARM64:
		switch nr {
		case 104:
			return "kexec_load"
		case 294:
			return "kexec_file_load"
		}
	case layout.ABIAArch32:
		switch nr {
		case 347:
			return "kexec_load"
		case 401:
			return "kexec_file_load"
		}
	}
	return ""
}

// enumNames names the values of one of the record layout's small enums; a
// value without a name (from a newer recorder) prints as "prefix-N", so it
// stays visible instead of becoming "". Names sit in a slice indexed by
// value: the decoder names every record it reads.
type enumNames[T ~uint16 | ~uint32] struct {
	prefix string
	names  []string // by value; "" where a value has no name
}

func newEnumNames[T ~uint16 | ~uint32](prefix string, m map[T]string) enumNames[T] {
	var top T
	for v := range m {
		top = max(top, v)
	}
	names := make([]string, int(top)+1)
	for v, n := range m {
		names[v] = n
	}
	return enumNames[T]{prefix, names}
}

func (e enumNames[T]) name(v T) string {
	if uint64(v) < uint64(len(e.names)) && e.names[v] != "" {
		return e.names[v]
	}
	return fmt.Sprintf("%s-%d", e.prefix, v)
}

var (
	abiNames = newEnumNames("abi", map[uint32]string{
		layout.ABIX64: "x86_64", layout.ABIIA32: "ia32", layout.ABIX32: "x32", layout.ABIARM64: "arm64",
		layout.ABIAArch32: "aarch32"})
	// Hook names are the header's AttachMode values.
	hookNames = newEnumNames("hook", map[uint32]string{
		layout.HookFentry: "fentry", layout.HookKprobe: "kprobe", layout.HookRawSyscall: "raw"})
	kindNames = newEnumNames("kind", map[uint32]string{
		layout.KindSegment: "segment", layout.KindKernel: "kernel", layout.KindInitrd: "initrd", layout.KindCmdline: "cmdline",
		layout.KindLoaded: "loaded", layout.KindLoadedTail: "loaded-tail"})
	sourceNames = newEnumNames("source", map[uint16]string{
		layout.SrcSyscallEntry: "syscall-entry", layout.SrcKernelRead: "kernel-read", layout.SrcKernelPages: "kernel-pages"})
)

// ABIName names a layout.ABI* value.
func ABIName(abi uint32) string { return abiNames.name(abi) }

// HookName names a layout.Hook* value as the header's AttachMode does.
func HookName(hook uint32) string { return hookNames.name(hook) }

// KindName names a payload kind (layout.Kind*).
func KindName(kind uint32) string { return kindNames.name(kind) }

// SourceName names where payload bytes were read (layout.Src*).
func SourceName(src uint16) string { return sourceNames.name(src) }
