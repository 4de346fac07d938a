package recorder

import (
	"fmt"
	"time"
)

// The time policy of one hook invocation (stated in full at the config
// block of bpf/kexecrec.c): each invocation gets a wait budget chosen by the
// caller's CAP_SYS_BOOT (RingWait or RingWaitUnprivileged) and a hard time
// limit (that budget plus a copy allowance). A piece that cannot be
// reserved once waiting cannot help ends its payload, with the rest counted
// as dropped; nobody waits when one piece cannot fit in the ring or when
// only one CPU is online.
const (
	// DefaultRingWait is how long, in total, one hook invocation (one
	// syscall entry with all its payloads) of a caller holding
	// CAP_SYS_BOOT may wait for the reader to free ring space before the
	// payload in progress ends and the rest is dropped and counted. It lets
	// a payload far larger than the ring (a 256 MiB initrd) pass without
	// loss even when the reader is slower than the copy.
	DefaultRingWait = 5 * time.Second
	// DefaultRingWaitUnprivileged is the same budget for callers WITHOUT
	// CAP_SYS_BOOT in the initial user namespace: none. The hooks run at
	// syscall entry, before the kernel's capability check, so any user
	// reaches them; the kernel will answer EPERM, and such a caller must not
	// be able to make BPF spin a CPU. Their payloads are still captured as
	// far as the ring holds them, and marked ring-full beyond.
	DefaultRingWaitUnprivileged = 0
	// MaxRingWait caps both waits: the BPF programs spin with preemption
	// disabled (kprobes) or in an RCU read section (fentry, tp_btf) while
	// they wait, and the kernel's soft-lockup and RCU-stall detectors fire
	// at about 20 s.
	MaxRingWait = 10 * time.Second

	// copyAllowance and copyAllowanceUnprivileged are added to the wait
	// budgets to make the hard time limit of one hook invocation (waiting
	// plus copying; past it the payload ends, flagged loop-limit). 10 s of
	// waiting plus 5 s stays below the ~20 s lockup detectors.
	//
	// 100 ms lets an unprivileged caller fill the default 16 MiB ring at
	// 160 MiB/s. The copy can be far slower than memcpy: in the qemu (TCG)
	// guests of the test bed on a loaded CI host it ran at 390-560 MB/s
	// (Debian 6.1 and 6.12; 1.2-2.6 GB/s on an idle host), where a 20 ms
	// allowance cut a refused 8 MiB kexec_load short. A longer stall is
	// not worth it for a call the kernel will refuse anyway.
	copyAllowance             = 5 * time.Second
	copyAllowanceUnprivileged = 100 * time.Millisecond
)

// TimeLimits is the time policy of one hook invocation, resolved from an
// AttachConfig. The recorder writes it into the capture header: a payload
// flagged loop-limit was cut by Limit or LimitUnprivileged, and the reader
// of a capture should not have to guess their values.
type TimeLimits struct {
	// Wait and WaitUnprivileged bound the total wait for ring space of
	// callers with and without CAP_SYS_BOOT.
	Wait, WaitUnprivileged time.Duration
	// Limit and LimitUnprivileged are the hard limits: the wait budget
	// plus the copy allowance.
	Limit, LimitUnprivileged time.Duration
}

// TimeLimits resolves the configuration's wait budgets (0 = default,
// negative = none) and adds the copy allowances.
func (cfg AttachConfig) TimeLimits() (TimeLimits, error) {
	wait, err := ringWait(cfg.RingWait, DefaultRingWait)
	if err != nil {
		return TimeLimits{}, err
	}
	waitUnpriv, err := ringWait(cfg.RingWaitUnprivileged, DefaultRingWaitUnprivileged)
	if err != nil {
		return TimeLimits{}, err
	}
	allowance, allowanceUnpriv := copyAllowance, copyAllowanceUnprivileged
	if cfg.noCopyAllowance {
		allowance, allowanceUnpriv = 0, 0
	}
	return TimeLimits{Wait: wait, WaitUnprivileged: waitUnpriv,
		Limit: wait + allowance, LimitUnprivileged: waitUnpriv + allowanceUnpriv}, nil
}

// ringWait resolves a RingWait setting: 0 = def, negative = no wait.
func ringWait(d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, nil
	case d > MaxRingWait:
		return 0, fmt.Errorf("recorder: ring wait %v: at most %v (BPF waits with preemption off or inside an RCU read section)", d, MaxRingWait)
	}
	return d, nil
}
