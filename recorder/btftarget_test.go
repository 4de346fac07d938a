package recorder

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// wrapperBTF builds a BTF blob shaped like Debian 6.1's: the weak
// COND_SYSCALL stub first (parameter __unused), the real wrapper second
// (parameter regs), plus a same-named func of another prototype when extra.
func wrapperBTF(t *testing.T, name string, params ...string) *btf.Spec {
	t.Helper()
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	regs := &btf.Pointer{Target: &btf.Const{Type: &btf.Struct{Name: "pt_regs", Size: 168}}}
	var types []btf.Type
	for _, p := range params {
		proto := &btf.FuncProto{Return: long, Params: []btf.FuncParam{{Name: p, Type: regs}}}
		if p == "other" {
			proto = &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
				Params: []btf.FuncParam{{Name: p, Type: long}}}
		}
		types = append(types, &btf.Func{Name: name, Type: proto, Linkage: btf.StaticFunc})
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func funcID(t *testing.T, spec *btf.Spec, name string) (btf.TypeID, error) {
	t.Helper()
	var fn *btf.Func
	if err := spec.TypeByName(name, &fn); err != nil {
		return 0, err
	}
	return spec.TypeID(fn)
}

// The loader looks a target up by name and refuses a name that matches
// more than one func; after resolveWrapper it finds exactly the real
// wrapper, under its own id.
func TestResolveWrapperPicksRealWrapper(t *testing.T) {
	spec := wrapperBTF(t, symKexecLoad, "__unused", "regs")
	if _, err := funcID(t, spec, symKexecLoad); !errors.Is(err, btf.ErrMultipleMatches) {
		t.Fatalf("before: lookup = %v, want ErrMultipleMatches (the test BTF must be ambiguous)", err)
	}
	var stub, real btf.TypeID
	for fn, err := range spec.All() {
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := fn.(*btf.Func); ok {
			id, _ := spec.TypeID(f)
			if f.Type.(*btf.FuncProto).Params[0].Name == "regs" {
				real = id
			} else {
				stub = id
			}
		}
	}
	r, ok, err := resolveWrapper(spec, symKexecLoad)
	if err != nil || !ok {
		t.Fatalf("resolveWrapper = %v, %v", ok, err)
	}
	if r.ID != real || len(r.SetAside) != 1 || r.SetAside[0] != stub {
		t.Errorf("resolved %+v, want id %d with %d set aside", r, real, stub)
	}
	got, err := funcID(t, spec, symKexecLoad)
	if err != nil || got != real {
		t.Errorf("after: lookup = %d, %v; want %d", got, err, real)
	}
	if n := r.note(); !strings.Contains(n, "names it 2 times; attached to BTF id") || !strings.Contains(n, "weak COND_SYSCALL stubs") {
		t.Errorf("note %q", n)
	}
}

// A func of another prototype is never picked, and a name the BTF holds
// once, or not at all, is left alone.
func TestResolveWrapperLeavesOthersAlone(t *testing.T) {
	spec := wrapperBTF(t, symKexecFileLoad, "other", "regs")
	r, ok, err := resolveWrapper(spec, symKexecFileLoad)
	if err != nil || !ok {
		t.Fatalf("resolveWrapper = %v, %v", ok, err)
	}
	fn, _ := spec.TypeByID(r.ID)
	if p, ok := wrapperParam(fn.(*btf.Func)); !ok || p != "regs" {
		t.Errorf("picked %v", fn)
	}

	single := wrapperBTF(t, symKexecLoad, "regs")
	if _, ok, err := resolveWrapper(single, symKexecLoad); ok || err != nil {
		t.Errorf("single func: ok %v err %v, want untouched", ok, err)
	}
	if _, ok, err := resolveWrapper(single, "no_such_func"); ok || err != nil {
		t.Errorf("missing func: ok %v err %v", ok, err)
	}

	// Two funcs, neither a syscall wrapper: cannot be told apart, stays
	// ambiguous (the loader refuses it and the probe says so).
	none := wrapperBTF(t, symKexecLoad, "other", "other")
	if _, ok, err := resolveWrapper(none, symKexecLoad); ok || err != nil {
		t.Errorf("no wrapper prototype: ok %v err %v", ok, err)
	}
	if _, err := funcID(t, none, symKexecLoad); !errors.Is(err, btf.ErrMultipleMatches) {
		t.Errorf("lookup = %v, want still ambiguous", err)
	}
}
