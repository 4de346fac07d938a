package recorder

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/kexecrec/kexecrec/bpf"
	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

func TestReadbackFromKallsyms(t *testing.T) {
	const listing = `ffffffff81000000 T _stext
ffffffff83a1c2a0 B kexec_image
ffffffff83a1c2a8 B kexec_crash_image
ffffffff82e15b18 D page_offset_base
ffffffffc0001000 t kexec_image	[somemod]
`
	rc, err := readbackFromKallsyms(strings.NewReader(listing))
	if err != nil {
		t.Fatal(err)
	}
	if rc.off != 0 || rc.kexecImage != 0xffffffff83a1c2a0 || rc.kexecCrashImage != 0xffffffff83a1c2a8 ||
		rc.pageOffsetBase != 0xffffffff82e15b18 || rc.pageOffset != 0 {
		t.Errorf("config %+v", rc)
	}
	// Without CONFIG_RANDOMIZE_MEMORY there is no page_offset_base: the fixed base.
	rc, err = readbackFromKallsyms(strings.NewReader("ffffffff83a1c2a0 B kexec_image\nffffffff83a1c2a8 B kexec_crash_image\n"))
	if err != nil || rc.pageOffset != fixedPageOffset || rc.pageOffsetBase != 0 {
		t.Errorf("no page_offset_base: %+v, %v", rc, err)
	}
	// kptr_restrict hides addresses as zeros; a kernel without kexec has no symbols.
	for _, l := range []string{"0000000000000000 B kexec_image\n0000000000000000 B kexec_crash_image\n", "ffffffff81000000 T _stext\n"} {
		if _, err := readbackFromKallsyms(strings.NewReader(l)); err == nil {
			t.Errorf("%q: no error", l)
		}
	}
	if rc := planReadback(true); rc.off != layout.LSMode || rc.limitation != nil {
		t.Errorf("kernel without kexec: %+v", rc)
	}
}

// TestPrivilegedReadbackVerifies loads the raw sys_exit program, which
// holds the readback, with the readback switched on (addresses that are
// never read here): it must load on a kernel whose BTF has no struct
// kimage (no kexec, as on the development machine), where the readback's
// CO-RE reads cannot be relocated and must be unreachable. The qemu bed
// verifies and runs the readback itself on Debian's kernels.
func TestPrivilegedReadbackVerifies(t *testing.T) {
	testenv.Root(t)
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	spec, err := bpf.LoadKexecrec()
	if err != nil {
		t.Fatal(err)
	}
	var objs bpf.KexecrecSpecs
	if err := spec.Assign(&objs); err != nil {
		t.Fatal(err)
	}
	for name := range spec.Programs {
		if name != "raw_sys_exit" {
			delete(spec.Programs, name)
		}
	}
	limits, err := AttachConfig{}.TimeLimits()
	if err != nil {
		t.Fatal(err)
	}
	if err := setConfig(&objs.KexecrecVariableSpecs, AttachConfig{}, limits, false); err != nil {
		t.Fatal(err)
	}
	if err := setReadbackConfig(&objs.KexecrecVariableSpecs, readbackConfig{kexecImage: 0xffffffff83a1c2a0,
		kexecCrashImage: 0xffffffff83a1c2a8, pageOffsetBase: 0xffffffff82e15b18}); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier: %s", verifierTail(ve))
		}
		testenv.Skip(t, "cannot load BPF programs: "+err.Error())
	}
	coll.Close()
}
