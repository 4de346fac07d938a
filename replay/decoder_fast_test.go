package replay

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// checkFast decodes b with decode, with and without interning, and with
// encoding/json: all three must agree, errors included.
func checkFast[T any](t *testing.T, b []byte, decode func([]byte, func([]byte) string) (T, error)) {
	t.Helper()
	var want T
	werr := json.Unmarshal(b, &want)
	got, gerr := decode(b, nil)
	if got2, _ := decode(b, NewDecoder(synthHeader).internBytes); !reflect.DeepEqual(got, got2) {
		t.Fatalf("%q: interned %#v, plain %#v", b, got2, got)
	}
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

func checkProcess(t *testing.T, b []byte) { t.Helper(); checkFast(t, b, decodeProcess) }

func checkPayload(t *testing.T, b []byte) { t.Helper(); checkFast(t, b, decodePayload) }

func TestFastProcessMatchesEncodingJSON(t *testing.T) {
	full, _ := json.Marshal(layout.Process{CallID: 1 << 40, PID: 42, Exe: "/usr/sbin/kexec", Argv: []string{"kexec", "-l", "é"},
		CgroupPath: "/a", ContainerID: "c", Raced: []string{"exe"}, Missing: []string{"cgroup"}})
	if _, ok := fastProcess(full, nil); !ok {
		t.Fatalf("the recorder's own form %s takes the slow path", full)
	}
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

func TestFastPayloadMatchesEncodingJSON(t *testing.T) {
	full, _ := json.Marshal(layout.Payload{CallID: 1 << 40, Kind: 2, Index: 15, Source: 1, Total: 1 << 33, Captured: 4096,
		SHA256: "ab", Missing: []layout.Range{{Off: 4096, Len: 1<<33 - 4096}}, Reasons: []string{"snaplen", "ring-full"}, ReadErrors: 3})
	if _, ok := fastPayload(full, nil); !ok {
		t.Fatalf("the recorder's own form %s takes the slow path", full)
	}
	// Format 1.1: the blob named by its piece list, no sha256.
	listed, _ := json.Marshal(layout.Payload{CallID: 1, Kind: 2, Total: 10, Captured: 10, Blob: "cd", Complete: true})
	if p, ok := fastPayload(listed, nil); !ok || p.Blob != "cd" || p.SHA256 != "" {
		t.Fatalf("the recorder's 1.1 form %s: %+v, fast path %v", listed, p, ok)
	}
	for _, s := range []string{
		string(full), string(listed), `{"blob":"ab","sha256":"cd"}`, `{"blob":"ab","blob":"cd"}`, `{}`, `{"complete":true}`, `{"complete":false,"missing":[]}`, ` { "kind" : 1 , "missing" : [ { "len" : 2 , "off" : 1 } ] } `,
		`{"complete":tru}`, `{"complete":1}`, `{"kind":65536}`, `{"kind":-1}`, `{"index":1e2}`, `{"total":18446744073709551616}`,
		`{"missing":null}`, `{"missing":[{"off":1}]}`, `{"missing":[{"off":1,"off":2}]}`, `{"missing":[{"of":1}]}`, `{"missing":[1]}`,
		`{"reasons":null}`, `{"kind":1,"kind":2}`, `{"Kind":1}`, `{"sha256":"a\u0062"}`, `{"read_errors":4294967296}`, `{"x":1}`,
		`{"kind":1}x`, ``, `[`, `{"missing":[{"off":1,"len":2},]}`, `{"missing":[{}]}`, `{"missing":[{"len":3,"off":1}]}`,
	} {
		checkPayload(t, []byte(s))
	}
}

func FuzzFastPayload(f *testing.F) {
	f.Add([]byte(`{"call_id":1,"kind":1,"index":0,"source":1,"total":9,"captured":4,"sha256":"ab","missing":[{"off":4,"len":5}],"complete":false,"reasons":["snaplen"]}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkPayload(t, b) })
}
