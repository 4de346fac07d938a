package recorder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Some kernels' BTF names a syscall wrapper twice: Debian 6.1 carries the
// real __x64_sys_kexec_load (kernel/kexec.c) and the weak stub that
// COND_SYSCALL emits for kernels built without it (kernel/sys_ni.c), both
// `long (const struct pt_regs *)`. cilium/ebpf refuses a fentry target whose
// name matches more than one BTF func (cilium/ebpf#894), so on such a kernel
// the recorder resolves the target itself: it picks the right func, and sets
// the others aside under another name in the kernel BTF it hands to the
// loader, which then finds exactly one func and passes its BTF id to the
// kernel. The kernel only uses that id's name and prototype: it attaches the
// trampoline at kallsyms_lookup_name(name), which is the wrapper the linker
// kept, whichever of the same-named ids was passed.

// resolvedTarget is one ambiguous fentry target and the BTF func chosen.
type resolvedTarget struct {
	Name     string
	ID       btf.TypeID   // the func the programs attach to
	SetAside []btf.TypeID // the other funcs of that name, hidden from the loader
	Why      string       // how ID was chosen
}

// note is the resolution in one line (the capture's info notes keep it).
func (r resolvedTarget) note() string {
	ids := make([]string, len(r.SetAside))
	for i, id := range r.SetAside {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("fentry %s: the kernel BTF names it %d times; attached to BTF id %d (%s); set aside: %s",
		r.Name, len(r.SetAside)+1, r.ID, r.Why, strings.Join(ids, ", "))
}

// setAsideSuffix renames a func the loader must not see.
const setAsideSuffix = ".kexecrec_set_aside"

// kernelTargets is the kernel BTF every program and probe of one Attach is
// loaded against (one btf.Cache: decoded once), with the ambiguous syscall
// wrappers resolved.
type kernelTargets struct {
	cache    *btf.Cache
	resolved []resolvedTarget
}

// newKernelTargets loads the kernel BTF and resolves the wrappers among
// names that it names more than once. A name whose duplicates cannot be told
// apart by prototype stays ambiguous: the loader then refuses it, and the
// probe says so.
func newKernelTargets(names []string) (*kernelTargets, error) {
	cache := btf.NewCache()
	spec, err := cache.Kernel()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBTF, err)
	}
	kt := &kernelTargets{cache: cache}
	for _, name := range names {
		r, ok, err := resolveWrapper(spec, name)
		if err != nil {
			return nil, err
		}
		if ok {
			kt.resolved = append(kt.resolved, r)
		}
	}
	return kt, nil
}

// notes are the resolutions made, one line each.
func (kt *kernelTargets) notes() []string {
	var out []string
	for _, r := range kt.resolved {
		out = append(out, r.note())
	}
	return out
}

// resolveWrapper picks, among the BTF funcs named name, the syscall wrapper
// fentry must use, and renames the others in spec (ok false: name is not
// ambiguous, or its duplicates cannot be told apart, and spec is unchanged).
//
// Rules, in order: the prototype must be a syscall wrapper's,
// `long (const struct pt_regs *)`; among those, a func whose parameter is
// named __unused is the COND_SYSCALL weak stub (the real wrapper names it
// regs); if several remain, the lowest id, since the kernel resolves every
// one of them through kallsyms to the same address.
func resolveWrapper(spec *btf.Spec, name string) (resolvedTarget, bool, error) {
	types, err := spec.AnyTypesByName(name)
	if errors.Is(err, btf.ErrNotFound) {
		return resolvedTarget{}, false, nil
	}
	if err != nil {
		return resolvedTarget{}, false, fmt.Errorf("recorder: kernel BTF: %s: %w", name, err)
	}
	var funcs []*btf.Func
	for _, t := range types {
		if fn, ok := t.(*btf.Func); ok {
			funcs = append(funcs, fn)
		}
	}
	if len(funcs) < 2 {
		return resolvedTarget{}, false, nil
	}
	var wrappers, stubs []*btf.Func
	for _, fn := range funcs {
		param, ok := wrapperParam(fn)
		switch {
		case !ok:
		case param == "__unused":
			stubs = append(stubs, fn)
		default:
			wrappers = append(wrappers, fn)
		}
	}
	why := "prototype long (const struct pt_regs *regs); the others are weak COND_SYSCALL stubs (parameter __unused)"
	if len(wrappers) == 0 {
		if len(stubs) == 0 {
			return resolvedTarget{}, false, nil
		}
		wrappers, why = stubs, "every candidate has the stub's parameter name; the kernel attaches by name through kallsyms"
	} else if len(wrappers) > 1 {
		why = "several candidates with the wrapper's prototype; the kernel attaches by name through kallsyms, so any is the same address"
	}
	chosen := wrappers[0]
	ids := map[*btf.Func]btf.TypeID{}
	for _, fn := range funcs {
		id, err := spec.TypeID(fn)
		if err != nil {
			return resolvedTarget{}, false, fmt.Errorf("recorder: kernel BTF: %s: %w", name, err)
		}
		ids[fn] = id
	}
	for _, fn := range wrappers[1:] {
		if ids[fn] < ids[chosen] {
			chosen = fn
		}
	}
	r := resolvedTarget{Name: name, ID: ids[chosen], Why: why}
	for _, fn := range funcs {
		if fn != chosen {
			r.SetAside = append(r.SetAside, ids[fn])
			fn.Name = name + setAsideSuffix
		}
	}
	return r, true, nil
}

// wrapperParam reports whether fn has a syscall wrapper's prototype, long
// (const struct pt_regs *), and the name of its parameter.
func wrapperParam(fn *btf.Func) (string, bool) {
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok || len(proto.Params) != 1 {
		return "", false
	}
	ret, ok := btf.UnderlyingType(proto.Return).(*btf.Int)
	if !ok || ret.Size != 8 || ret.Encoding != btf.Signed {
		return "", false
	}
	ptr, ok := proto.Params[0].Type.(*btf.Pointer)
	if !ok {
		return "", false
	}
	c, ok := ptr.Target.(*btf.Const)
	if !ok {
		return "", false
	}
	st, ok := btf.UnderlyingType(c.Type).(*btf.Struct)
	if !ok || st.Name != "pt_regs" {
		return "", false
	}
	return proto.Params[0].Name, true
}
