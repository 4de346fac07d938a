package vmtest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// The guest's caller facts the bed knows in advance. Every recorded call
// is made by a child of the agent, which runs as /init, pid 1, comm "init",
// with cwd "/", in the initial pid namespace and the root cgroup (nothing
// in the guest creates cgroups), and with no controlling terminal (the
// kernel starts init on /dev/console without making it one).
const (
	agentExe    = "/init"
	agentComm   = "init"
	agentCwd    = "/"
	agentCgroup = "/"
	// agentSelf is the command the agent runs for its own kexec calls.
	agentSelf = "/init"
	// The initramfs writer stores mtime 0 for every file, and the kernel's
	// unpacker sets each file's mtime from the archive.
	initramfsMtime = 0
)

// callerWant is the process a recorded call must name as its caller.
type callerWant struct {
	exe     string   // guest path of its executable
	exeSize int64    // size of the host file copied there
	argv    []string // exactly what was exec'd
}

// callerSizes are the sizes of the executables that make calls in the
// guest: kexec-tools', the agent's and the 32-bit trigger's (0 when the
// guest has none).
type callerSizes struct{ kexec, agent, trigger32 int64 }

func newCallerSizes(g *GuestTools) (callerSizes, error) {
	k, err := os.Stat(g.Kexec)
	if err != nil {
		return callerSizes{}, err
	}
	a, err := os.Stat(g.Agent)
	if err != nil {
		return callerSizes{}, err
	}
	s := callerSizes{kexec: k.Size(), agent: a.Size()}
	if g.Trigger32 != "" {
		t, err := os.Stat(g.Trigger32)
		if err != nil {
			return callerSizes{}, err
		}
		s.trigger32 = t.Size()
	}
	return s, nil
}

// callers lists, per call of the scenario in order, who made it: the
// commands the agent ran (noperm's helper execs kexec-tools in the same
// process after dropping CAP_SYS_BOOT, so kexec's argv is the helper's
// minus its first two words; badflags' helper makes both calls itself).
func (s callerSizes) callers(r plan.Result, kexec string) ([]callerWant, error) {
	argv := func(i int) ([]string, error) {
		if i >= len(r.Commands) {
			return nil, fmt.Errorf("command %d of the scenario did not run", i)
		}
		return r.Commands[i].Argv, nil
	}
	kexecCall := func(i, skip int) ([]callerWant, error) {
		a, err := argv(i)
		if err != nil || len(a) <= skip {
			return nil, fmt.Errorf("command %d: argv %q: %v", i, a, err)
		}
		return []callerWant{{exe: kexec, exeSize: s.kexec, argv: a[skip:]}}, nil
	}
	switch r.Scenario {
	case plan.Load, plan.FileLoad, plan.Crash, plan.Unload, plan.ExecLoad:
		return kexecCall(0, 0)
	case plan.NoPerm:
		return kexecCall(0, 2)
	case plan.BadFlags:
		a, err := argv(0)
		if err != nil {
			return nil, err
		}
		w := callerWant{exe: agentSelf, exeSize: s.agent, argv: a}
		return []callerWant{w, w}, nil
	case plan.Race:
		a, err := argv(0)
		if err != nil {
			return nil, err
		}
		w := make([]callerWant, plan.RaceTries)
		for i := range w {
			w[i] = callerWant{exe: agentSelf, exeSize: s.agent, argv: a}
		}
		return w, nil
	case plan.AArch32:
		var w []callerWant
		for i := range 2 {
			a, err := argv(i)
			if err != nil {
				return nil, err
			}
			w = append(w, callerWant{exe: guestTrigger32, exeSize: s.trigger32, argv: a})
		}
		return w, nil
	case plan.Disabled:
		first, err := kexecCall(0, 0)
		if err != nil {
			return nil, err
		}
		second, err := kexecCall(1, 0)
		return append(first, second...), err
	}
	return nil, fmt.Errorf("no callers known for scenario %q", r.Scenario)
}

