package export

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/report"
)

// tsEvent is one Timesketch line: the four fields Timesketch requires
// (message, datetime, timestamp in microseconds, timestamp_desc) and the
// event's own fields, flat. encoding/json writes map keys sorted.
type tsEvent map[string]any

func newEvent(t time.Time, desc, dataType, message string, cp *report.Capture) tsEvent {
	ev := tsEvent{
		"message":        report.Printable(message),
		"datetime":       t.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		"timestamp":      t.UnixMicro(),
		"timestamp_desc": desc,
		"data_type":      dataType,
		"source":         "kexecrec",
		"capture_file":   report.Printable(cp.Path),
		"capture_sha256": cp.SHA256,
	}
	if s := cp.Summary; s != nil && s.Host != nil {
		ev["hostname"] = report.Printable(s.Host.Hostname)
		ev["machine_id"] = report.Printable(s.Host.MachineID)
		ev["boot_id"] = report.Printable(s.Host.BootID)
	}
	return ev
}

// Timesketch writes the evidence as Timesketch JSONL: one line per call,
// and one per notable event of each recording (start, stop or unclean end,
// drops counted by the recorder), in time order within each capture.
func Timesketch(w io.Writer, e *report.Evidence) error {
	enc := json.NewEncoder(w)
	for _, cp := range e.Captures {
		var evs []tsEvent
		s := cp.Summary
		if s == nil || s.Host == nil {
			continue // no header: no time to put anything at
		}
		h := s.Host
		start := s.Span.RecordStart
		ev := newEvent(start, "Recording Start", "kexecrec:recording:start",
			fmt.Sprintf("kexecrec recording started on %s (kernel %s, attach mode %s, recorder %s)",
				h.Hostname, h.KernelRelease, h.AttachMode, h.RecorderVersion), cp)
		ev["kernel_release"] = report.Printable(h.KernelRelease)
		ev["attach_mode"] = h.AttachMode
		ev["recorder_version"] = report.Printable(h.RecorderVersion)
		ev["options"] = report.Printable(optionsText(h.Options))
		evs = append(evs, ev)
		for _, c := range cp.Calls {
			evs = append(evs, callEvent(cp, c))
		}
		end, endDesc, endMsg := s.Span.RecordEnd, "Recording End", "kexecrec recording stopped cleanly"
		if end.IsZero() {
			end = latest(start, s.Span.LastCall)
			endDesc, endMsg = "Last Recorded Event", "kexecrec recording ended without trailer (UNCLEAN stop: recorder killed or file cut short)"
		}
		if !cp.Verify.Verified {
			endMsg += "; capture NOT verified: " + failedChecks(cp)
		}
		ev = newEvent(end, endDesc, "kexecrec:recording:end", fmt.Sprintf("%s; %d calls", endMsg, s.Calls), cp)
		ev["calls"] = s.Calls
		ev["verified"] = cp.Verify.Verified
		evs = append(evs, ev)
		for _, k := range slices.Sorted(maps.Keys(s.Stats)) {
			if (strings.HasSuffix(k, "_dropped") || k == "read_errors") && s.Stats[k] > 0 {
				ev := newEvent(end, "Recorder Counter", "kexecrec:recording:drop",
					fmt.Sprintf("kexecrec recorder counted %s = %d", k, s.Stats[k]), cp)
				ev["counter"], ev["count"] = k, s.Stats[k]
				evs = append(evs, ev)
			}
		}
		if cp.CallsOmitted > 0 {
			evs = append(evs, newEvent(end, "Export Note", "kexecrec:export:omitted",
				fmt.Sprintf("%d more calls in this capture are not in this export (kexecrec show lists them)", cp.CallsOmitted), cp))
		}
		slices.SortStableFunc(evs, func(a, b tsEvent) int { return compareInt64(a["timestamp"].(int64), b["timestamp"].(int64)) })
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// callEvent is one call, its fields flat.
func callEvent(cp *report.Capture, c *replay.Call) tsEvent {
	result := "unfinished"
	if c.Ret != nil {
		result = fmt.Sprint(*c.Ret)
		if c.Errno != "" {
			result += " " + c.Errno
		}
	}
	cmdline := replay.EffectiveCmdline(c)
	var kernels, hashes []string
	for _, p := range c.Payloads {
		if p == nil {
			continue
		}
		if p.Identity != nil && p.Identity.KernelVersion != "" && !slices.Contains(kernels, p.Identity.KernelVersion) {
			kernels = append(kernels, p.Identity.KernelVersion)
		}
		if p.SHA256 != "" {
			hashes = append(hashes, p.SHA256)
		}
	}
	msg := fmt.Sprintf("%s by %s (uid %d): %s", c.Syscall, replay.ProcessKey(c), c.Caller.UID, result)
	if len(kernels) > 0 {
		msg += ", kernel " + strings.Join(kernels, ", ")
	}
	if cmdline != "" {
		msg += ", cmdline " + cmdline
	}
	ev := newEvent(c.Time, "Syscall Entry", "kexecrec:kexec:call", msg, cp)
	ev["call_id"] = c.ID
	ev["syscall"] = c.Syscall
	ev["syscall_nr"] = c.SyscallNr
	ev["abi"] = c.ABI
	ev["hook"] = c.Hook
	ev["pid"], ev["tid"], ev["ppid"] = c.Caller.PID, c.Caller.TID, c.Caller.PPID
	ev["uid"], ev["euid"], ev["gid"], ev["egid"] = c.Caller.UID, c.Caller.EUID, c.Caller.GID, c.Caller.EGID
	ev["loginuid"] = c.Caller.LoginUID
	ev["comm"] = report.Printable(c.Caller.Comm)
	ev["exe"] = report.Printable(c.Caller.Exe)
	ev["argv"] = report.Printable(strings.Join(c.Caller.Argv, " "))
	ev["cgroup"] = report.Printable(c.Caller.CgroupPath)
	if c.Caller.Cwd != "" {
		ev["cwd"] = report.Printable(c.Caller.Cwd)
	}
	if len(c.Caller.Ancestors) > 0 {
		ev["ancestry"] = report.Printable(replay.AncestryChain(&c.Caller, true))
	}
	ev["flags"] = fmt.Sprintf("%#x", c.Args.Flags)
	ev["flag_names"] = strings.Join(c.Args.FlagNames, "|")
	ev["outcome"] = c.Outcome
	ev["result"] = result
	if c.Ret != nil {
		ev["ret"] = *c.Ret
	}
	ev["errno"] = c.Errno
	ev["duration_ns"] = c.DurationNS
	ev["kernel_version"] = report.Printable(strings.Join(kernels, ", "))
	ev["cmdline"] = report.Printable(cmdline)
	ev["risky_cmdline_args"] = report.Printable(strings.Join(report.RiskyArgs(cmdline), ", "))
	ev["payload_sha256"] = strings.Join(hashes, ",")
	for _, p := range c.Payloads {
		if p != nil && p.SHA256 != "" {
			ev["payload_"+strings.ReplaceAll(replay.PayloadName(p), " ", "_")+"_sha256"] = p.SHA256
		}
	}
	if v := c.Purgatory; v != nil {
		ev["purgatory"] = replay.PurgatoryLine(v)
	}
	if v := c.DTBInitrd; v != nil {
		ev["dtb_initrd"] = replay.DTBInitrdLine(v)
	}
	if why := report.UnusualCaller(c); why != "" {
		ev["unusual_caller"] = why
	}
	return ev
}
