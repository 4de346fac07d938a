package replay

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Filter selects calls (show, replay). The zero Filter selects every call.
type Filter struct {
	PIDs     []uint   // calling process ids
	Comms    []string // command names
	UIDs     []uint   // real or effective user ids
	Syscalls []string // kexec_load, kexec_file_load (or load, file_load)
	Failed   bool     // only calls that failed or did not finish
	// Since, Until: RFC 3339 times, or durations after the capture start
	// (90s, 2h); a call at Since is in, a call at Until is out.
	Since, Until string
}

// CallFilter is a Filter checked and ready to test calls.
type CallFilter struct {
	f            Filter
	since, until bound
	syscalls     map[string]bool
}

// bound is a Since/Until value: absolute wall time, or an offset from the
// capture's start (resolved per file).
type bound struct {
	set   bool
	abs   time.Time
	rel   time.Duration
	isRel bool
}

func parseBound(flag, s string) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bound{set: true, abs: t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return bound{set: true, rel: d, isRel: true}, nil
	}
	return bound{}, fmt.Errorf("--%s %q: want RFC3339 (2026-11-29T12:00:00Z) or a duration (90s)", flag, s)
}

// Compile checks the filter; its errors name the command-line flag.
func (f Filter) Compile() (*CallFilter, error) {
	c := &CallFilter{f: f}
	var err error
	if c.since, err = parseBound("since", f.Since); err != nil {
		return nil, err
	}
	if c.until, err = parseBound("until", f.Until); err != nil {
		return nil, err
	}
	if len(f.Syscalls) > 0 {
		c.syscalls = map[string]bool{}
		for _, s := range f.Syscalls {
			s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "kexec_")
			if s != "load" && s != "file_load" {
				return nil, fmt.Errorf("--syscall %q: want kexec_load or kexec_file_load", s)
			}
			c.syscalls["kexec_"+s] = true
		}
	}
	return c, nil
}

// Match says whether a call of a capture that started at boot time
// startBootNS (its header's BootStartNS) passes. A nil filter passes all.
func (c *CallFilter) Match(call *Call, startBootNS uint64) bool {
	if c == nil {
		return true
	}
	f := &c.f
	if len(f.PIDs) > 0 && !slices.Contains(f.PIDs, uint(call.Caller.PID)) {
		return false
	}
	if len(f.UIDs) > 0 && !slices.Contains(f.UIDs, uint(call.Caller.UID)) && !slices.Contains(f.UIDs, uint(call.Caller.EUID)) {
		return false
	}
	if len(f.Comms) > 0 && !slices.Contains(f.Comms, call.Caller.Comm) {
		return false
	}
	if c.syscalls != nil && !c.syscalls[call.Syscall] {
		return false
	}
	if f.Failed && call.Outcome == "ok" {
		return false
	}
	if c.since.set && !c.since.holds(call, startBootNS, true) {
		return false
	}
	if c.until.set && !c.until.holds(call, startBootNS, false) {
		return false
	}
	return true
}

func (b bound) holds(call *Call, startBootNS uint64, since bool) bool {
	if b.isRel {
		if startBootNS == 0 || call.BootNS == 0 {
			return false // no time base: cannot say, so do not claim it matches
		}
		off := time.Duration(int64(call.BootNS - startBootNS))
		if since {
			return off >= b.rel
		}
		return off < b.rel
	}
	if call.Time.IsZero() {
		return false
	}
	if since {
		return !call.Time.Before(b.abs)
	}
	return call.Time.Before(b.abs)
}
