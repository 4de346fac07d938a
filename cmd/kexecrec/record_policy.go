package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/recorder"
)

// unprivRate is --unprivileged-rate RATE[/BURST]: RATE payload bytes per
// second per uid (a size: 1M = 1 MiB/s), BURST the most at once (default
// recorder.DefaultUnprivilegedBurstSeconds seconds of RATE); "0" turns the
// bucket off.
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

// unprivilegedPolicy is the policy the options ask for; the ring share is
// fixed at a quarter of the ring.
func (o *recordOptions) unprivilegedPolicy() recorder.UnprivilegedPolicy {
	p := recorder.DefaultUnprivilegedPolicy(int(o.RingSize))
	p.Snaplen = uint64(o.UnprivSnaplen)
	p.Rate, p.Burst = o.UnprivRate.rate, o.UnprivRate.burst
	return p
}
