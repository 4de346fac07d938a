package vmtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

var (
	flagKernels        = flag.String("vmtest.kernels", "6.1,6.12,6.12-arm64", "Debian kernel series to boot, comma separated (\"-arm64\": Debian's arm64 kernel on qemu-system-aarch64)")
	flagModes          = flag.String("vmtest.modes", "", "attach modes to record in (default: every mode the kernel's config offers)")
	flagTimeout        = flag.Duration("vmtest.timeout", 15*time.Minute, "qemu timeout per kernel")
	flagSMP            = flag.Int("vmtest.smp", 1, "guest CPUs (qemu -smp)")
	flagParallel       = flag.Bool("vmtest.parallel", true, "boot the kernels at the same time (one host core each with -smp 1)")
	flagKeep           = flag.Bool("vmtest.keep", false, "keep the work directory (initramfs, console logs, captures) and print its path")
	flagUpdateResults  = flag.Bool("update-results", false, "write RESULTS.md from this run")
	flagOverheadCalls  = flag.Int("vmtest.overhead-calls", 20000, "getppid calls per timed round around an idle recorder in each mode (0: none)")
	flagOverheadRounds = flag.Int("vmtest.overhead-rounds", 7, "timed rounds before, with and after the recorder")
	flagUpdateSamples  = flag.Bool("update-samples", false, "copy real captures of this run to testdata/samples/real-*.zst")
	flagSamples        = flag.String("vmtest.samples", "", "with -update-samples, copy only these sample files (comma separated; default: every sample this run made)")
	flagLSMKernel      = flag.String("vmtest.lsm-kernel", "6.1", "kernel series booted with "+lsmBootArgs+" that also records in the lsm mode (\"\": none)")
)

// TestVM boots each Debian kernel once under qemu TCG and runs every
// scenario in every attach mode inside that one boot, then checks what the
// guest brought back.
func TestVM(t *testing.T) {
	start := time.Now()
	bed := newBed(t)
	t.Logf("built kexecrec and the guest agent in %s", time.Since(start).Round(time.Millisecond))

	var (
		mu      sync.Mutex
		reports []*kernelReport
	)
	// The group returns when every (possibly parallel) kernel is done. The
	// boots run on goroutines of their own rather than as t.Parallel
	// subtests: those are capped at -test.parallel (GOMAXPROCS, 2 on the CI
	// machine), and each boot is a qemu process the test only waits for.
	t.Run("kernel", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, series := range strings.Split(*flagKernels, ",") {
			series = strings.TrimSpace(series)
			run := func() {
				t.Run(series, func(t *testing.T) {
					rep := runKernel(t, bed, series)
					mu.Lock()
					reports = append(reports, rep)
					mu.Unlock()
				})
			}
			if !*flagParallel {
				run()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				run()
			}()
		}
		wg.Wait()
	})
	sort.Slice(reports, func(i, j int) bool { return reports[i].Series < reports[j].Series })
	total := time.Since(start)
	t.Logf("vmtest wall time: %s", total.Round(time.Second))

	// Every run leaves its results table among the artifacts (so a CI run's
	// can be read and kept); -update-results writes the committed one.
	art := filepath.Join(testenv.ArtifactDir(t), "vmtest-RESULTS.md")
	if err := writeResults(art, reports, total); err != nil {
		t.Errorf("%s: %v", art, err)
	} else {
		t.Logf("results table: %s", art)
	}
	if *flagUpdateResults {
		if err := writeResults("RESULTS.md", reports, total); err != nil {
			t.Errorf("RESULTS.md: %v", err)
		}
	}
	if *flagUpdateSamples {
		if err := updateSamples(filepath.Join(moduleRoot(t), "testdata", "samples"), reports); err != nil {
			t.Errorf("samples: %v", err)
		}
	}
}

