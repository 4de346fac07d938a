package report

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/kexecrec/kexecrec/replay"
)

// Finding is one thing a reviewer must look at, most serious first.
type Finding struct {
	// Severity: "critical" (the loaded bytes are not what was recorded,
	// or a kernel nobody vetted), "warning" (risky but explainable),
	// "info".
	Severity string
	Title    string
	// Items are the occurrences, each one line (capture strings printable).
	Items []string
}

// riskyArgs are kernel command-line parameters that hand the new kernel to
// someone else's code or switch a protection off. A prefix ending in "="
// matches any value; others match the exact word or word=value.
var riskyArgs = []struct{ arg, why string }{
	{"init=", "runs another program as PID 1"},
	{"rdinit=", "runs another program as the initramfs init"},
	{"rd.break", "drops to a root shell in the initramfs"},
	{"rd.shell", "allows a root shell in the initramfs"},
	{"break=", "drops to a shell in the initramfs (initramfs-tools)"},
	{"single", "single-user mode (root shell)"},
	{"emergency", "emergency mode (root shell)"},
	{"systemd.unit=", "boots into another systemd target"},
	{"systemd.debug_shell", "root shell on tty9"},
	{"selinux=0", "disables SELinux"},
	{"enforcing=0", "puts SELinux in permissive mode"},
	{"apparmor=0", "disables AppArmor"},
	{"security=", "selects another LSM"},
	{"lsm=", "selects other LSMs"},
	{"lockdown=", "changes kernel lockdown"},
	{"module.sig_enforce=0", "accepts unsigned modules"},
	{"ima_appraise=", "changes IMA appraisal"},
	{"ima_policy=", "changes the IMA policy"},
	{"integrity_audit=", "changes integrity auditing"},
	{"nokaslr", "disables kernel address randomization"},
	{"mitigations=off", "disables CPU vulnerability mitigations"},
	{"kexec_load_disabled", "changes kexec policy"},
	{"modprobe.blacklist=", "keeps modules from loading"},
	{"audit=0", "disables the audit subsystem"},
}

// RiskyArgs returns the risky parameters of a kernel command line, each
// with why it is risky.
func RiskyArgs(cmdline string) []string {
	var out []string
	for _, word := range strings.Fields(cmdline) {
		for _, r := range riskyArgs {
			hit := false
			if strings.HasSuffix(r.arg, "=") {
				hit = strings.HasPrefix(word, r.arg)
			} else {
				hit = word == r.arg || strings.HasPrefix(word, r.arg+"=")
			}
			if hit {
				out = append(out, word+" ("+r.why+")")
				break
			}
		}
	}
	return out
}

// usualLoaders are the executables that normally call kexec: kexec-tools
// where distributions install it.
var usualLoaders = []string{"/usr/sbin/kexec", "/sbin/kexec", "/usr/bin/kexec", "/bin/kexec", "/usr/local/sbin/kexec"}

// compatABIs are the replay.Call ABI names of callers that are not the
// kernel's native ABI.
var compatABIs = []string{"ia32", "x32", "aarch32"}

// UnusualCaller says why a call's caller is unusual, or "" when it is the
// usual kexec-tools run by root.
func UnusualCaller(c *replay.Call) string {
	var why []string
	exe := c.Caller.Exe
	switch {
	case exe == "":
		why = append(why, "executable unknown")
	case strings.HasSuffix(exe, " (deleted)"):
		why = append(why, "executable deleted after start")
	case !slices.Contains(usualLoaders, exe):
		why = append(why, "not kexec-tools")
	}
	for _, dir := range []string{"/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/", "/home/"} {
		if strings.HasPrefix(path.Clean(exe), dir) {
			why = append(why, "runs from "+strings.TrimSuffix(dir, "/"))
		}
	}
	if c.Caller.UID != 0 || c.Caller.EUID != 0 {
		why = append(why, "not root")
	}
	// Distributions ship kexec-tools for the kernel's native ABI; a 32-bit
	// (or x32) loader on a 64-bit kernel was brought in by someone.
	if abi := strings.TrimSuffix(c.ABI, "?"); slices.Contains(compatABIs, abi) {
		why = append(why, abi+" process on a 64-bit kernel")
	}
	if c.Caller.ContainerID != "" {
		why = append(why, "inside a container")
	}
	return strings.Join(why, ", ")
}

// callRef names a call in a finding: "call 3 (capture.zst) kexec_load by kexec /usr/sbin/kexec".
func callRef(cp *Capture, c *replay.Call, many bool) string {
	s := fmt.Sprintf("call %d", c.ID)
	if many {
		s += " in " + Printable(cp.Path)
	}
	return s + " " + c.Syscall + " by " + Printable(replay.ProcessKey(c))
}

