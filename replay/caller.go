package replay

import (
	"bytes"
	"fmt"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Where a caller field came from (Caller.Sources values).
const (
	SourceKernelEntry = "kernel-entry"    // read by BPF at syscall entry
	SourceProcAfter   = "proc-after-call" // read from /proc by the recorder afterwards (may be a later state)
)

// ExeFile is the caller's executable as the kernel saw it at entry.
type ExeFile struct {
	Dev     string    `json:"dev"` // "major:minor"
	Ino     uint64    `json:"ino"`
	Size    uint64    `json:"size"`
	Mtime   time.Time `json:"mtime"`
	Ctime   time.Time `json:"ctime"`
	Deleted bool      `json:"deleted,omitempty"` // unlinked after exec: the path ends in " (deleted)"
	Cut     bool      `json:"cut,omitempty"`     // path too long or deep: it starts with "..."
}

// TTY is the caller's controlling terminal.
type TTY struct {
	Name  string `json:"name"`
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
}

// Ancestor is one process up the caller's parent chain, parent first.
type Ancestor struct {
	PID         uint32 `json:"pid"`
	TID         uint32 `json:"tid"`
	NsPID       uint32 `json:"ns_pid"` // its pid in its own pid namespace
	Comm        string `json:"comm"`
	Exe         string `json:"exe,omitempty"`
	UID         uint32 `json:"uid"`
	EUID        uint32 `json:"euid"`
	StartBootNS uint64 `json:"start_boot_ns"` // CLOCK_BOOTTIME of its fork
	// Init: pid 1 of the machine or of its pid namespace (the chain ends here).
	Init bool `json:"init,omitempty"`
}

// CallerArgs is how much of argv or the environment was recorded.
type CallerArgs struct {
	Total     uint64 `json:"total"`               // real length in bytes
	Captured  uint64 `json:"captured"`            // bytes recorded
	Truncated bool   `json:"truncated,omitempty"` // Captured < Total (record --max-args)
	ReadError string `json:"read_error,omitempty"`
}

// deletedMark is what the kernel's d_path appends to an unlinked file.
const deletedMark = " (deleted)"

// callerRec decodes a RecCaller record into the call's Caller.
func (d *Decoder) callerRec(b []byte) []*Call {
	k, err := layout.ParseCaller(b, d.bo)
	if err != nil {
		d.malformed(layout.RecCaller, err)
		return nil
	}
	d.stats.ByType["caller"]++
	cs, out, ok := d.lookup(k.CallID, layout.RecCaller)
	if !ok {
		return out
	}
	cl := &cs.call.Caller
	src := cl.sources()
	if k.Flags&layout.CFExe != 0 {
		cl.Exe = k.Exe
		if k.Flags&layout.CFExeDeleted != 0 {
			cl.Exe += deletedMark
		}
		cl.ExeFile = &ExeFile{
			Dev:     DevString(k.ExeDev),
			Ino:     k.ExeIno,
			Size:    k.ExeSize,
			Mtime:   time.Unix(k.ExeMtimeSec, int64(k.ExeMtimeNsec)).UTC(),
			Ctime:   time.Unix(k.ExeCtimeSec, int64(k.ExeCtimeNsec)).UTC(),
			Deleted: k.Flags&layout.CFExeDeleted != 0,
			Cut:     k.Flags&layout.CFExeCut != 0,
		}
		src["exe"] = SourceKernelEntry
	}
	if k.Flags&layout.CFCwd != 0 {
		cl.Cwd = k.Cwd
		if k.Flags&layout.CFCwdDeleted != 0 {
			cl.Cwd += deletedMark
		}
		src["cwd"] = SourceKernelEntry
	}
	if k.Flags&layout.CFTTY != 0 {
		cl.TTY = &TTY{Name: k.TTY, Major: k.TTYMajor, Minor: k.TTYMinor}
		src["tty"] = SourceKernelEntry
	}
	if k.Flags&layout.CFCgroup != 0 {
		cl.CgroupPath = k.Cgroup
		src["cgroup_path"] = SourceKernelEntry
	}
	if k.Flags&layout.CFNsPID != 0 {
		cl.NsPID, cl.NsTID, cl.NsLevel = k.NsPID, k.NsTID, k.NsLevel
		src["ns_pid"] = SourceKernelEntry
	}
	cl.Ancestors = make([]Ancestor, len(k.Ancestors))
	for i, a := range k.Ancestors {
		exe := a.Exe
		if a.Flags&layout.AFExeDeleted != 0 {
			exe += deletedMark
		}
		cl.Ancestors[i] = Ancestor{PID: a.PID, TID: a.TID, NsPID: a.NsPID, Comm: a.Comm, Exe: exe,
			UID: a.UID, EUID: a.EUID, StartBootNS: a.StartNS, Init: a.Flags&layout.AFNsInit != 0}
	}
	cl.AncestorsTruncated = k.Flags&layout.CFAncMore != 0
	src["ancestors"] = SourceKernelEntry
	return out
}

// argsRec decodes a RecArgs record (argv or environment).
func (d *Decoder) argsRec(b []byte) []*Call {
	a, err := layout.ParseArgs(b, d.bo)
	if err != nil {
		d.malformed(layout.RecArgs, err)
		return nil
	}
	d.stats.ByType["args"]++
	cs, out, ok := d.lookup(a.CallID, layout.RecArgs)
	if !ok {
		return out
	}
	cl := &cs.call.Caller
	info := &CallerArgs{Total: a.Total, Captured: uint64(len(a.Data)), Truncated: a.Truncated()}
	var strs []string
	if a.ReadErr != 0 {
		info.ReadError = ErrnoName(-int64(a.ReadErr))
	} else {
		strs = splitNul(a.Data)
	}
	switch a.Kind {
	case layout.ArgsArgv:
		cl.ArgvInfo = info
		if a.ReadErr == 0 {
			cl.Argv = strs
			cl.sources()["argv"] = SourceKernelEntry
		}
	case layout.ArgsEnv:
		cl.EnvInfo = info
		if a.ReadErr == 0 {
			cl.Env = strs
			cl.sources()["env"] = SourceKernelEntry
		}
	default:
		cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("args record of unknown kind %d: ignored", a.Kind))
	}
	return out
}

// splitNul splits NUL-separated strings as in /proc/PID/cmdline: one
// trailing NUL ends the last string; a cut last string is kept as it is.
func splitNul(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// sources returns the caller's field-source map, made on first use.
func (c *Caller) sources() map[string]string {
	if c.Sources == nil {
		c.Sources = make(map[string]string)
	}
	return c.Sources
}

// applyProcess takes the fields of a PROCESS record (read from /proc after
// the call) that the kernel did not read at entry.
func (c *Caller) applyProcess(pr layout.Process) {
	fromKernel := func(f string) bool { return c.Sources[f] == SourceKernelEntry }
	if !fromKernel("exe") {
		c.Exe = pr.Exe
	}
	if !fromKernel("argv") {
		c.Argv = pr.Argv
	}
	if !fromKernel("cgroup_path") {
		c.CgroupPath = pr.CgroupPath
	}
	c.ContainerID = pr.ContainerID
	c.Raced = pr.Raced
	if c.Sources != nil { // a capture with entry records: name every field's origin
		for _, f := range pr.Raced {
			if f == "cgroup" {
				f = "cgroup_path"
			}
			c.Sources[f] = SourceProcAfter
		}
	}
}

// DevString formats a kernel dev_t (major<<20 | minor) as "major:minor".
func DevString(dev uint32) string {
	return fmt.Sprintf("%d:%d", dev>>20, dev&0xfffff)
}