// checkCaller checks the CALLER and ARGS records BPF wrote at the call's
// entry against the process the agent started.
func checkCaller(cc *CapCall, w callerWant, problem func(string, ...any)) {
	for typ, name := range map[uint16]string{layout.RecCaller: "CALLER", layout.RecArgs: "ARGS"} {
		if n := cc.Records[typ]; n != 1 {
			problem("%d %s records, want 1", n, name)
		}
	}
	checkArgv(cc.Argv, w.argv, problem)
	if cc.Env != nil {
		problem("an environment ARGS record without record --env")
	}
	k := cc.Caller
	if k == nil {
		return
	}
	flag := func(bit uint32, name string, want bool) {
		if (k.Flags&bit != 0) != want {
			problem("caller flag %s is %v, want %v (flags %#x)", name, !want, want, k.Flags)
		}
	}
	flag(layout.CFExe, "exe", true)
	flag(layout.CFExeDeleted, "exe-deleted", false)
	flag(layout.CFExeCut, "exe-cut", false)
	flag(layout.CFCwd, "cwd", true)
	flag(layout.CFNsPID, "ns-pid", true)
	flag(layout.CFCgroup, "cgroup", true)
	flag(layout.CFCgroupCut, "cgroup-cut", false)
	flag(layout.CFTTY, "tty", false)
	flag(layout.CFAncInit, "ancestors-reach-init", true)
	flag(layout.CFAncMore, "ancestors-more", false)
	if k.Exe != w.exe {
		problem("caller exe %q, want %q", k.Exe, w.exe)
	}
	if k.ExeIno == 0 || int64(k.ExeSize) != w.exeSize {
		problem("caller exe inode %d size %d, want a non-zero inode and size %d", k.ExeIno, k.ExeSize, w.exeSize)
	}
	if k.ExeMtimeSec != initramfsMtime || k.ExeCtimeSec <= 0 {
		problem("caller exe mtime %d ctime %d, want mtime %d (the initramfs archive's) and a ctime after 1970",
			k.ExeMtimeSec, k.ExeCtimeSec, initramfsMtime)
	}
	if k.Cwd != agentCwd || k.Cgroup != agentCgroup {
		problem("caller cwd %q cgroup %q, want %q %q", k.Cwd, k.Cgroup, agentCwd, agentCgroup)
	}
	if e := cc.Enter; e != nil && (k.NsLevel != 0 || k.NsPID != e.PID || k.NsTID != e.TID) {
		problem("caller ns pid %d tid %d level %d, want %d %d in the initial namespace (level 0)", k.NsPID, k.NsTID, k.NsLevel, e.PID, e.TID)
	}
	checkAncestors(cc, problem)
}

// checkAncestors: the first link is the agent (the caller's parent), and
// the chain ends at pid 1 marked as init.
func checkAncestors(cc *CapCall, problem func(string, ...any)) {
	anc := cc.Caller.Ancestors
	if len(anc) == 0 {
		problem("no ancestors")
		return
	}
	parent := anc[0]
	if parent.Comm != agentComm || parent.Exe != agentExe || parent.Flags&layout.AFExe == 0 {
		problem("first ancestor %s(%d) exe %q flags %#x, want the agent %s (%s)", parent.Comm, parent.PID, parent.Exe, parent.Flags, agentComm, agentExe)
	}
	if e := cc.Enter; e != nil && parent.PID != e.PPID {
		problem("first ancestor pid %d, the ENTER record's parent is %d", parent.PID, e.PPID)
	}
	for i, a := range anc {
		// pid 1 is forked so early in boot that its start may read 0.
		if a.PID == 0 || (a.StartNS == 0 && a.PID != 1) || a.UID != 0 || a.EUID != 0 {
			problem("ancestor %d: pid %d start %d uid %d euid %d, want a started root process", i, a.PID, a.StartNS, a.UID, a.EUID)
		}
		if i > 0 && a.StartNS > anc[i-1].StartNS {
			problem("ancestor %d started after its child", i)
		}
	}
	if last := anc[len(anc)-1]; last.PID != 1 || last.NsPID != 1 || last.Flags&layout.AFNsInit == 0 {
		problem("the chain ends at %s(%d) ns pid %d flags %#x, want init, pid 1", last.Comm, last.PID, last.NsPID, last.Flags)
	}
}

