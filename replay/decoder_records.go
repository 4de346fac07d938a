package replay

import (
	"encoding/binary"
	"fmt"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Decoding the records that describe a call: entry (arguments, caller),
// process details and exit; repeated strings and flag names are interned.

// recentSlot picks a slot of Decoder.recent from the length and the first
// and last 8 bytes (hashes differ there, paths in their tails).
func recentSlot(b []byte) uint8 {
	var x uint64
	if n := len(b); n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0x9e3779b97f4a7c15
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	x ^= uint64(len(b))
	return uint8((x * 0x9e3779b97f4a7c15) >> 56)
}

// Bounds of the decoder's caches of repeated strings and flag names.
const (
	maxInterned  = 4096
	maxInternLen = 4096
	maxFlagCache = 256
)

type flagKey struct {
	syscall string
	flags   uint64
}

type flagNames struct {
	names []string
	arch  string
}

func (d *Decoder) enter(b []byte) []*Call {
	e, err := layout.ParseEnter(b, d.bo)
	if err != nil {
		d.malformed(layout.RecEnter, err)
		return nil
	}
	d.stats.ByType["enter"]++
	d.seeTime(e.TimeNS)
	var out []*Call
	cs, ok := d.open[e.CallID]
	switch {
	case ok && cs.call.Syscall != "":
		// A second entry with the same id: the first call is over for us.
		cs.call.Problems = append(cs.call.Problems, "a second entry record with the same call id followed")
		out = append(out, d.finish(cs, false))
		var more []*Call
		cs, more = d.newCall(e.CallID)
		out = append(out, more...)
	case ok:
		// Opened by an orphan record that arrived before its entry.
	default:
		if _, late := d.done[e.CallID]; late {
			d.problem("entry record for call %d after that call ended: decoded as a new call", e.CallID)
		}
		var more []*Call
		cs, more = d.newCall(e.CallID)
		out = append(out, more...)
	}
	c := cs.call
	c.SyscallNr = e.SyscallNr
	c.ABI = ABIName(e.ABI)
	c.Syscall = SyscallName(e.ABI, e.SyscallNr)
	if c.Syscall == "" {
		c.Syscall = fmt.Sprintf("syscall-%d", e.SyscallNr)
		c.Problems = append(c.Problems, fmt.Sprintf("syscall %d is not a kexec syscall on %s", e.SyscallNr, c.ABI))
	}
	c.Hook = HookName(e.Hook)
	c.BootNS = e.TimeNS
	c.Time = d.WallTime(e.TimeNS)
	c.CPU = e.CPU
	c.Caller.PID, c.Caller.TID, c.Caller.PPID = e.PID, e.TID, e.PPID
	c.Caller.UID, c.Caller.GID, c.Caller.EUID, c.Caller.EGID = e.UID, e.GID, e.EUID, e.EGID
	c.Caller.LoginUID, c.Caller.SessionID = e.LoginUID, e.SessionID
	c.Caller.Comm = e.Comm
	c.Caller.CgroupID = e.CgroupID
	c.Caller.MntNS, c.Caller.PidNS = e.MntNS, e.PidNS
	c.Args.Raw = e.Args
	d.decodeArgs(cs.box)
	return out
}

// decodeArgs fills Args from Raw according to the syscall; the optional
// fields point into the call's box.
func (d *Decoder) decodeArgs(box *callBox) {
	c := &box.call
	a := &c.Args
	u, i := &box.u64, &box.i32
	switch c.Syscall {
	case "kexec_load":
		u[0], u[1], u[2] = a.Raw[0], a.Raw[1], a.Raw[2]
		a.Entry, a.NrSegments, a.SegmentsPtr = &u[0], &u[1], &u[2]
		a.Flags = a.Raw[3]
	case "kexec_file_load":
		i[0], i[1] = int32(a.Raw[0]), int32(a.Raw[1])
		u[0], u[1] = a.Raw[2], a.Raw[3]
		a.KernelFD, a.InitrdFD = &i[0], &i[1]
		a.CmdlineLen, a.CmdlinePtr = &u[0], &u[1]
		a.Flags = a.Raw[4]
	default:
		a.FlagNames = []string{}
		return
	}
	a.FlagNames, a.Arch = d.flagNames(c.Syscall, a.Flags)
}

// flagNames decodes flags once per distinct (syscall, flags) value.
func (d *Decoder) flagNames(syscall string, flags uint64) ([]string, string) {
	k := flagKey{syscall, flags}
	if v, ok := d.flagc[k]; ok {
		return v.names, v.arch
	}
	var v flagNames
	if syscall == "kexec_load" {
		v.names, v.arch = KexecLoadFlags(flags)
	} else {
		v.names = KexecFileLoadFlags(flags)
	}
	if len(d.flagc) >= maxFlagCache {
		clear(d.flagc)
	}
	d.flagc[k] = v
	return v.names, v.arch
}

// internBytes returns b as a string from the decoder's set of repeated
// strings, adding it (the lookup itself allocates nothing). A small
// direct-mapped cache of recent strings answers most lookups before the map
// (hashing a 64-character SHA-256 for a map costs more than comparing it).
func (d *Decoder) internBytes(b []byte) string {
	if len(b) > maxInternLen {
		return string(b) // neither cache keeps long strings
	}
	slot := &d.recent[recentSlot(b)]
	if *slot == string(b) {
		return *slot
	}
	if v, ok := d.strs[string(b)]; ok {
		*slot = v
		return v
	}
	s := string(b)
	*slot = s
	if len(d.strs) >= maxInterned {
		clear(d.strs)
	}
	d.strs[s] = s
	return s
}

func (d *Decoder) process(b []byte) []*Call {
	pr, err := decodeProcess(b, d.intern)
	if err != nil {
		d.malformed(layout.RecProcess, err)
		return nil
	}
	d.stats.ByType["process"]++
	cs, out, ok := d.lookup(pr.CallID, layout.RecProcess)
	if !ok {
		return out
	}
	c := cs.call
	if c.Caller.PID != 0 && pr.PID != 0 && pr.PID != c.Caller.PID {
		c.Problems = append(c.Problems, fmt.Sprintf("process record names pid %d, entry pid %d", pr.PID, c.Caller.PID))
	}
	if c.Caller.PID == 0 {
		c.Caller.PID = pr.PID
	}
	c.Caller.applyProcess(pr)
	for _, m := range pr.Missing {
		c.Problems = append(c.Problems, "caller "+m+": could not be read from /proc")
	}
	return out
}

func (d *Decoder) exit(b []byte) []*Call {
	x, err := layout.ParseExit(b, d.bo)
	if err != nil {
		d.malformed(layout.RecExit, err)
		return nil
	}
	d.stats.ByType["exit"]++
	d.seeTime(x.TimeNS)
	cs, out, ok := d.lookup(x.CallID, layout.RecExit)
	if !ok {
		return out
	}
	c := cs.call
	if c.Syscall == "" {
		// Entry lost: name what the exit tells.
		c.SyscallNr = x.SyscallNr
		c.Hook = HookName(x.Hook)
		c.Caller.TID = x.TID
		abi := d.guessABI(x.SyscallNr)
		if n := SyscallName(abi, x.SyscallNr); n != "" {
			c.Syscall = n
			c.ABI = ABIName(abi) + "?"
		} else {
			c.Syscall = fmt.Sprintf("syscall-%d", x.SyscallNr)
		}
		if x.DurationNS <= x.TimeNS {
			c.BootNS = x.TimeNS - x.DurationNS
			if x.DurationNS > 0 {
				c.Time = d.WallTime(c.BootNS)
			}
		}
	} else if x.SyscallNr != c.SyscallNr {
		c.Problems = append(c.Problems, fmt.Sprintf("exit names syscall %d, entry %d", x.SyscallNr, c.SyscallNr))
	}
	cs.box.ret = x.Ret
	c.Ret = &cs.box.ret
	ret := x.Ret
	c.DurationNS = x.DurationNS
	c.RetKnownInAdvance = x.Flags&layout.XFRetKnownENOSYS != 0
	if ret < 0 && ret >= -4095 {
		c.Outcome = "error"
		c.Errno = ErrnoName(-ret)
	} else {
		c.Outcome = "ok"
	}
	return append(out, d.finish(cs, true))
}
