package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/recorder"
)

// unprivRate is --unprivileged-rate or --unprivileged-total-rate
// RATE[/BURST]: RATE payload bytes per second (a size: 1M = 1 MiB/s), BURST
// the most at once (default recorder.DefaultUnprivilegedBurstSeconds seconds
// of RATE); "0" turns the bucket off.
type unprivRate struct{ rate, burst uint64 }

func defaultUnprivRate() unprivRate {
	p := recorder.DefaultUnprivilegedPolicy(0)
	return unprivRate{p.Rate, p.Burst}
}

func (r *unprivRate) String() string {
	if r.rate == 0 {
		return "0"
	}
	return strconv.FormatUint(r.rate, 10) + "/" + strconv.FormatUint(r.burst, 10)
}

func (r *unprivRate) Type() string { return "RATE[/BURST]" }

func (r *unprivRate) Set(s string) error {
	rateText, burstText, hasBurst := strings.Cut(s, "/")
	rate, err := parseByteSize(rateText)
	if err != nil {
		return fmt.Errorf("rate: %w", err)
	}
	if rate > recorder.MaxUnprivilegedRate {
		return fmt.Errorf("rate %d bytes/s: at most %d (16G)", rate, uint64(recorder.MaxUnprivilegedRate))
	}
	burst := rate * recorder.DefaultUnprivilegedBurstSeconds
	if hasBurst {
		if burst, err = parseByteSize(burstText); err != nil {
			return fmt.Errorf("burst: %w", err)
		}
		if burst > recorder.MaxUnprivilegedBurst {
			return fmt.Errorf("burst %d bytes: at most %d (1T)", burst, uint64(recorder.MaxUnprivilegedBurst))
		}
		if rate > 0 && burst == 0 {
			return fmt.Errorf("burst 0 with rate %d: want a burst of at least 1 byte, or rate 0 (no bound)", rate)
		}
	}
	if rate == 0 {
		burst = 0
	}
	*r = unprivRate{rate, burst}
	return nil
}

// totalRate is --unprivileged-total-rate: unset, it follows
// --unprivileged-rate (recorder.UnprivilegedTotalUids times its rate and
// burst), so that --unprivileged-rate 0 lifts both bounds.
type totalRate struct {
	unprivRate
	set bool
}

func (r *totalRate) String() string {
	if !r.set {
		return ""
	}
	return r.unprivRate.String()
}

func (r *totalRate) Set(s string) error {
	if err := r.unprivRate.Set(s); err != nil {
		return err
	}
	r.set = true
	return nil
}

// of is the shared bucket for a per-uid bucket of per.
func (r *totalRate) of(per unprivRate) unprivRate {
	if r.set {
		return r.unprivRate
	}
	return unprivRate{min(per.rate*recorder.UnprivilegedTotalUids, recorder.MaxUnprivilegedRate),
		min(per.burst*recorder.UnprivilegedTotalUids, recorder.MaxUnprivilegedBurst)}
}

// ringShare is --unprivileged-ring-share FRACTION: the part of the ring
// the pieces of callers without CAP_SYS_BOOT may fill, 0 to 1 (0 = no cap).
type ringShare float64

func (r *ringShare) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *ringShare) Type() string { return "FRACTION" }

func (r *ringShare) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return fmt.Errorf("want a fraction of the ring from 0 (no cap) to 1, such as 0.25")
	}
	*r = ringShare(f)
	return nil
}

// unprivilegedPolicy is the policy the options ask for.
func (o *recordOptions) unprivilegedPolicy() recorder.UnprivilegedPolicy {
	p := recorder.DefaultUnprivilegedPolicy(int(o.RingSize))
	p.Snaplen = uint64(o.UnprivSnaplen)
	p.Rate, p.Burst = o.UnprivRate.rate, o.UnprivRate.burst
	total := o.UnprivTotalRate.of(o.UnprivRate)
	p.TotalRate, p.TotalBurst = total.rate, total.burst
	p.RingBytes = recorder.RingShareBytes(int(o.RingSize), float64(o.UnprivRingShare))
	return p
}