// checkArgv: the whole argv, as the NUL-terminated strings exec left on
// the caller's stack, uncut.
func checkArgv(a *layout.Args, want []string, problem func(string, ...any)) {
	if a == nil {
		return
	}
	joined := strings.Join(want, "\x00") + "\x00"
	if a.Kind != layout.ArgsArgv || a.ReadErr != 0 || a.Truncated() || a.Total != uint64(len(joined)) {
		problem("argv record kind %d read error %d: %d of %d bytes, want all %d of argv", a.Kind, a.ReadErr, len(a.Data), a.Total, len(joined))
	}
	if got := strings.Split(strings.TrimSuffix(string(a.Data), "\x00"), "\x00"); !slices.Equal(got, want) {
		problem("argv %q, want %q", got, want)
	}
}

// callerFacts summarises, for the results table, what the kernel read
// at entry for a cell's calls.
func callerFacts(calls []*CapCall) string {
	if len(calls) == 0 {
		return "-"
	}
	var parts []string
	for _, cc := range calls {
		k := cc.Caller
		if k == nil {
			parts = append(parts, "no CALLER record")
			continue
		}
		var f []string
		if k.Flags&layout.CFExe != 0 {
			f = append(f, "`"+k.Exe+"`")
		}
		if cc.Argv != nil && cc.Argv.ReadErr == 0 {
			f = append(f, fmt.Sprintf("argv %d", strings.Count(string(cc.Argv.Data), "\x00")))
		}
		if k.Flags&layout.CFCwd != 0 {
			f = append(f, "cwd `"+k.Cwd+"`")
		}
		if k.Flags&layout.CFCgroup != 0 {
			f = append(f, "cgroup `"+k.Cgroup+"`")
		}
		if k.Flags&layout.CFTTY != 0 {
			f = append(f, "tty `"+k.TTY+"`")
		}
		var chain []string
		for _, a := range k.Ancestors {
			chain = append(chain, fmt.Sprintf("%s(%d)", a.Comm, a.PID))
		}
		if e := cc.Enter; e != nil {
			chain = append([]string{fmt.Sprintf("%s(%d)", e.Comm, e.PID)}, chain...)
		}
		slices.Reverse(chain)
		f = append(f, fmt.Sprintf("%d ancestor(s): %s", len(k.Ancestors), strings.Join(chain, " > ")))
		parts = append(parts, strings.Join(f, ", "))
	}
	// A cell's calls usually share one description.
	return strings.Join(slices.Compact(parts), "; ")
}

// showCaller is the caller as `kexecrec show --format json` prints it.
type showCaller struct {
	PID     uint32   `json:"pid"`
	Exe     string   `json:"exe"`
	Argv    []string `json:"argv"`
	Cwd     string   `json:"cwd"`
	Cgroup  string   `json:"cgroup_path"`
	ExeFile *struct {
		Ino  uint64 `json:"ino"`
		Size uint64 `json:"size"`
	} `json:"exe_file"`
	Ancestors []struct {
		PID  uint32 `json:"pid"`
		Comm string `json:"comm"`
		Init bool   `json:"init"`
	} `json:"ancestors"`
	Sources map[string]string `json:"sources"`
}

// entryFields are the caller fields the kernel must have read at entry in
// the guest (there is no tty to read).
var entryFields = []string{"exe", "argv", "cwd", "cgroup_path", "ns_pid", "ancestors"}

// checkShowCaller: show names the kernel at entry as the source of the
// caller's exe, argv, cwd and ancestry, and prints what the bed expects.
func checkShowCaller(i int, c showCaller, w callerWant, problem func(string, ...any)) {
	for _, f := range entryFields {
		if c.Sources[f] != "kernel-entry" {
			problem("show call %d: caller %s from %q, want kernel-entry (sources %v)", i, f, c.Sources[f], c.Sources)
		}
	}
	if c.Exe != w.exe || !slices.Equal(c.Argv, w.argv) || c.Cwd != agentCwd || c.Cgroup != agentCgroup {
		problem("show call %d: caller exe %q argv %q cwd %q cgroup %q, want %q %q %q %q",
			i, c.Exe, c.Argv, c.Cwd, c.Cgroup, w.exe, w.argv, agentCwd, agentCgroup)
	}
	if c.ExeFile == nil || c.ExeFile.Ino == 0 || int64(c.ExeFile.Size) != w.exeSize {
		problem("show call %d: exe_file %+v, want a non-zero inode and size %d", i, c.ExeFile, w.exeSize)
	}
	if n := len(c.Ancestors); n == 0 || c.Ancestors[0].Comm != agentComm || c.Ancestors[n-1].PID != 1 || !c.Ancestors[n-1].Init {
		problem("show call %d: ancestors %+v, want the agent first and init (pid 1) last", i, c.Ancestors)
	}
}

