package replay

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

func checkProcess(t *testing.T, b []byte) {
	var want layout.Process
	werr := json.Unmarshal(b, &want)
	got, gerr := decodeProcess(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

func TestFastProcessMatchesEncodingJSON(t *testing.T) {
	full, _ := json.Marshal(layout.Process{CallID: 1 << 40, PID: 42, Exe: "/usr/sbin/kexec", Argv: []string{"kexec", "-l", "é"},
		CgroupPath: "/a", ContainerID: "c", Raced: []string{"exe"}, Missing: []string{"cgroup"}})
	for _, s := range []string{
		string(full), `{}`, ` { "pid" : 7 , "argv" : [ ] } `, `{"pid":7}x`, `{"pid":-1}`, `{"pid":1.5}`, `{"pid":4294967296}`,
		`{"PID":7}`, `{"exe":"a\"b"}`, `{"exe":"\u00e9"}`, `{"exe":null}`, `{"argv":null}`, `{"exe":"` + "\xff" + `"}`,
		`{"pid":7,"pid":8}`, `{"other":1}`, `{"pid":07}`, `{"argv":["a",]}`, `[1]`, ``, `{"exe":"a`, `{"call_id":18446744073709551615}`,
	} {
		checkProcess(t, []byte(s))
	}
}

func FuzzFastProcess(f *testing.F) {
	f.Add([]byte(`{"call_id":1,"pid":2,"exe":"x","argv":["a","b"]}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkProcess(t, b) })
}
