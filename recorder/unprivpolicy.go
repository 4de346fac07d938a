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
// at the config block of bpf/kexecrec.c and in bpf/policy.h; the zero value
// cuts nothing.
type UnprivilegedPolicy struct {
	// Snaplen is the most bytes captured per payload; 0 = all.
	Snaplen uint64
	// Rate and Burst make a token bucket of payload bytes per uid: Rate
	// bytes per second, at most Burst at once (a new uid starts full). An
	// empty bucket leaves only the call's records (caller, arguments,
	// segment table, return). Rate 0 = no bucket.
	Rate, Burst uint64
	// TotalRate and TotalBurst make one more bucket, shared by every
	// unprivileged uid, from which what a uid's bucket gave is taken too:
	// a range of uids (a subuid range) does not get one Burst per uid.
	// TotalRate 0 = no shared bucket.
	TotalRate, TotalBurst uint64
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
	// UnprivilegedTotalUids: by default all unprivileged uids together
	// get the rate and burst of this many uids (4 MiB/s, a 64 MiB burst).
	UnprivilegedTotalUids = 4
	// DefaultUnprivilegedRingShare: a quarter of the ring.
	DefaultUnprivilegedRingShare = 0.25
	// MaxUnprivilegedRate keeps the BPF refill arithmetic in 64 bits.
	MaxUnprivilegedRate = 16 << 30
	// MaxUnprivilegedBurst keeps a bucket's tokens a positive int64.
	MaxUnprivilegedBurst = 1 << 40
)

// DefaultUnprivilegedPolicy is the policy record applies unless told
// otherwise, for a ring of ringBytes (0 = DefaultRingBytes).
func DefaultUnprivilegedPolicy(ringBytes int) UnprivilegedPolicy {
	return UnprivilegedPolicy{
		Snaplen:    DefaultUnprivilegedSnaplen,
		Rate:       DefaultUnprivilegedRate,
		Burst:      DefaultUnprivilegedRate * DefaultUnprivilegedBurstSeconds,
		TotalRate:  UnprivilegedTotalUids * DefaultUnprivilegedRate,
		TotalBurst: UnprivilegedTotalUids * DefaultUnprivilegedRate * DefaultUnprivilegedBurstSeconds,
		RingBytes:  RingShareBytes(ringBytes, DefaultUnprivilegedRingShare),
	}
}

// RingShareBytes is the ring share in bytes for a fraction (0 to 1) of a
// ring of ringBytes (0 = DefaultRingBytes); 0 = no share.
func RingShareBytes(ringBytes int, fraction float64) uint64 {
	if ringBytes == 0 {
		ringBytes = DefaultRingBytes
	}
	return uint64(float64(ringBytes) * fraction)
}

func (p UnprivilegedPolicy) validate() error {
	for _, b := range []struct {
		what        string
		rate, burst uint64
	}{{"unprivileged rate", p.Rate, p.Burst}, {"unprivileged total rate", p.TotalRate, p.TotalBurst}} {
		switch {
		case b.rate > MaxUnprivilegedRate:
			return fmt.Errorf("recorder: %s %d bytes/s: at most %d", b.what, b.rate, uint64(MaxUnprivilegedRate))
		case b.burst > MaxUnprivilegedBurst:
			return fmt.Errorf("recorder: %s burst %d bytes: at most %d", b.what, b.burst, uint64(MaxUnprivilegedBurst))
		case b.rate > 0 && b.burst == 0:
			return fmt.Errorf("recorder: %s %d bytes/s with a burst of 0 bytes", b.what, b.rate)
		}
	}
	return nil
}

// HeaderOptions are the policy's values as a capture header states them.
func (p UnprivilegedPolicy) HeaderOptions() map[string]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return map[string]string{
		"unprivileged_snaplen":     u(p.Snaplen),
		"unprivileged_rate":        u(p.Rate),
		"unprivileged_burst":       u(p.Burst),
		"unprivileged_total_rate":  u(p.TotalRate),
		"unprivileged_total_burst": u(p.TotalBurst),
		"unprivileged_ring_bytes":  u(p.RingBytes),
	}
}
