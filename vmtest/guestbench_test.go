package vmtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// BenchmarkGuestGetppid measures what an idle recorder costs every other
// process in the attach modes the dev kernel lacks (fentry, kprobe): it
// boots each Debian kernel under qemu -icount (the guest clock counts
// instructions, 1 ns each, so host load does not show) with a plan that only
// times getppid (200,000 calls a round, 11 rounds) before, while and after
// `kexecrec record --attach MODE` runs in the guest, in every mode the
// kernel offers (raw too: it shows that the method sees an overhead when
// there is one), and reports per kernel and mode the fastest round's ns per
// call with the recorder attached and its change against the rounds
// without (pct). One boot per kernel per iteration, one kernel at a time.
//
//	go test ./vmtest -run '^$' -bench GuestGetppid -benchtime 1x -count 5
func BenchmarkGuestGetppid(b *testing.B) {
	bed := newBed(b)
	// Kernels and modes are resolved here: Fatal only works on this goroutine.
	var series []string
	kernels := map[string]testenv.Kernel{}
	modes := map[string][]string{}
	bootArgs := map[string]string{}
	for _, s := range strings.Split(*flagKernels, ",") {
		s = strings.TrimSpace(s)
		series = append(series, s)
		kernels[s] = testenv.DebianKernel(b, s)
		modes[s], bootArgs[s], _ = kernelModes(b, kernels[s])
	}
	rows := map[string][]OverheadRow{}
	for b.Loop() {
		for _, s := range series {
			rows[s] = guestOverheads(b, bed, kernels[s], modes[s], bootArgs[s])
		}
	}
	for _, s := range series {
		for _, r := range rows[s] {
			b.ReportMetric(r.With, fmt.Sprintf("%s-%s-ns", s, r.Mode))
			b.ReportMetric(r.DeltaPct, fmt.Sprintf("%s-%s-pct", s, r.Mode))
		}
	}
}

// guestOverheads boots one kernel with a measure-only plan.
func guestOverheads(b *testing.B, bed *Bed, k testenv.Kernel, modes []string, bootArgs string) []OverheadRow {
	series := k.Series
	bt, err := bed.Prepare(k, modes, 60, Measure{Calls: 200000, Rounds: 11, Only: true})
	if err != nil {
		b.Error(err)
		return nil
	}
	bt.BootArgs = bootArgs
	// With -icount the guest's clock advances with the instructions it
	// runs, not with host time: the rounds count the instructions a getppid
	// takes (1 ns each at shift=0), free of the host's scheduling noise.
	bt.QemuArgs = []string{"-icount", "shift=0"}
	if err := bt.Run(context.Background(), "", *flagTimeout, *flagSMP); err != nil {
		b.Errorf("%s: %v\n%s", series, err, bt.ConsoleLog())
		return nil
	}
	rows, probs := Overheads(bt)
	for _, p := range probs {
		b.Errorf("%s: %s", series, p)
	}
	for _, r := range rows {
		b.Logf("%s %s: getppid %.1f ns before, %.1f with the recorder attached, %.1f after (%+.2f%%)",
			series, r.Mode, r.Before, r.With, r.After, r.DeltaPct)
	}
	return rows
}
