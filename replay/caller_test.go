package replay

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// callerRecords is a kexec_load call as a recorder with entry reads
// stores it: ENTER, CALLER, ARGS (argv cut at 16 of 40 bytes), then the
// PROCESS record with only the cgroup read from /proc.
func callerRecords(t *testing.T, id uint64, kernelCgroup bool) []format.Record {
	le := binary.LittleEndian
	k := layout.Caller{Header: layout.Header{CallID: id}, Flags: layout.CFExe | layout.CFExeDeleted | layout.CFCwd |
		layout.CFTTY | layout.CFNsPID | layout.CFAncInit, ExeDev: 8<<20 | 3, ExeIno: 99, ExeSize: 1234,
		ExeMtimeSec: 1_700_000_000, ExeCtimeSec: 1_700_000_100, TTYMajor: 136, TTYMinor: 4, NsPID: 5, NsTID: 5, NsLevel: 1,
		Exe: "/tmp/kx", Cwd: "/root", TTY: "pts4",
		Ancestors: []layout.Ancestor{
			{PID: 1201, TID: 1201, NsPID: 1201, Comm: "bash", Exe: "/usr/bin/bash", StartNS: 10},
			{PID: 812, TID: 812, NsPID: 812, Comm: "sshd\x1b[31m", Exe: "/usr/sbin/sshd", StartNS: 5},
			{PID: 1, TID: 1, NsPID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Flags: layout.AFNsInit},
		}}
	p := layout.Process{CallID: id, PID: 4242, CgroupPath: "/user.slice/session-3.scope", Raced: []string{"cgroup"}}
	if kernelCgroup {
		k.Flags |= layout.CFCgroup
		k.Cgroup = "/system.slice/docker-" + strings.Repeat("ab", 32) + ".scope"
		p = layout.Process{CallID: id, PID: 4242, ContainerID: strings.Repeat("ab", 32)}
	}
	recs := kexecLoadRecords(t, id, 0)
	out := []format.Record{recs[0], raw(k.Marshal(le)),
		raw(layout.Args{Header: layout.Header{CallID: id}, Kind: layout.ArgsArgv, Total: 40,
			Data: []byte("kexec\x00-l\x00vmlinuz\x00--a")}.Marshal(le)),
		jrec(t, layout.RecProcess, p)}
	return append(out, recs[2:]...) // the rest without the old-style PROCESS record
}

