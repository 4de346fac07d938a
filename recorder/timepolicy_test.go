package recorder

import (
	"testing"
	"time"
)

func TestRingWaitDefaults(t *testing.T) {
	for _, c := range []struct{ in, def, want time.Duration }{
		{0, DefaultRingWait, DefaultRingWait},
		{0, DefaultRingWaitUnprivileged, DefaultRingWaitUnprivileged},
		{-1, DefaultRingWait, 0},
		{time.Second, DefaultRingWaitUnprivileged, time.Second},
		{MaxRingWait, DefaultRingWait, MaxRingWait},
	} {
		if got, err := ringWait(c.in, c.def); err != nil || got != c.want {
			t.Errorf("ringWait(%v, %v) = %v, %v; want %v", c.in, c.def, got, err, c.want)
		}
	}
	// The unprivileged default must stay far below the lockup detectors
	// and below the privileged one.
	if DefaultRingWaitUnprivileged+copyAllowanceUnprivileged > time.Second || DefaultRingWaitUnprivileged >= DefaultRingWait {
		t.Errorf("unprivileged budget %v + %v is not small", DefaultRingWaitUnprivileged, copyAllowanceUnprivileged)
	}
	if MaxRingWait+copyAllowance >= 20*time.Second {
		t.Errorf("hard limit %v reaches the soft-lockup threshold", MaxRingWait+copyAllowance)
	}
}
