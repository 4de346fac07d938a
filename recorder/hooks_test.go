package recorder

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/kexecrec/kexecrec/bpf"
)

// TestHookProgramsMatchTheirTargets: each program the hook tables pair with
// a kernel symbol is the one whose ELF section names that symbol, so the
// recorder never attaches, say, the kexec_file_load program to kexec_load.
func TestHookProgramsMatchTheirTargets(t *testing.T) {
	spec, err := bpf.LoadKexecrec()
	if err != nil {
		t.Fatal(err)
	}
	var objs bpf.KexecrecSpecs
	if err := spec.Assign(&objs); err != nil {
		t.Fatal(err)
	}
	progs := &objs.KexecrecProgramSpecs
	type pairing struct {
		prog    *ebpf.ProgramSpec
		section string
	}
	pairs := []pairing{
		{progs.RawSysEnter, "tp_btf/sys_enter"},
		{progs.RawSysExit, "tp_btf/sys_exit"},
		{progs.FentryPostReadFile, "fentry/" + symPostReadFile},
		{progs.KprobePostReadFile, "kprobe/" + symPostReadFile},
		{progs.LsmPostReadFile, "lsm/" + lsmHook},
	}
	wrappers := kexecWrappers(progs)
	for _, w := range wrappers {
		pairs = append(pairs, pairing{w.fentry, "fentry/" + w.sym}, pairing{w.fexit, "fexit/" + w.sym},
			pairing{w.kprobe, "kprobe/" + w.sym}, pairing{w.kretprobe, "kretprobe/" + w.sym})
	}
	distinct := map[*ebpf.ProgramSpec]bool{}
	for _, p := range pairs {
		distinct[p.prog] = true
		if p.prog.SectionName != p.section {
			t.Errorf("program %s is in section %q, the hook table attaches it as %q", p.prog.Name, p.prog.SectionName, p.section)
		}
	}
	if len(distinct) != len(spec.Programs) {
		t.Errorf("hook tables name %d distinct programs, the object has %d", len(distinct), len(spec.Programs))
	}
	if wrappers[0].optional || wrappers[1].optional || wrappers[0].sym != symKexecLoad || wrappers[1].sym != symKexecFileLoad {
		t.Errorf("kexec_load and kexec_file_load must come first and be mandatory: %+v", wrappers[:2])
	}
}
