package recorder

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/kexecrec/kexecrec/bpf"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

// TestPrivilegedProgramsVerify loads every program of the object, one at a
// time, into this kernel. Programs whose hook this kernel lacks (fentry on
// a kexec stub) fail to load for that reason, which is fine; a verifier
// rejection is a bug, because it would hit a kernel that has the hook. The
// kprobe programs carry the same code as the fentry ones and load without
// attaching, so this checks the fentry/kprobe/post-read paths even on a
// kernel that can only run raw mode.
func TestPrivilegedProgramsVerify(t *testing.T) {
	testenv.Root(t)
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	base, err := bpf.LoadKexecrec()
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for name := range base.Programs {
		spec := base.Copy()
		for other := range spec.Programs {
			if other != name {
				delete(spec.Programs, other)
			}
		}
		coll, err := ebpf.NewCollection(spec)
		var ve *ebpf.VerifierError
		switch {
		case err == nil:
			coll.Close()
			loaded++
			t.Logf("%s: loads", name)
		case errors.As(err, &ve) && !strings.Contains(err.Error(), "attach"):
			t.Errorf("%s: verifier rejected it: %s", name, verifierTail(ve))
		default:
			t.Logf("%s: not loadable on this kernel: %s", name, shortErr(err))
		}
	}
	// The recorder reaches programs, maps and variables only through the
	// names bpf2go generated: each must be in the object.
	if err := base.Assign(&bpf.KexecrecSpecs{}); err != nil {
		t.Errorf("object and generated loader disagree: %v", err)
	}
	if loaded == 0 {
		t.Fatal("no program loaded")
	}
}

// TestCORERelocations resolves every CO-RE relocation of every program
// against this kernel's BTF: each must name a kernel type (a relocation
// against one of our own structs is a coding slip inside BPF_CORE_READ) and
// must resolve here, where every field the programs read exists (except the
// older kernels' flavors).
func TestCORERelocations(t *testing.T) {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		testenv.Skip(t, "no kernel BTF: "+err.Error())
	}
	spec, err := bpf.LoadKexecrec()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, prog := range spec.Programs {
		for i := range prog.Instructions {
			relo := btf.CORERelocationMetadata(&prog.Instructions[i])
			if relo == nil {
				continue
			}
			n++
			fix, err := btf.CORERelocate([]*btf.CORERelocation{relo}, []*btf.Spec{kernel}, binary.LittleEndian,
				func(btf.Type) (btf.TypeID, error) { return 1, nil })
			if err != nil {
				t.Errorf("%s insn %d: %v: %v", name, i, relo, err)
				continue
			}
			// Older kernels' layouts (type___flavor: kernfs_node___old,
			// inode___tspec ...) are read only where bpf_core_field_exists
			// says they apply: they need not exist here.
			if strings.Contains(fix[0].String(), "poison") && !strings.Contains(relo.String(), "___") {
				t.Errorf("%s insn %d: %v does not resolve against this kernel (%v)", name, i, relo, fix[0])
			}
		}
	}
	if n == 0 {
		t.Fatal("no CO-RE relocations found: the object was not built with CO-RE")
	}
}
