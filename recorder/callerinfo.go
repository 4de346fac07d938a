package recorder

import (
	"bytes"
	"fmt"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The BPF programs read the caller at syscall entry (CALLER and ARGS
// records) and emit those records before the call's ENTER. The recorder
// holds them until the ENTER, stores them right after it, and reads /proc
// only for what the kernel could not get: a caller that exits right after
// the syscall is gone by the time /proc could be read.

// maxEarlyRecords bounds what is held for one call before its ENTER: a
// CALLER, an argv and an environment ARGS record.
const maxEarlyRecords = 3

// kernelCaller is what the entry records of one call told.
type kernelCaller struct {
	exe, argv, cgroup bool
	cgroupPath        string
}

// holdEarly keeps a CALLER or ARGS record until its call's ENTER (the
// ring's buffer is reused, so the bytes are copied). Once the ENTER was
// seen the record is stored at once.
func (r *Recorder) holdEarly(cs *callState, raw []byte) error {
	if cs.entered {
		return r.w.WriteRaw(raw)
	}
	if len(cs.early) >= maxEarlyRecords {
		return r.bad(fmt.Sprintf("call %d: more than %d caller records before the entry", cs.id, maxEarlyRecords))
	}
	cs.early = append(cs.early, bytes.Clone(raw))
	return nil
}

// flushEarly stores the held records of cs and says what they hold.
func (r *Recorder) flushEarly(cs *callState) (kernelCaller, error) {
	var k kernelCaller
	for _, raw := range cs.early {
		typ := layout.RecordType(raw, r.bo)
		if err := r.w.WriteRaw(raw); err != nil {
			return k, err
		}
		switch typ {
		case layout.RecCaller:
			if c, err := layout.ParseCaller(raw, r.bo); err == nil {
				k.exe = c.Flags&layout.CFExe != 0 && c.Exe != ""
				k.cgroup = c.Flags&layout.CFCgroup != 0 && c.Flags&layout.CFCgroupCut == 0
				k.cgroupPath = c.Cgroup
			} else if err := r.bad(fmt.Sprintf("call %d: %v", cs.id, err)); err != nil {
				return k, err
			}
		case layout.RecArgs:
			if a, err := layout.ParseArgs(raw, r.bo); err == nil {
				if a.Kind == layout.ArgsArgv && a.ReadErr == 0 && len(a.Data) > 0 {
					k.argv = true
				}
			} else if err := r.bad(fmt.Sprintf("call %d: %v", cs.id, err)); err != nil {
				return k, err
			}
		}
	}
	cs.early = nil
	return k, nil
}

// enterCaller runs at a call's ENTER: it stores the held entry records and
// the PROCESS record with only what the kernel did not read taken from
// /proc (the container id is parsed from whichever cgroup path there is).
func (r *Recorder) enterCaller(cs *callState, pid uint32) error {
	cs.entered = true
	k, err := r.flushEarly(cs)
	if err != nil {
		return err
	}
	p := ReadProcessFallback(r.cfg.ProcRoot, cs.id, pid, k)
	return r.w.WriteProcess(p)
}

// Bounds of AttachConfig.MaxArgs.
const (
	DefaultMaxArgs = 4096
	MaxArgsLimit   = layout.ArgsMax
)

func (c AttachConfig) maxArgs() uint32 {
	if c.MaxArgs <= 0 {
		return DefaultMaxArgs
	}
	return uint32(min(c.MaxArgs, MaxArgsLimit))
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
