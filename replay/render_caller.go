package replay

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// callerLines are show's lines about who made the call: executable, argv,
// cwd, tty, the ancestry chain, namespace ids, cgroup and where each fact
// came from. Every string from the capture is made inert (sanitize,
// quoteArgv).
func callerLines(cl *Caller, wide bool) [][2]string {
	var kvs [][2]string
	add := func(k, v string) { kvs = append(kvs, [2]string{k, v}) }
	if cl.Exe != "" {
		add("exe", sanitize(cl.Exe))
	}
	if f := cl.ExeFile; f != nil {
		add("exe file", fmt.Sprintf("dev %s ino %d size %d mtime %s ctime %s", f.Dev, f.Ino, f.Size,
			f.Mtime.Format("2006-01-02 15:04:05 UTC"), f.Ctime.Format("2006-01-02 15:04:05 UTC")))
	}
	if len(cl.Argv) > 0 {
		add("argv", quoteArgv(cl.Argv)+argsNote(cl.ArgvInfo))
	} else if cl.ArgvInfo != nil {
		add("argv", "unreadable at entry"+argsNote(cl.ArgvInfo))
	}
	if cl.EnvInfo != nil {
		add("env", quoteArgv(cl.Env)+argsNote(cl.EnvInfo))
	}
	if cl.Cwd != "" {
		add("cwd", sanitize(cl.Cwd))
	}
	if cl.TTY != nil {
		add("tty", fmt.Sprintf("%s (%d:%d)", sanitize(cl.TTY.Name), cl.TTY.Major, cl.TTY.Minor))
	}
	if len(cl.Ancestors) > 0 {
		add("ancestry", AncestryChain(cl, wide))
	}
	if cl.Sources["ns_pid"] != "" && (cl.NsPID != cl.PID || cl.NsTID != cl.TID) {
		add("pid ns", fmt.Sprintf("pid %d tid %d in its pid namespace (level %d)", cl.NsPID, cl.NsTID, cl.NsLevel))
	}
	if cl.CgroupPath != "" || cl.ContainerID != "" {
		add("cgroup", sanitize(strings.TrimSpace(cl.CgroupPath+" "+cl.ContainerID)))
	}
	if line := sourcesLine(cl.Sources); line != "" {
		add("source", line)
	}
	if len(cl.Raced) > 0 {
		add("raced", strings.Join(cl.Raced, ",")+" read from /proc after the call (may be later state)")
	}
	return kvs
}

// argsNote says how much of argv or the environment a capture holds when
// it is not all of it.
func argsNote(a *CallerArgs) string {
	switch {
	case a == nil:
		return ""
	case a.ReadError != "":
		return fmt.Sprintf(" [%d bytes, unreadable: %s]", a.Total, a.ReadError)
	case a.Truncated:
		return fmt.Sprintf(" [TRUNCATED: %d of %d bytes]", a.Captured, a.Total)
	}
	return ""
}

// AncestryChain is the caller's parent chain on one line, the oldest
// ancestor first: "sshd(812) > bash(1201) > kexec(1322)"; wide adds each
// executable path. "... > " leads when the chain was cut before an init.
func AncestryChain(cl *Caller, wide bool) string {
	var parts []string
	if cl.AncestorsTruncated {
		parts = append(parts, "...")
	}
	link := func(comm string, pid uint32, exe string) string {
		s := sanitize(comm) + "(" + strconv.FormatUint(uint64(pid), 10) + ")"
		if wide && exe != "" {
			s += "[" + sanitize(exe) + "]"
		}
		return s
	}
	for _, a := range slices.Backward(cl.Ancestors) {
		parts = append(parts, link(a.Comm, a.PID, a.Exe))
	}
	parts = append(parts, link(cl.Comm, cl.PID, cl.Exe))
	return strings.Join(parts, " > ")
}

// TopAncestor is the oldest ancestor that is not an init (pid 1 of the
// machine or of a pid namespace), or the caller itself when there is none;
// "" when the capture has no ancestry.
func TopAncestor(cl *Caller) string {
	if len(cl.Ancestors) == 0 {
		return ""
	}
	for _, a := range slices.Backward(cl.Ancestors) {
		if !a.Init {
			return sanitize(a.Comm) + " " + sanitize(a.Exe)
		}
	}
	return sanitize(cl.Comm) + " " + sanitize(cl.Exe)
}

// sourcesLine groups the caller's fields by where they came from.
func sourcesLine(src map[string]string) string {
	if len(src) == 0 {
		return ""
	}
	var kernel, proc []string
	for _, f := range []string{"exe", "argv", "env", "cwd", "tty", "ancestors", "ns_pid", "cgroup_path"} {
		switch src[f] {
		case SourceKernelEntry:
			kernel = append(kernel, f)
		case SourceProcAfter:
			proc = append(proc, f)
		}
	}
	var out []string
	if len(kernel) > 0 {
		out = append(out, "kernel at entry: "+strings.Join(kernel, ","))
	}
	if len(proc) > 0 {
		out = append(out, "/proc after the call: "+strings.Join(proc, ","))
	}
	return strings.Join(out, "; ")
}

// callerEntryJSON is the part of Caller read at syscall entry, in Caller's
// field order, so appendCallerEntry writes what encoding/json would.
type callerEntryJSON struct {
	ExeFile            *ExeFile          `json:"exe_file,omitempty"`
	ArgvInfo           *CallerArgs       `json:"argv_info,omitempty"`
	Env                []string          `json:"env,omitempty"`
	EnvInfo            *CallerArgs       `json:"env_info,omitempty"`
	Cwd                string            `json:"cwd,omitempty"`
	TTY                *TTY              `json:"tty,omitempty"`
	NsPID              uint32            `json:"ns_pid,omitempty"`
	NsTID              uint32            `json:"ns_tid,omitempty"`
	NsLevel            uint32            `json:"ns_level,omitempty"`
	Ancestors          []Ancestor        `json:"ancestors,omitempty"`
	AncestorsTruncated bool              `json:"ancestors_truncated,omitempty"`
	Sources            map[string]string `json:"sources,omitempty"`
}

// appendCallerEntry appends the entry-read caller fields (if any) to a
// caller JSON object being written (without its closing brace).
func appendCallerEntry(b []byte, c *Caller) ([]byte, error) {
	if c.Sources == nil && c.ExeFile == nil && c.ArgvInfo == nil && c.EnvInfo == nil && c.Cwd == "" && c.TTY == nil &&
		c.NsPID == 0 && len(c.Ancestors) == 0 && !c.AncestorsTruncated && len(c.Env) == 0 && c.NsTID == 0 && c.NsLevel == 0 {
		return b, nil
	}
	j, err := json.Marshal(callerEntryJSON{c.ExeFile, c.ArgvInfo, c.Env, c.EnvInfo, c.Cwd, c.TTY, c.NsPID, c.NsTID,
		c.NsLevel, c.Ancestors, c.AncestorsTruncated, c.Sources})
	if err != nil || len(j) <= 2 {
		return b, err
	}
	b = append(b, ',')
	return append(b, j[1:len(j)-1]...), nil
}
