package layout

import (
	"encoding/binary"
	"fmt"
)

// The caller as the BPF programs read it at syscall entry (records.h:
// struct kr_caller, struct kr_args). Both records precede their call's
// ENTER in the ring; the recorder stores them after it.

// Caller flags (KR_CF_*): which facts the kernel read, and how.
const (
	CFExe        = 0x1
	CFExeDeleted = 0x2
	CFExeCut     = 0x4
	CFCwd        = 0x8
	CFCwdCut     = 0x10
	CFCwdDeleted = 0x20
	CFTTY        = 0x40
	CFCgroup     = 0x80
	CFCgroupCut  = 0x100
	CFNsPID      = 0x200
	CFAncMore    = 0x400
	CFAncInit    = 0x800
)

// Ancestor flags (KR_AF_*).
const (
	AFExe        = 0x1
	AFExeDeleted = 0x2
	AFExeCut     = 0x4
	AFNsInit     = 0x8
)

// Args kinds (KR_ARGS_*).
const (
	ArgsArgv = 1
	ArgsEnv  = 2
)

const (
	MaxAncestors = 8
	TTYNameLen   = 64
	// ArgsMax is the most argv or environment bytes one ARGS record holds
	// (KR_ARGS_MAX): the bound --max-args may be raised to.
	ArgsMax = 64 << 10
)

// Sizes of the caller records (sizeof in records.h).
const (
	AncestorSize = 4*4 + 8 + 4 + 4 + CommLen + PathLen                                                     // 304
	CallerSize   = HeaderSize + 4*2 + 8*4 + 4*2 + 4*6 + 3*PathLen + TTYNameLen + MaxAncestors*AncestorSize // 3352
	ArgsSize     = HeaderSize + 4 + 4 + 8 + 4 + 4                                                          // 48
)

// Ancestor is struct kr_ancestor: one process up the caller's parent chain.
type Ancestor struct {
	PID, TID, UID, EUID uint32
	StartNS             uint64 // CLOCK_BOOTTIME of its fork
	NsPID               uint32 // its pid in its own pid namespace
	Flags               uint32 // AF*
	Comm                string
	Exe                 string // as read; see ExePath
}

// Caller is struct kr_caller.
type Caller struct {
	Header
	Flags                      uint32 // CF*
	ExeDev                     uint32 // kernel encoding: major<<20 | minor
	ExeIno, ExeSize            uint64
	ExeMtimeSec, ExeCtimeSec   int64
	ExeMtimeNsec, ExeCtimeNsec uint32
	TTYMajor, TTYMinor         uint32
	NsPID, NsTID, NsLevel      uint32
	Exe, Cwd, Cgroup, TTY      string
	Ancestors                  []Ancestor // parent first; at most MaxAncestors
}

// Args is struct kr_args; Data aliases the input.
type Args struct {
	Header
	Kind    uint32 // ArgsArgv or ArgsEnv
	ReadErr int32
	Total   uint64 // real length
	Data    []byte // the first Len bytes
}

// ParseCaller decodes a RecCaller record.
func ParseCaller(b []byte, bo binary.ByteOrder) (Caller, error) {
	h, d, err := body(b, bo, RecCaller, CallerSize)
	if err != nil {
		return Caller{Header: h}, err
	}
	c := Caller{Header: h}
	c.Flags, c.ExeDev = d.u32(), d.u32()
	c.ExeIno, c.ExeSize = d.u64(), d.u64()
	c.ExeMtimeSec, c.ExeCtimeSec = int64(d.u64()), int64(d.u64())
	c.ExeMtimeNsec, c.ExeCtimeNsec = d.u32(), d.u32()
	c.TTYMajor, c.TTYMinor = d.u32(), d.u32()
	c.NsPID, c.NsTID, c.NsLevel = d.u32(), d.u32(), d.u32()
	n := d.u32()
	c.Exe, c.Cwd, c.Cgroup, c.TTY = d.str(PathLen), d.str(PathLen), d.str(PathLen), d.str(TTYNameLen)
	if n > MaxAncestors {
		return c, fmt.Errorf("layout: caller record says %d ancestors, at most %d fit", n, MaxAncestors)
	}
	c.Ancestors = make([]Ancestor, n)
	for i := range c.Ancestors {
		a := &c.Ancestors[i]
		a.PID, a.TID, a.UID, a.EUID = d.u32(), d.u32(), d.u32(), d.u32()
		a.StartNS = d.u64()
		a.NsPID, a.Flags = d.u32(), d.u32()
		a.Comm, a.Exe = d.str(CommLen), d.str(PathLen)
	}
	return c, nil
}

// ParseArgs decodes a RecArgs record; Data aliases b.
func ParseArgs(b []byte, bo binary.ByteOrder) (Args, error) {
	h, d, err := body(b, bo, RecArgs, ArgsSize)
	if err != nil {
		return Args{Header: h}, err
	}
	a := Args{Header: h}
	a.Kind = d.u32()
	a.ReadErr = int32(d.u32())
	a.Total = d.u64()
	n := d.u32()
	if n > ArgsMax || uint64(ArgsSize)+uint64(n) > uint64(h.Size) || uint64(n) > a.Total {
		return a, fmt.Errorf("%w: args record says %d of %d bytes in a %d-byte record", ErrShort, n, a.Total, h.Size)
	}
	a.Data = b[ArgsSize : ArgsSize+int(n)]
	return a, nil
}

// Truncated reports whether the record holds fewer bytes than the caller had.
func (a Args) Truncated() bool { return uint64(len(a.Data)) < a.Total }
