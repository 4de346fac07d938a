package replay

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendCall appends c exactly as encoding/json would encode it (same field
// order, omitempty rules and escaping: render_json_test.go checks it against
// json.Marshal), without reflection: NDJSON output of a large capture is
// dominated by encoding otherwise. Nested identify reports are rare and
// go through encoding/json.
func appendCall(b []byte, c *Call) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, c.ID, 10)
	b = append(b, `,"syscall":`...)
	b = appendString(b, c.Syscall)
	b = append(b, `,"syscall_nr":`...)
	b = strconv.AppendUint(b, uint64(c.SyscallNr), 10)
	b = append(b, `,"abi":`...)
	b = appendString(b, c.ABI)
	b = append(b, `,"hook":`...)
	b = appendString(b, c.Hook)
	b = append(b, `,"time":`...)
	t, err := c.Time.MarshalJSON()
	if err != nil {
		return b, err
	}
	b = append(b, t...)
	b = append(b, `,"boot_ns":`...)
	b = strconv.AppendUint(b, c.BootNS, 10)
	b = append(b, `,"cpu":`...)
	b = strconv.AppendUint(b, uint64(c.CPU), 10)
	b = append(b, `,"caller":`...)
	b = appendCaller(b, &c.Caller)
	b = append(b, `,"args":`...)
	b = appendArgs(b, &c.Args)
	if len(c.Segments) > 0 {
		b = append(b, `,"segments":[`...)
		for i := range c.Segments {
			s := &c.Segments[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(s.Index), 10)
			b = append(b, `,"buf":`...)
			b = strconv.AppendUint(b, s.Buf, 10)
			b = append(b, `,"bufsz":`...)
			b = strconv.AppendUint(b, s.BufSz, 10)
			b = append(b, `,"mem":`...)
			b = strconv.AppendUint(b, s.Mem, 10)
			b = append(b, `,"memsz":`...)
			b = strconv.AppendUint(b, s.MemSz, 10)
			if s.Loaded != nil {
				b = append(b, `,"loaded":`...)
				if b, err = appendJSON(b, s.Loaded); err != nil {
					return b, err
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if c.SegmentTableError != "" {
		b = append(b, `,"segment_table_error":`...)
		b = appendString(b, c.SegmentTableError)
	}
	if len(c.Files) > 0 {
		b = append(b, `,"files":[`...)
		for i := range c.Files {
			f := &c.Files[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = appendString(b, f.Kind)
			b = append(b, `,"path":`...)
			b = appendString(b, f.Path)
			b = append(b, `,"dev":`...)
			b = appendString(b, f.Dev)
			b = append(b, `,"ino":`...)
			b = strconv.AppendUint(b, f.Ino, 10)
			b = append(b, `,"size":`...)
			b = strconv.AppendUint(b, f.Size, 10)
			b = append(b, `,"i_size":`...)
			b = strconv.AppendUint(b, f.ISize, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if c.Cmdline != nil {
		b = append(b, `,"cmdline":`...)
		b = appendString(b, *c.Cmdline)
	}
	if len(c.Payloads) > 0 {
		b = append(b, `,"payloads":[`...)
		for i, p := range c.Payloads {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendPayload(b, p); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if len(c.Loaded) > 0 {
		b = append(b, `,"loaded_segments":`...)
		if b, err = appendJSON(b, c.Loaded); err != nil {
			return b, err
		}
	}
	if c.Purgatory != nil {
		b = append(b, `,"purgatory":`...)
		if b, err = appendJSON(b, c.Purgatory); err != nil {
			return b, err
		}
	}
	if c.DTBInitrd != nil {
		b = append(b, `,"dtb_initrd":`...)
		if b, err = appendJSON(b, c.DTBInitrd); err != nil {
			return b, err
		}
	}
	b = append(b, `,"outcome":`...)
	b = appendString(b, c.Outcome)
	if c.Ret != nil {
		b = append(b, `,"ret":`...)
		b = strconv.AppendInt(b, *c.Ret, 10)
	}
	if c.Errno != "" {
		b = append(b, `,"errno":`...)
		b = appendString(b, c.Errno)
	}
	if c.DurationNS != 0 {
		b = append(b, `,"duration_ns":`...)
		b = strconv.AppendUint(b, c.DurationNS, 10)
	}
	if c.RetKnownInAdvance {
		b = append(b, `,"ret_known_in_advance":true`...)
	}
	if len(c.Problems) > 0 {
		b = append(b, `,"problems":`...)
		b = appendStrings(b, c.Problems)
	}
	return append(b, '}'), nil
}

func appendCaller(b []byte, c *Caller) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendUint(b, uint64(c.PID), 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendUint(b, uint64(c.TID), 10)
	b = append(b, `,"ppid":`...)
	b = strconv.AppendUint(b, uint64(c.PPID), 10)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(c.UID), 10)
	b = append(b, `,"gid":`...)
	b = strconv.AppendUint(b, uint64(c.GID), 10)
	b = append(b, `,"euid":`...)
	b = strconv.AppendUint(b, uint64(c.EUID), 10)
	b = append(b, `,"egid":`...)
	b = strconv.AppendUint(b, uint64(c.EGID), 10)
	b = append(b, `,"loginuid":`...)
	b = strconv.AppendUint(b, uint64(c.LoginUID), 10)
	b = append(b, `,"sessionid":`...)
	b = strconv.AppendUint(b, uint64(c.SessionID), 10)
	b = append(b, `,"comm":`...)
	b = appendString(b, c.Comm)
	if c.Exe != "" {
		b = append(b, `,"exe":`...)
		b = appendString(b, c.Exe)
	}
	if len(c.Argv) > 0 {
		b = append(b, `,"argv":`...)
		b = appendStrings(b, c.Argv)
	}
	b = append(b, `,"cgroup_id":`...)
	b = strconv.AppendUint(b, c.CgroupID, 10)
	if c.CgroupPath != "" {
		b = append(b, `,"cgroup_path":`...)
		b = appendString(b, c.CgroupPath)
	}
	if c.ContainerID != "" {
		b = append(b, `,"container_id":`...)
		b = appendString(b, c.ContainerID)
	}
	b = append(b, `,"mnt_ns":`...)
	b = strconv.AppendUint(b, uint64(c.MntNS), 10)
	b = append(b, `,"pid_ns":`...)
	b = strconv.AppendUint(b, uint64(c.PidNS), 10)
	if len(c.Raced) > 0 {
		b = append(b, `,"raced":`...)
		b = appendStrings(b, c.Raced)
	}
	b, _ = appendCallerEntry(b, c) // plain values: marshalling cannot fail
	return append(b, '}')
}

func appendArgs(b []byte, a *Args) []byte {
	b = append(b, `{"raw":[`...)
	for i, v := range a.Raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, ']')
	optU := func(name string, v *uint64) {
		if v != nil {
			b = append(b, name...)
			b = strconv.AppendUint(b, *v, 10)
		}
	}
	optI := func(name string, v *int32) {
		if v != nil {
			b = append(b, name...)
			b = strconv.AppendInt(b, int64(*v), 10)
		}
	}
	optU(`,"entry":`, a.Entry)
	optU(`,"nr_segments":`, a.NrSegments)
	optU(`,"segments_ptr":`, a.SegmentsPtr)
	optI(`,"kernel_fd":`, a.KernelFD)
	optI(`,"initrd_fd":`, a.InitrdFD)
	optU(`,"cmdline_len":`, a.CmdlineLen)
	optU(`,"cmdline_ptr":`, a.CmdlinePtr)
	b = append(b, `,"flags":`...)
	b = strconv.AppendUint(b, a.Flags, 10)
	b = append(b, `,"flag_names":`...)
	if a.FlagNames == nil {
		b = append(b, "null"...)
	} else {
		b = appendStrings(b, a.FlagNames)
	}
	if a.Arch != "" {
		b = append(b, `,"arch":`...)
		b = appendString(b, a.Arch)
	}
	return append(b, '}')
}

func appendPayload(b []byte, p *Payload) ([]byte, error) {
	if p == nil {
		return append(b, "null"...), nil
	}
	b = append(b, `{"kind":`...)
	b = appendString(b, p.Kind)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(p.Index), 10)
	b = append(b, `,"source":`...)
	b = appendString(b, p.Source)
	b = append(b, `,"total":`...)
	b = strconv.AppendUint(b, p.Total, 10)
	b = append(b, `,"captured":`...)
	b = strconv.AppendUint(b, p.Captured, 10)
	b = append(b, `,"sha256":`...)
	b = appendString(b, p.SHA256)
	b = append(b, `,"complete":`...)
	b = strconv.AppendBool(b, p.Complete)
	if len(p.Reasons) > 0 {
		b = append(b, `,"reasons":`...)
		b = appendStrings(b, p.Reasons)
	}
	if len(p.Missing) > 0 {
		b = append(b, `,"missing":[`...)
		for i, m := range p.Missing {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"off":`...)
			b = strconv.AppendUint(b, m.Off, 10)
			b = append(b, `,"len":`...)
			b = strconv.AppendUint(b, m.Len, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if p.Identity != nil {
		b = append(b, `,"identity":`...)
		var err error
		if b, err = appendJSON(b, p.Identity); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	return append(b, j...), err
}

func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, x)
	}
	return append(b, ']')
}

// appendString writes s as encoding/json does; anything beyond plain
// printable ASCII is left to encoding/json itself so escaping (HTML-safe
// characters, invalid UTF-8, U+2028/2029) is identical.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
