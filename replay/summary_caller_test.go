package replay

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSummaryByExecutableAndTopAncestor(t *testing.T) {
	sshd := Ancestor{PID: 812, Comm: "sshd", Exe: "/usr/sbin/sshd"}
	bash := Ancestor{PID: 1201, Comm: "bash", Exe: "/usr/bin/bash"}
	initA := Ancestor{PID: 1, NsPID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Init: true}
	cron := Ancestor{PID: 700, Comm: "cron", Exe: "/usr/sbin/cron"}
	calls := []*Call{
		{Caller: Caller{Comm: "kexec", Exe: "/usr/sbin/kexec", Ancestors: []Ancestor{bash, sshd, initA}}},
		{Caller: Caller{Comm: "kexec", Exe: "/usr/sbin/kexec", Ancestors: []Ancestor{bash, sshd, initA}}},
		{Caller: Caller{Comm: "kx", Exe: "/tmp/kx (deleted)", Ancestors: []Ancestor{cron, initA}}},
		// Only init above it: the caller itself is the top.
		{Caller: Caller{Comm: "kexec", Exe: "/usr/sbin/kexec", Ancestors: []Ancestor{initA}}},
		// An old capture: no ancestry, exe from /proc or nothing.
		{Caller: Caller{Comm: "kexec"}},
	}
	s := newSummary()
	for _, c := range calls {
		s.addCall(c)
	}
	s.finish()
	got := func(cs []Count) string {
		var parts []string
		for _, c := range cs {
			parts = append(parts, c.Key+"="+string(rune('0'+c.Calls)))
		}
		return strings.Join(parts, ";")
	}
	if g := got(s.ByExecutable); g != "/usr/sbin/kexec=3;-=1;/tmp/kx (deleted)=1" {
		t.Errorf("by executable: %s", g)
	}
	if g := got(s.ByTopAncestor); g != "sshd /usr/sbin/sshd=2;-=1;cron /usr/sbin/cron=1;kexec /usr/sbin/kexec=1" {
		t.Errorf("by top ancestor: %s", g)
	}
	// A total over two files adds the counts.
	s2 := newSummary()
	s2.addCall(calls[0])
	s2.finish()
	tot := totalOf([]*Summary{s, s2})
	if g := got(tot.ByTopAncestor); !strings.HasPrefix(g, "sshd /usr/sbin/sshd=3;") {
		t.Errorf("total by top ancestor: %s", g)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"by_executable":[{`, `"by_top_ancestor":[{`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("summary JSON lacks %s", k)
		}
	}
}
