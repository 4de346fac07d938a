package vmtest

import (
	"fmt"
	"slices"

	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// OverheadRow is one mode's getppid figures from one boot: the fastest
// round of each state, ns per call. Whatever else runs (kernel threads after
// boot, the host under a guest) only ever makes a round slower, so the
// fastest round is the estimate least disturbed by it.
type OverheadRow struct {
	Mode                  string
	Before, With, After   float64
	DeltaPct              float64 // With against the faster of Before and After
	Rounds, CallsPerRound int
}

// Overheads checks what the guest measured (every recorded mode, no
// errors, every round there and positive) and returns one row per mode in
// the boot's mode order. The figures themselves are never judged here:
// speed targets are read from benchmarks, not asserted in tests.
func Overheads(bt *Boot) ([]OverheadRow, []string) {
	var rows []OverheadRow
	var probs []string
	p := bt.Plan
	for _, mode := range bt.Modes {
		i := slices.IndexFunc(bt.Overheads, func(o plan.Overhead) bool { return o.Mode == mode })
		if i < 0 {
			probs = append(probs, fmt.Sprintf("overhead %s: the guest reported no measurement", mode))
			continue
		}
		o := bt.Overheads[i]
		bad := false
		for _, e := range o.Errors {
			probs = append(probs, fmt.Sprintf("overhead %s: %s", mode, e))
			bad = true
		}
		for name, v := range map[string][]float64{"before": o.Before, "with": o.With, "after": o.After} {
			if len(v) != p.OverheadRounds {
				probs = append(probs, fmt.Sprintf("overhead %s: %d %s rounds, planned %d", mode, len(v), name, p.OverheadRounds))
				bad = true
			}
			for _, x := range v {
				if !(x > 0) {
					probs = append(probs, fmt.Sprintf("overhead %s: a %s round of %v ns", mode, name, x))
					bad = true
					break
				}
			}
		}
		if o.Calls != p.OverheadCalls {
			probs = append(probs, fmt.Sprintf("overhead %s: %d calls per round, planned %d", mode, o.Calls, p.OverheadCalls))
			bad = true
		}
		if bad || len(o.With) == 0 || len(o.Before) == 0 || len(o.After) == 0 {
			continue
		}
		r := OverheadRow{Mode: mode, Before: slices.Min(o.Before), With: slices.Min(o.With), After: slices.Min(o.After),
			Rounds: len(o.With), CallsPerRound: o.Calls}
		r.DeltaPct = 100 * (r.With/min(r.Before, r.After) - 1)
		rows = append(rows, r)
	}
	return rows, probs
}
