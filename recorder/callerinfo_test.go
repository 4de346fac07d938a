package recorder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// CALLER and ARGS records arrive before their ENTER: the recorder stores
// them right after it, and the PROCESS record then holds only what the
// kernel did not read (here the cgroup, which it could not name).
func TestRecordCallerBeforeEnter(t *testing.T) {
	call := callSpec{id: 1, payloads: [][]byte{{0x42}}}
	recs := call.records()
	k := layout.Caller{Header: hdr(1), Flags: layout.CFExe | layout.CFCwd, Exe: "/usr/sbin/kexec", Cwd: "/"}.Marshal(bo)
	argv := layout.Args{Header: hdr(1), Kind: layout.ArgsArgv, Total: 9, Data: []byte("kexec\x00-l\x00")}.Marshal(bo)
	recs = append([][]byte{k, argv}, recs...)

	// A /proc where the caller is still there: only its cgroup is read.
	proc := t.TempDir()
	dir := filepath.Join(proc, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/system.slice/docker-"+hex64+".scope\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte("later\x00image\x00"), 0o644)
	os.Symlink("/later/exe", filepath.Join(dir, "exe"))

	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink, ProcRoot: proc}, recs); err != nil {
		t.Fatal(err)
	}
	c := readCapture(t, sink.Base)
	want := []uint16{layout.RecNote, layout.RecEnter, layout.RecCaller, layout.RecArgs, layout.RecProcess, layout.RecSegments,
		layout.RecPayloadEnd, layout.RecPayload, layout.RecExit}
	if got := c.types(); !reflect.DeepEqual(got, want) {
		t.Fatalf("record types %v, want %v", got, want)
	}
	var p layout.Process
	for _, r := range c.records {
		if r.Type == layout.RecProcess {
			if err := json.Unmarshal(r.Data, &p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p.Exe != "" || p.Argv != nil || p.CgroupPath != "/system.slice/docker-"+hex64+".scope" || p.ContainerID != hex64 ||
		!reflect.DeepEqual(p.Raced, []string{"cgroup"}) || len(p.Missing) != 0 {
		t.Errorf("process record %+v: want only the cgroup from /proc", p)
	}
}

// Entry records whose ENTER never came are kept when the call ends.
func TestRecordCallerWithoutEnter(t *testing.T) {
	call := callSpec{id: 1, payloads: [][]byte{{0x42}}}
	recs := call.records()[1:] // no ENTER
	k := layout.Caller{Header: hdr(1), Flags: layout.CFExe, Exe: "/usr/sbin/kexec"}.Marshal(bo)
	recs = append([][]byte{k}, recs...)
	sink := &FileSink{Base: filepath.Join(t.TempDir(), "cap.zst")}
	if _, err := record(t, Config{Sink: sink}, recs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ty := range readCapture(t, sink.Base).types() {
		if ty == layout.RecCaller {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d CALLER records stored, want 1", n)
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