// Findings lists what a reviewer must look at, most serious first.
func Findings(e *Evidence) []Finding {
	many := len(e.Captures) > 1
	var different, mismatch, initrdMismatch, unknownKernel, risky, failed, unusual, unfinished []string
	failedByUser := map[string]int{}
	var users []string
	for _, cp := range e.Captures {
		for _, c := range cp.Calls {
			ref := callRef(cp, c, many)
			for _, l := range c.Loaded {
				if l.Verdict == replay.VerdictDifferent {
					item := fmt.Sprintf("%s: segment %d: %s", ref, l.Index, Printable(l.Reason))
					if len(l.DiffersAt) > 0 {
						item += fmt.Sprintf(" (pieces at %#x)", l.DiffersAt)
					}
					different = append(different, item)
				}
			}
			if v := c.Purgatory; v != nil && v.Found && !v.Match {
				why := "stored " + v.Stored + " computed " + v.Computed
				if v.Incomplete {
					why += " (some segment captured short: may only mean missing bytes)"
				}
				mismatch = append(mismatch, ref+": "+why)
			}
			if v := c.Purgatory; v != nil && v.Arm64Jump != nil && !v.Arm64Jump.IntoImage {
				initrdMismatch = append(initrdMismatch, fmt.Sprintf("%s: arm64 purgatory jumps to 0x%x, not to the Image segment (the digest does not cover the purgatory)", ref, v.Arm64Jump.KernelEntry))
			}
			if v := c.DTBInitrd; v != nil && !v.Match {
				initrdMismatch = append(initrdMismatch, ref+": "+Printable(v.Detail))
			}
			if e.Baseline != nil && e.Baseline.KernelSHA256 != nil {
				for _, p := range c.Payloads {
					if IsKernel(p) && p.SHA256 != "" && !e.Baseline.KernelSHA256[p.SHA256] {
						ver := "unidentified"
						if p.Identity != nil && p.Identity.KernelVersion != "" {
							ver = Printable(p.Identity.KernelVersion)
						}
						unknownKernel = append(unknownKernel, fmt.Sprintf("%s: %s %s (kernel %s)", ref, replay.PayloadName(p), p.SHA256, ver))
					}
				}
			}
			if args := RiskyArgs(replay.EffectiveCmdline(c)); len(args) > 0 {
				risky = append(risky, ref+": "+Printable(strings.Join(args, ", ")))
			}
			switch c.Outcome {
			case "error":
				u := replay.UserKey(c)
				if failedByUser[u] == 0 {
					users = append(users, u)
				}
				failedByUser[u]++
				failed = append(failed, fmt.Sprintf("%s as %s: %s", ref, u, resultText(c)))
			case "unfinished":
				unfinished = append(unfinished, ref+": no exit seen (recorder stopped or record lost)")
			}
			if why := UnusualCaller(c); why != "" {
				unusual = append(unusual, ref+": "+why)
			}
		}
	}
	var out []Finding
	add := func(sev, title string, items []string) {
		if len(items) > 0 {
			out = append(out, Finding{Severity: sev, Title: title, Items: items})
		}
	}
	add("critical", "Loaded segments DIFFERENT: the kernel staged other bytes than the caller passed at entry", different)
	add("critical", "Purgatory digest MISMATCH: the captured segments are not what purgatory will verify at boot", mismatch)
	add("critical", "arm64 boot handoff MISMATCH: the purgatory's jump or the device tree's initrd range is not what the call loaded", initrdMismatch)
	add("critical", "Kernels that match no kernel of the baseline", unknownKernel)
	add("warning", "Command lines with risky parameters", risky)
	if len(failed) > 0 {
		title := "Failed and refused attempts"
		var per []string
		for _, u := range users {
			per = append(per, fmt.Sprintf("%s: %d", u, failedByUser[u]))
		}
		title += " (by user: " + strings.Join(per, "; ") + ")"
		add("warning", title, failed)
	}
	add("warning", "Loads by unusual callers", unusual)
	add("info", "Calls without a result", unfinished)
	// Findings come from the calls the report keeps; the summary counted all.
	var omitted []string
	for _, cp := range e.Captures {
		if cp.CallsOmitted > 0 && cp.Summary != nil {
			s := cp.Summary
			omitted = append(omitted, fmt.Sprintf("%s: %d calls after the first %d are not examined here; over all %d calls the summary counts %d purgatory mismatches and %d failed calls (kexecrec summarize, kexecrec show --failed)",
				Printable(cp.Path), cp.CallsOmitted, len(cp.Calls), s.Calls, s.Purgatory.Mismatch, countOf(s.ByOutcome, "error")))
		}
	}
	add("info", "Calls not examined", omitted)
	return out
}

// resultText is "0", "-1 EPERM" or "unfinished".
func resultText(c *replay.Call) string {
	switch {
	case c.Ret == nil:
		return "unfinished"
	case c.Errno != "":
		return fmt.Sprintf("%d %s", *c.Ret, c.Errno)
	}
	return fmt.Sprint(*c.Ret)
}

func countOf(cs []replay.Count, key string) int {
	for _, c := range cs {
		if c.Key == key {
			return c.Calls
		}
	}
	return 0
}
