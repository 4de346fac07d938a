package replay

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// A call whose EXIT says its return was known in advance (a kernel without
// kexec, sys_enter alone attached) says so in the table and in JSON; the
// same call with an observed return (every capture written before the flag
// existed) does not.
func TestRetKnownInAdvance(t *testing.T) {
	le := binary.LittleEndian
	for _, known := range []bool{true, false} {
		recs := kexecLoadRecords(t, 9, 0)
		x := layout.Exit{Header: layout.Header{CallID: 9, TimeNS: boot0 + 2_000_000_200}, Ret: -38, TID: 4243,
			SyscallNr: 246, Hook: layout.HookRawSyscall}
		if known {
			x.Flags = layout.XFRetKnownENOSYS
		} else {
			x.DurationNS = 700
		}
		recs[len(recs)-1] = raw(x.Marshal(le))
		d := NewDecoder(testHeader())
		var got []*Call
		for _, r := range recs {
			calls, err := d.Add(r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, calls...)
		}
		if len(got) != 1 {
			t.Fatalf("known=%v: %d calls", known, len(got))
		}
		c := got[0]
		if c.RetKnownInAdvance != known || c.Errno != "ENOSYS" || c.Outcome != "error" {
			t.Errorf("known=%v: decoded %v %q %q", known, c.RetKnownInAdvance, c.Errno, c.Outcome)
		}
		res := Result(c)
		if want := "ENOSYS (-38, known in advance: kernel has no kexec)"; known && res != want {
			t.Errorf("Result = %q, want %q", res, want)
		} else if !known && res != "ENOSYS (-38)" {
			t.Errorf("observed return: Result = %q", res)
		}
		b, err := appendCall(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if v, ok := m["ret_known_in_advance"]; ok != known || (known && v != true) {
			t.Errorf("known=%v: JSON ret_known_in_advance = %v (present %v)", known, v, ok)
		}
	}
}

func TestRenderHeaderKnownReturn(t *testing.T) {
	h := testHeader()
	h.KnownReturn, h.KnownReturnWhy = "ENOSYS", "kernel has no kexec: BTF: no struct kimage\x1b[2J"
	var buf bytes.Buffer
	RenderHeader(&buf, "x.kexr", h, TableOptions{})
	out := buf.String()
	if !strings.Contains(out, "ENOSYS, known in advance (kernel has no kexec") || strings.Contains(out, "\x1b") {
		t.Errorf("header:\n%s", out)
	}
	j, _ := json.Marshal(NewHeaderJSON(h))
	if !bytes.Contains(j, []byte(`"known_return":"ENOSYS"`)) || !bytes.Contains(j, []byte(`"known_return_why":"kernel has no kexec`)) {
		t.Errorf("header JSON: %s", j)
	}
}
