//go:build arm64

package recorder

import (
	"slices"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf"
)

// TestAArch32Wrapper: on arm64 the fentry and kprobe modes hook the compat
// kexec_load wrapper AArch32 callers enter, as an optional wrapper (a
// kernel without CONFIG_COMPAT has none) whose absence says what is lost,
// and fentry resolves it like the native wrappers.
func TestAArch32Wrapper(t *testing.T) {
	spec, err := bpf.LoadKexecrec()
	if err != nil {
		t.Fatal(err)
	}
	var objs bpf.KexecrecSpecs
	if err := spec.Assign(&objs); err != nil {
		t.Fatal(err)
	}
	ws := kexecWrappers(&objs.KexecrecProgramSpecs)
	i := slices.IndexFunc(ws, func(w wrapperHooks) bool { return w.sym == "__arm64_compat_sys_kexec_load" })
	if i < 0 {
		t.Fatalf("no hook on __arm64_compat_sys_kexec_load: %+v", ws)
	}
	w := ws[i]
	if !w.optional || !strings.Contains(w.why, "AArch32") || !strings.Contains(w.why, "will not be seen") {
		t.Errorf("compat wrapper optional %v, why %q", w.optional, w.why)
	}
	if w.fentry != objs.FentryAarch32KexecLoad || w.kretprobe != objs.KretprobeAarch32KexecLoad {
		t.Errorf("compat wrapper programs %s, %s", w.fentry.Name, w.kretprobe.Name)
	}
	if !slices.Contains(fentryTargets, w.sym) {
		t.Errorf("fentryTargets %v lack %s", fentryTargets, w.sym)
	}
}