// newBed builds kexecrec for the host and, for each architecture of the
// kernels asked for, kexecrec and the guest agent as static binaries, and
// finds qemu and Debian's kexec-tools (the host's for amd64, kexec-tools of
// the guest's architecture unpacked with its libraries otherwise).
func newBed(tb testing.TB) *Bed {
	testenv.Short(tb, "boots Debian kernels under qemu")
	testenv.Tool(tb, "xz")  // 6.12's modules are .ko.xz
	testenv.Tool(tb, "ldd") // kexec-tools' libraries
	work := tb.TempDir()
	if *flagKeep {
		var err error
		if work, err = os.MkdirTemp("", "kexecrec-vmtest-"); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("work directory kept: %s", work)
	}
	bed := &Bed{WorkDir: work, Kexecrec: filepath.Join(work, "kexecrec"), Guests: map[string]*GuestTools{}, SMP: *flagSMP}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	root := moduleRoot(tb)
	if err := BuildStatic(goTool, filepath.Join(root, "cmd", "kexecrec"), bed.Kexecrec, runtime.GOARCH); err != nil {
		tb.Fatal(err)
	}
	for _, series := range strings.Split(*flagKernels, ",") {
		arch := testenv.SeriesArch(strings.TrimSpace(series))
		if bed.Guests[arch] != nil {
			continue
		}
		ga, ok := guestArches[arch]
		if !ok {
			tb.Fatalf("no guest machine for %s", arch)
		}
		testenv.Tool(tb, ga.Qemu)
		g := &GuestTools{Arch: arch, Kexecrec: bed.Kexecrec, Agent: filepath.Join(work, "agent-"+arch)}
		if arch == runtime.GOARCH {
			g.Kexec = "/usr/sbin/kexec"
			if _, err := os.Stat(g.Kexec); err != nil {
				testenv.Skip(tb, "Debian's kexec-tools is not installed (/usr/sbin/kexec)")
			}
			libs, err := SharedLibs(g.Kexec)
			if err != nil {
				tb.Fatal(err)
			}
			for _, l := range libs {
				g.Files = append(g.Files, GuestFile{l, l})
			}
		} else {
			kroot, err := testenv.ForeignKexec(arch)
			if err != nil {
				testenv.Skip(tb, fmt.Sprintf("kexec-tools:%s not available: %v", arch, err))
			}
			g.Kexec = filepath.Join(kroot, "sbin", "kexec")
			if g.Files, err = ForeignLibs(kroot, "/sbin/kexec", ga.LibDirs); err != nil {
				tb.Fatal(err)
			}
			g.Kexecrec = filepath.Join(work, "kexecrec-"+arch)
			if err := BuildStatic(goTool, filepath.Join(root, "cmd", "kexecrec"), g.Kexecrec, arch); err != nil {
				tb.Fatal(err)
			}
		}
		if err := BuildStatic(goTool, filepath.Join(root, "vmtest", "guest"), g.Agent, arch); err != nil {
			tb.Fatal(err)
		}
		if ga.Trigger32 != "" {
			g.Trigger32 = filepath.Join(work, "kexec-trigger-"+ga.Trigger32)
			if err := BuildStatic(goTool, filepath.Join(root, "cmd", "kexec-trigger"), g.Trigger32, ga.Trigger32); err != nil {
				tb.Fatal(err)
			}
		}
		bed.Guests[arch] = g
	}
	return bed
}

// lsmBootArgs make bpf an active LSM on the kernel that runs the lsm mode.
const lsmBootArgs = "lsm=lockdown,yama,bpf"

// kernelModes are the attach modes to use on k (-vmtest.modes, else every
// mode its config offers that kexecrec can use, plus lsm on the
// -vmtest.lsm-kernel when its config has BPF LSM), the boot arguments those
// modes need, and the BTF ids kexecrec must resolve for fentry.
func kernelModes(tb testing.TB, k testenv.Kernel) (modes []string, bootArgs string, fentryIDs map[string]btf.TypeID) {
	modes, err := ExpectedModes(k.Config)
	if err != nil {
		tb.Fatal(err)
	}
	if k.Series == *flagLSMKernel {
		ok, err := HasBPFLSM(k.Config)
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			tb.Fatalf("%s: -vmtest.lsm-kernel %s has no CONFIG_BPF_LSM=y", k.Package, k.Series)
		}
		modes = append(modes, "lsm")
	}
	if *flagModes != "" {
		modes = strings.Split(*flagModes, ",")
	}
	if slices.Contains(modes, "lsm") {
		bootArgs = lsmBootArgs
	}
	// The ambiguity is in Debian 6.1's x86 BTF (its bzImage carries the
	// vmlinux this reads); an arm64 Image's BTF is not checked here.
	if k.Arch == "amd64" && (slices.Contains(modes, "fentry") || slices.Contains(modes, "lsm")) {
		if fentryIDs, err = FentryResolutions(k.Vmlinuz, tb.TempDir()); err != nil {
			tb.Fatal(err)
		}
		if len(fentryIDs) > 0 {
			tb.Logf("%s: BTF names fentry targets more than once; kexecrec must attach to %v", k.Series, fentryIDs)
		}
	}
	return modes, bootArgs, fentryIDs
}

func runKernel(t *testing.T, bed *Bed, series string) *kernelReport {
	k := testenv.DebianKernel(t, series)
	modes, bootArgs, fentryIDs := kernelModes(t, k)
	// The recorder has StopTimeout seconds after the scenario to stop on
	// --count by itself.
	bt, err := bed.Prepare(k, modes, 60, Measure{Calls: *flagOverheadCalls, Rounds: *flagOverheadRounds})
	if err != nil {
		t.Fatal(err)
	}
	bt.BootArgs, bt.FentryIDs = bootArgs, fentryIDs
	t.Logf("%s (%s): modes %v, modules %v, boot args %q", k.Package, k.Release, modes, moduleNames(bt.Modules), bootArgs)
	runErr := bt.Run(context.Background(), "", *flagTimeout, *flagSMP)
	t.Logf("%s: qemu boot + %d scenarios + kexec -e: %s wall time", series, len(bt.Results), bt.Elapsed.Round(time.Second))
	rep := evaluate(t, bt, bed)
	if runErr != nil {
		t.Errorf("%s: %v", series, runErr)
	}
	if t.Failed() {
		t.Logf("guest console log (%s):\n%s", bt.Console, bt.ConsoleLog())
	} else {
		for _, line := range strings.Split(bt.ConsoleLog(), "\n") {
			if strings.Contains(line, "vmtest:") || strings.Contains(line, plan.SecondBootMarker) {
				t.Log(strings.TrimRight(line, "\r"))
			}
		}
	}
	return rep
}

func moduleNames(ms []module) []string {
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return names
}

// moduleRoot finds the directory holding go.mod.
func moduleRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
