package layout

import "encoding/binary"

// Marshal encodes c as a RecCaller record (at most MaxAncestors ancestors).
func (x Caller) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	e.hdr(x.Header, RecCaller, CallerSize)
	e.u32(x.Flags)
	e.u32(x.ExeDev)
	e.u64(x.ExeIno)
	e.u64(x.ExeSize)
	e.u64(uint64(x.ExeMtimeSec))
	e.u64(uint64(x.ExeCtimeSec))
	e.u32(x.ExeMtimeNsec)
	e.u32(x.ExeCtimeNsec)
	e.u32(x.TTYMajor)
	e.u32(x.TTYMinor)
	e.u32(x.NsPID)
	e.u32(x.NsTID)
	e.u32(x.NsLevel)
	n := min(len(x.Ancestors), MaxAncestors)
	e.u32(uint32(n))
	e.str(x.Exe, PathLen)
	e.str(x.Cwd, PathLen)
	e.str(x.Cgroup, PathLen)
	e.str(x.TTY, TTYNameLen)
	for i := range MaxAncestors {
		var a Ancestor
		if i < n {
			a = x.Ancestors[i]
		}
		e.u32(a.PID)
		e.u32(a.TID)
		e.u32(a.UID)
		e.u32(a.EUID)
		e.u64(a.StartNS)
		e.u32(a.NsPID)
		e.u32(a.Flags)
		e.str(a.Comm, CommLen)
		e.str(a.Exe, PathLen)
	}
	return e.b
}

// Marshal encodes a as a RecArgs record; Data is padded to 8 bytes.
func (x Args) Marshal(bo binary.AppendByteOrder) []byte {
	e := enc{bo: bo}
	size := (ArgsSize + len(x.Data) + 7) &^ 7
	e.hdr(x.Header, RecArgs, size)
	e.u32(x.Kind)
	e.u32(uint32(x.ReadErr))
	e.u64(x.Total)
	e.u32(uint32(len(x.Data)))
	e.u32(0)
	e.b = append(e.b, x.Data...)
	e.b = append(e.b, make([]byte, size-len(e.b))...)
	return e.b
}
