package recorder

import (
	"fmt"
	"strconv"
)

// UnprivilegedPolicy bounds what a caller that fails the CAP_SYS_BOOT test
// (the test of the time policy: the capability in the initial user
// namespace) can make the recorder copy. The BPF programs copy at syscall
// entry, before the kernel refuses such a call, so without these bounds any
// local user could fill the ring and the disk. The policy is stated in full
// at the config block of bpf/kexecrec.c; the zero value cuts nothing.
type UnprivilegedPolicy struct {
	// Snaplen is the most bytes captured per payload; 0 = all.
	Snaplen uint64
	// Rate and Burst make a token bucket of payload bytes per uid: Rate
	// bytes per second, at most Burst at once (a new uid starts full). An
	// empty bucket leaves only the call's records (caller, arguments,
	// segment table, return). Rate 0 = no bucket.
	Rate, Burst uint64
	// RingBytes is the ring share: no piece of such a caller is copied
	// while the ring holds this many bytes or more; 0 = no share.
	RingBytes uint64
}

// Defaults of the unprivileged policy (record's flags).
const (
	DefaultUnprivilegedSnaplen = 64 << 10
	DefaultUnprivilegedRate    = 1 << 20
	// DefaultUnprivilegedBurstSeconds: a burst of 16 s of the rate when
	// only the rate is given (16 MiB for the default 1 MiB/s).
	DefaultUnprivilegedBurstSeconds = 16
	// DefaultUnprivilegedRingShare: a quarter of the ring.
	DefaultUnprivilegedRingShare = 4
	// MaxUnprivilegedRate keeps the BPF refill arithmetic in 64 bits.
	MaxUnprivilegedRate = 16 << 30
)

// DefaultUnprivilegedPolicy is the policy record applies unless told
// otherwise, for a ring of ringBytes (0 = DefaultRingBytes).
func DefaultUnprivilegedPolicy(ringBytes int) UnprivilegedPolicy {
	if ringBytes == 0 {
		ringBytes = DefaultRingBytes
	}
	return UnprivilegedPolicy{
		Snaplen:   DefaultUnprivilegedSnaplen,
		Rate:      DefaultUnprivilegedRate,
		Burst:     DefaultUnprivilegedRate * DefaultUnprivilegedBurstSeconds,
		RingBytes: uint64(ringBytes / DefaultUnprivilegedRingShare),
	}
}

func (p UnprivilegedPolicy) validate() error {
	switch {
	case p.Rate > MaxUnprivilegedRate:
		return fmt.Errorf("recorder: unprivileged rate %d bytes/s: at most %d", p.Rate, uint64(MaxUnprivilegedRate))
	case p.Rate > 0 && p.Burst == 0:
		return fmt.Errorf("recorder: unprivileged rate %d bytes/s with a burst of 0 bytes", p.Rate)
	}
	return nil
}

// HeaderOptions are the policy's values as a capture header states them.
func (p UnprivilegedPolicy) HeaderOptions() map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return map[string]string{
		"unprivileged_snaplen":    u(p.Snaplen),
		"unprivileged_rate":       u(p.Rate),
		"unprivileged_burst":      u(p.Burst),
		"unprivileged_ring_bytes": u(p.RingBytes),
	}
}