func TestCallerDecoded(t *testing.T) {
	calls := feed(t, NewDecoder(testHeader()), callerRecords(t, 7, false)...)
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	cl := calls[0].Caller
	if cl.Exe != "/tmp/kx (deleted)" || cl.ExeFile == nil || !cl.ExeFile.Deleted || cl.ExeFile.Dev != "8:3" ||
		cl.ExeFile.Ino != 99 || cl.ExeFile.Mtime.Unix() != 1_700_000_000 {
		t.Errorf("exe %q %+v", cl.Exe, cl.ExeFile)
	}
	if got := strings.Join(cl.Argv, "|"); got != "kexec|-l|vmlinuz|--a" || cl.ArgvInfo == nil ||
		!cl.ArgvInfo.Truncated || cl.ArgvInfo.Total != 40 || cl.ArgvInfo.Captured != 20 {
		t.Errorf("argv %q %+v", got, cl.ArgvInfo)
	}
	if cl.Cwd != "/root" || cl.TTY == nil || cl.TTY.Name != "pts4" || cl.NsPID != 5 || len(cl.Ancestors) != 3 {
		t.Errorf("caller %+v", cl)
	}
	if cl.CgroupPath != "/user.slice/session-3.scope" {
		t.Errorf("cgroup path from /proc: %q", cl.CgroupPath)
	}
	want := map[string]string{"exe": SourceKernelEntry, "argv": SourceKernelEntry, "cwd": SourceKernelEntry,
		"tty": SourceKernelEntry, "ns_pid": SourceKernelEntry, "ancestors": SourceKernelEntry, "cgroup_path": SourceProcAfter}
	for k, v := range want {
		if cl.Sources[k] != v {
			t.Errorf("source of %s: %q, want %q", k, cl.Sources[k], v)
		}
	}
	if len(calls[0].Problems) != 0 {
		t.Errorf("problems: %q", calls[0].Problems)
	}

	var text bytes.Buffer
	if err := RenderTable(&text, calls[0], TableOptions{}); err != nil {
		t.Fatal(err)
	}
	s := text.String()
	for _, w := range []string{
		"exe        /tmp/kx (deleted)\n",
		"ancestry   systemd(1) > sshd\\x1b[31m(812) > bash(1201) > kexec(4242)\n",
		"[TRUNCATED: 20 of 40 bytes]",
		"cwd        /root\n",
		"tty        pts4 (136:4)\n",
		"pid ns     pid 5 tid 5 in its pid namespace (level 1)\n",
		"source     kernel at entry: exe,argv,cwd,tty,ancestors,ns_pid; /proc after",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("show output lacks %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "\x1b") {
		t.Error("an escape byte from the capture reached the output")
	}
	if got := AncestryChain(&cl, true); !strings.HasPrefix(got, "systemd(1)[/usr/lib/systemd/systemd] > ") ||
		!strings.HasSuffix(got, "kexec(4242)[/tmp/kx (deleted)]") {
		t.Errorf("wide chain %q", got)
	}
	if got := TopAncestor(&cl); got != `sshd\x1b[31m /usr/sbin/sshd` {
		t.Errorf("top ancestor %q", got)
	}

	// JSON: what encoding/json gives, with the keys scripts rely on.
	want2, err := json.Marshal(calls[0])
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := RenderJSON(&got, calls[0]); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(got.String(), "\n") != string(want2) {
		t.Errorf("RenderJSON differs from encoding/json:\n got %s\nwant %s", got.String(), want2)
	}
	for _, key := range []string{`"exe_file":{"dev":"8:3"`, `"argv_info":{"total":40,"captured":20,"truncated":true}`,
		`"cwd":"/root"`, `"tty":{"name":"pts4","major":136,"minor":4}`, `"ns_pid":5`, `"ancestors":[{"pid":1201`,
		`"sources":{"ancestors":"kernel-entry"`} {
		if !strings.Contains(got.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

// A cgroup path read by the kernel wins over nothing read from /proc, and
// its container id comes along in the PROCESS record.
func TestCallerKernelCgroup(t *testing.T) {
	calls := feed(t, NewDecoder(testHeader()), callerRecords(t, 8, true)...)
	cl := calls[0].Caller
	if !strings.HasPrefix(cl.CgroupPath, "/system.slice/docker-") || cl.ContainerID != strings.Repeat("ab", 32) ||
		cl.Sources["cgroup_path"] != SourceKernelEntry || len(cl.Raced) != 0 {
		t.Errorf("cgroup %q container %q sources %v raced %v", cl.CgroupPath, cl.ContainerID, cl.Sources, cl.Raced)
	}
}

// Captures written before entry reads (most committed samples) still read:
// no caller record, no malformed record, the caller named from /proc as
// before and no entry-read fields invented. Samples recorded since (the
// race sample, a re-captured one) carry the entry fields on every call.
func TestOldSamplesStillRead(t *testing.T) {
	files, err := filepath.Glob("../testdata/samples/*.zst")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		c, err := Open(f, OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, withEntry := 0, 0
		var without []string
		err = c.Calls(func(call *Call) error {
			n++
			cl := call.Caller
			if cl.Sources != nil || cl.ExeFile != nil || len(cl.Ancestors) != 0 || cl.ArgvInfo != nil {
				withEntry++
			} else {
				without = append(without, fmt.Sprint(call.ID))
			}
			if call.Syscall == "" || cl.Comm == "" {
				t.Errorf("%s call %d: not decoded: %+v", f, call.ID, call)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		st := c.DecodeStats()
		if n == 0 || st.Malformed != 0 || st.ByType["caller"] != withEntry || withEntry != 0 && withEntry != n {
			t.Errorf("%s: %d calls, %d malformed, %d caller records, %d calls with entry fields (calls without: %v)",
				f, n, st.Malformed, st.ByType["caller"], withEntry, without)
		}
		c.Close()
	}
}