// TestCheckCaller runs the bed's caller checks on a record as the guest
// produces it, then on copies with one fact wrong: each must be caught.
func TestCheckCaller(t *testing.T) {
	w := callerWant{exe: "/usr/sbin/kexec", exeSize: 1234, argv: []string{"/usr/sbin/kexec", "-u", "--kexec-syscall"}}
	good := func() *CapCall {
		argv := []byte(strings.Join(w.argv, "\x00") + "\x00")
		return &CapCall{
			Enter:   &layout.Enter{PID: 300, TID: 300, PPID: 1, Comm: "kexec"},
			Records: map[uint16]int{layout.RecCaller: 1, layout.RecArgs: 1},
			Argv:    &layout.Args{Kind: layout.ArgsArgv, Total: uint64(len(argv)), Data: argv},
			Caller: &layout.Caller{
				Flags: layout.CFExe | layout.CFCwd | layout.CFCgroup | layout.CFNsPID | layout.CFAncInit,
				Exe:   w.exe, ExeIno: 42, ExeSize: 1234, ExeCtimeSec: 1.7e9,
				Cwd: "/", Cgroup: "/", NsPID: 300, NsTID: 300,
				Ancestors: []layout.Ancestor{{PID: 1, TID: 1, NsPID: 1, StartNS: 5, Comm: "init", Exe: "/init",
					Flags: layout.AFExe | layout.AFNsInit}},
			},
		}
	}
	problems := func(cc *CapCall) []string {
		var got []string
		checkCaller(cc, w, func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) })
		return got
	}
	if got := problems(good()); len(got) != 0 {
		t.Fatalf("the guest's caller is flagged: %q", got)
	}
	for name, spoil := range map[string]func(*CapCall){
		"exe path":          func(c *CapCall) { c.Caller.Exe = "/init" },
		"exe not read":      func(c *CapCall) { c.Caller.Flags &^= layout.CFExe },
		"exe deleted":       func(c *CapCall) { c.Caller.Flags |= layout.CFExeDeleted },
		"inode 0":           func(c *CapCall) { c.Caller.ExeIno = 0 },
		"size":              func(c *CapCall) { c.Caller.ExeSize = 99 },
		"mtime":             func(c *CapCall) { c.Caller.ExeMtimeSec = 1 },
		"cwd":               func(c *CapCall) { c.Caller.Cwd = "/tmp" },
		"cgroup":            func(c *CapCall) { c.Caller.Cgroup = "/x" },
		"tty":               func(c *CapCall) { c.Caller.Flags |= layout.CFTTY },
		"ns pid":            func(c *CapCall) { c.Caller.NsPID = 7 },
		"argv":              func(c *CapCall) { c.Argv.Data = []byte("/usr/sbin/kexec\x00-u\x00") },
		"argv cut":          func(c *CapCall) { c.Argv.Total += 10 },
		"argv missing":      func(c *CapCall) { c.Argv = nil; c.Records[layout.RecArgs] = 0 },
		"caller missing":    func(c *CapCall) { c.Caller = nil; c.Records[layout.RecCaller] = 0 },
		"env without --env": func(c *CapCall) { c.Env = &layout.Args{Kind: layout.ArgsEnv} },
		"no ancestors":      func(c *CapCall) { c.Caller.Ancestors = nil },
		"parent not agent":  func(c *CapCall) { c.Caller.Ancestors[0].Comm = "sh" },
		"parent pid":        func(c *CapCall) { c.Enter.PPID = 2 },
		"chain short of init": func(c *CapCall) {
			c.Caller.Ancestors[0].Flags &^= layout.AFNsInit
		},
		"more ancestors": func(c *CapCall) { c.Caller.Flags |= layout.CFAncMore },
	} {
		cc := good()
		spoil(cc)
		if len(problems(cc)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}
