package bpf

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The committed objects, one per architecture (gen.go: -target amd64,arm64).
// A Go build embeds only its own architecture's, so these tests read both
// from the files: the record layout is one contract whatever the machine.
var objectFiles = map[string]string{
	"x86":   "kexecrec_x86_bpfel.o",
	"arm64": "kexecrec_arm64_bpfel.o",
}

// recordSizes are the records' sizes as bpf/layout decodes them.
var recordSizes = map[string]int{
	"kr_hdr":         layout.HeaderSize,
	"kr_enter":       layout.EnterSize,
	"kr_segments":    layout.SegmentsSize,
	"kr_piece":       layout.PieceSize,
	"kr_payload_end": layout.PayloadEndSize,
	"kr_exit":        layout.ExitSize,
	"kr_file":        layout.FileSize,
	"kr_caller":      layout.CallerSize,
	"kr_ancestor":    layout.AncestorSize,
	"kr_args":        layout.ArgsSize,
	"kr_seg":         32,
}

func loadObject(t *testing.T, arch string) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(objectFiles[arch])
	if err != nil {
		t.Fatalf("%s object: %v", arch, err)
	}
	return spec
}

// structLayout writes a record type's size and every member's name, offset
// and size, nested structs and arrays included, one per line.
func structLayout(spec *btf.Spec, name string) (string, int, error) {
	var typ *btf.Struct
	if err := spec.TypeByName(name, &typ); err != nil {
		return "", 0, err
	}
	var b strings.Builder
	var walk func(prefix string, s *btf.Struct, base btf.Bits)
	walk = func(prefix string, s *btf.Struct, base btf.Bits) {
		for _, m := range s.Members {
			size, err := btf.Sizeof(m.Type)
			if err != nil {
				fmt.Fprintf(&b, "%s%s: %v\n", prefix, m.Name, err)
				continue
			}
			fmt.Fprintf(&b, "%s%s @%d size %d bits %d\n", prefix, m.Name, (base+m.Offset)/8, size, m.BitfieldSize)
			t := btf.UnderlyingType(m.Type)
			if arr, ok := t.(*btf.Array); ok {
				fmt.Fprintf(&b, "%s%s [%d]\n", prefix, m.Name, arr.Nelems)
				t = btf.UnderlyingType(arr.Type)
			}
			if inner, ok := t.(*btf.Struct); ok {
				walk(prefix+m.Name+".", inner, base+m.Offset)
			}
		}
	}
	walk("", typ, 0)
	return b.String(), int(typ.Size), nil
}

// TestRecordLayoutBothArchitectures: every record type has the same size
// and the same members at the same offsets in the x86 and the arm64 object,
// and the size bpf/layout decodes; TestDecodeGenerated and
// TestCallerRecordLayout check field by field for the machine's own object.
func TestRecordLayoutBothArchitectures(t *testing.T) {
	layouts := map[string]map[string]string{}
	for arch := range objectFiles {
		spec := loadObject(t, arch)
		layouts[arch] = map[string]string{}
		for name, want := range recordSizes {
			l, size, err := structLayout(spec.Types, name)
			if err != nil {
				t.Errorf("%s object: %s: %v", arch, name, err)
				continue
			}
			if size != want {
				t.Errorf("%s object: %s is %d bytes, bpf/layout says %d", arch, name, size, want)
			}
			layouts[arch][name] = l
		}
	}
	for name := range recordSizes {
		if x, a := layouts["x86"][name], layouts["arm64"][name]; x != a {
			t.Errorf("%s differs between the objects:\nx86:\n%sarm64:\n%s", name, x, a)
		}
	}
}

// TestObjectHookSections: each object attaches to its own architecture's
// syscall wrappers and nothing of the other's; both have the same raw-mode
// and post-read programs.
func TestObjectHookSections(t *testing.T) {
	common := []string{"tp_btf/sys_enter", "tp_btf/sys_exit",
		"fentry/security_kernel_post_read_file", "kprobe/security_kernel_post_read_file", "lsm/kernel_post_read_file"}
	wrappers := func(prefix string) []string {
		var s []string
		for _, sys := range []string{"kexec_load", "kexec_file_load"} {
			for _, kind := range []string{"fentry", "fexit", "kprobe", "kretprobe"} {
				s = append(s, kind+"/"+prefix+sys)
			}
		}
		return s
	}
	var x86Compat []string
	for _, sym := range []string{"__ia32_compat_sys_kexec_load", "__x32_compat_sys_kexec_load"} {
		for _, kind := range []string{"fentry", "fexit", "kprobe", "kretprobe"} {
			x86Compat = append(x86Compat, kind+"/"+sym)
		}
	}
	var aarch32 []string
	for _, kind := range []string{"fentry", "fexit", "kprobe", "kretprobe"} {
		aarch32 = append(aarch32, kind+"/__arm64_compat_sys_kexec_load")
	}
	want := map[string][]string{
		"x86":   append(append(slices.Clone(common), wrappers("__x64_sys_")...), x86Compat...),
		"arm64": append(append(slices.Clone(common), wrappers("__arm64_sys_")...), aarch32...),
	}
	for arch := range objectFiles {
		var got []string
		for _, p := range loadObject(t, arch).Programs {
			got = append(got, p.SectionName)
		}
		slices.Sort(got)
		w := slices.Clone(want[arch])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s object sections:\n got %v\nwant %v", arch, got, w)
		}
	}
}

// TestABIValues: bpf/layout's ABI values are enum kr_abi as compiled. The
// arm64 object carries the enum in its BTF (aarch32.h); records.h, which
// defines it, is the same for both objects.
func TestABIValues(t *testing.T) {
	var e *btf.Enum
	if err := loadObject(t, "arm64").Types.TypeByName("kr_abi", &e); err != nil {
		t.Fatalf("arm64 object: enum kr_abi: %v", err)
	}
	want := map[string]uint64{
		"KR_ABI_X64": layout.ABIX64, "KR_ABI_IA32": layout.ABIIA32, "KR_ABI_X32": layout.ABIX32,
		"KR_ABI_ARM64": layout.ABIARM64, "KR_ABI_AARCH32": layout.ABIAArch32,
	}
	got := map[string]uint64{}
	for _, v := range e.Values {
		got[v.Name] = v.Value
	}
	if !maps.Equal(got, want) {
		t.Errorf("enum kr_abi in the object is %v, bpf/layout says %v", got, want)
	}
}
