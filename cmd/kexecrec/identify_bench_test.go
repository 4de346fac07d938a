package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/identify"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// BenchmarkIdentifySpeed measures what a user waits for: the kexecrec binary
// showing the real Debian 6.1 sample (one kexec_load, an xz kernel), against
// `xz -dc` of that kernel's stream measured in the same iteration; and a
// capture of 50 loads of that same call against a capture of one, both
// written from the sample's segments. Each iteration runs every process
// once, interleaved, so a busy machine slows them alike. The floor metrics
// compare the decoder with xz over the same work: identification of the
// kernel segment in process (no start-up, no capture reading) against `xz
// -dc` stopped as soon as it has written the banner.
//
// Metrics (medians over the iterations): *-s are wall seconds, *-cpu-s user
// + system CPU seconds (of the child; of the identifying thread for
// identify-cpu-s), show-vs-xz-d and 50-vs-1-loads the targets (<= 0.8 and
// <= 1.1), *-cpu the same ratios in CPU time (steadier on a busy machine);
// *-json the 50-vs-1 ratio with --format json, which leaves out the text
// tables (drawn once per call) and so isolates reading and identification.
func BenchmarkIdentifySpeed(b *testing.B) {
	env := identifyBenchEnv(b)
	var (
		xzWall, xzCPU, showWall, showCPU, ratio, ratioCPU []float64
		oneWall, fiftyWall, loads, loadsCPU               []float64
		loadsJSON, loadsJSONCPU                           []float64
		inproc, xzBanner, floor                           []float64
	)
	for b.Loop() {
		xw, xc := runChild(b, "xz", "-dc", "--single-stream", env.stream)
		sw, sc := runChild(b, env.bin, "show", env.sample)
		xzWall, xzCPU, showWall, showCPU = append(xzWall, xw), append(xzCPU, xc), append(showWall, sw), append(showCPU, sc)
		ratio, ratioCPU = append(ratio, sw/xw), append(ratioCPU, sc/xc)

		ow, oc := runChild(b, env.bin, "show", env.one)
		fw, fc := runChild(b, env.bin, "show", env.fifty)
		oneWall, fiftyWall = append(oneWall, ow), append(fiftyWall, fw)
		loads, loadsCPU = append(loads, fw/ow), append(loadsCPU, fc/oc)
		ow, oc = runChild(b, env.bin, "show", "--format", "json", env.one)
		fw, fc = runChild(b, env.bin, "show", "--format", "json", env.fifty)
		loadsJSON, loadsJSONCPU = append(loadsJSON, fw/ow), append(loadsJSONCPU, fc/oc)

		ic := identifyCPU(b, env.segment)
		bc := xzToBanner(b, env)
		inproc, xzBanner, floor = append(inproc, ic), append(xzBanner, bc), append(floor, ic/bc)
	}
	for _, m := range []struct {
		unit string
		v    []float64
	}{
		{"show-vs-xz-d", ratio}, {"show-vs-xz-d-cpu", ratioCPU},
		{"show-s", showWall}, {"xz-d-s", xzWall}, {"show-cpu-s", showCPU}, {"xz-d-cpu-s", xzCPU},
		{"50-vs-1-loads", loads}, {"50-vs-1-loads-cpu", loadsCPU},
		{"50-vs-1-loads-json", loadsJSON}, {"50-vs-1-loads-json-cpu", loadsJSONCPU}, {"show-1-load-s", oneWall}, {"show-50-loads-s", fiftyWall},
		{"identify-cpu-s", inproc}, {"xz-d-to-banner-cpu-s", xzBanner}, {"identify-vs-xz-d-to-banner-cpu", floor},
	} {
		b.ReportMetric(benchMedian(m.v), m.unit)
	}
}

func benchMedian(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runChild runs argv with its output thrown away and returns its wall and
// CPU seconds.
func runChild(b *testing.B, argv ...string) (wall, cpu float64) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		// show exits 1 on a capture with warnings; only a crash or a
		// missing tool is a failure here.
		if _, ok := err.(*exec.ExitError); !ok || cmd.ProcessState.ExitCode() > 1 {
			b.Fatalf("%v: %v: %s", argv, err, stderr.Bytes())
		}
	}
	wall = time.Since(t0).Seconds()
	return wall, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

// identifyCPU identifies the kernel segment in process (the cache is not
// involved) and returns the CPU seconds of the thread that did it.
func identifyCPU(b *testing.B, segment []byte) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	r := identify.Identify(bytes.NewReader(segment), int64(len(segment)), identify.Options{})
	c := threadCPU() - c0
	if r.KernelVersion == "" {
		b.Fatalf("kernel segment not identified: %+v", r)
	}
	return c
}

func threadCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// xzToBanner runs `xz -dc`, stops it once it has written the banner and
// returns the CPU seconds it used.
func xzToBanner(b *testing.B, env *identifyEnv) float64 {
	cmd := exec.Command("xz", "-dc", "--single-stream", env.stream)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, out, env.bannerEnd); err != nil {
		b.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

type identifyEnv struct {
	bin, sample, stream, one, fifty string
	segment                         []byte // the kernel segment
	bannerEnd                       int64  // decompressed bytes up to the end of the banner
}

const realSample = "../../testdata/samples/real-6.1-kprobe-kexec_load.zst"

func identifyBenchEnv(b *testing.B) *identifyEnv {
	if _, err := exec.LookPath("xz"); err != nil {
		b.Skip("no xz to compare with")
	}
	// Built for every run (the files live in the run's TempDir); go build
	// reuses its cache.
	env, err := buildIdentifyEnv(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return env
}

func buildIdentifyEnv(dir string) (*identifyEnv, error) {
	env := &identifyEnv{sample: realSample, bin: filepath.Join(dir, "kexecrec"),
		stream: filepath.Join(dir, "kernel.xz"), one: filepath.Join(dir, "one.zst"), fifty: filepath.Join(dir, "fifty.zst")}
	if out, err := exec.Command("go", "build", "-o", env.bin, ".").CombinedOutput(); err != nil {
		return nil, &benchSetupError{"go build: " + err.Error() + ": " + string(out)}
	}
	segs, entry, err := sampleSegments(realSample)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if len(s.Data) > len(env.segment) {
			env.segment = s.Data
		}
	}
	off := bytes.Index(env.segment[:min(len(env.segment), 64<<10)], []byte{0xFD, '7', 'z', 'X', 'Z', 0})
	if off < 0 {
		return nil, &benchSetupError{"no xz stream in the sample's kernel segment"}
	}
	if err := os.WriteFile(env.stream, env.segment[off:], 0o600); err != nil {
		return nil, err
	}
	full, err := exec.Command("xz", "-dc", "--single-stream", env.stream).Output()
	if err != nil {
		return nil, err
	}
	i := bytes.Index(full, []byte("Linux version "))
	if i < 0 {
		return nil, &benchSetupError{"no banner in the kernel"}
	}
	env.bannerEnd = int64(i + bytes.IndexByte(full[i:], 0))
	for _, w := range []struct {
		path  string
		loads int
	}{{env.one, 1}, {env.fifty, 50}} {
		if err := writeLoads(w.path, segs, entry, w.loads); err != nil {
			return nil, err
		}
	}
	return env, nil
}

type benchSetupError struct{ msg string }

func (e *benchSetupError) Error() string { return e.msg }

// sampleSegments reads the first kexec_load of a capture: its segments with
// their captured bytes, and its entry point.
func sampleSegments(path string) ([]synth.Segment, uint64, error) {
	c, err := replay.Open(path, replay.OpenOptions{NoCmdline: true})
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	var segs []replay.Segment
	var entry uint64
	err = c.Calls(func(call *replay.Call) error {
		if call.Syscall != "kexec_load" || call.Args.Entry == nil {
			return nil
		}
		for _, s := range call.Segments {
			segs = append(segs, s)
		}
		entry = *call.Args.Entry
		return replay.ErrStop
	})
	if err != nil {
		return nil, 0, err
	}
	var out []synth.Segment
	for _, s := range segs {
		rc, err := c.Payload(s.Payload.Blob)
		if err != nil {
			return nil, 0, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, synth.Segment{Data: data, Mem: s.Mem, MemSz: s.MemSz})
	}
	return out, entry, nil
}

// writeLoads writes a capture of n identical kexec_load calls.
func writeLoads(path string, segs []synth.Segment, entry uint64, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := synth.NewWriter(f, synth.Options{})
	if err != nil {
		return err
	}
	for range n {
		if err := w.KexecLoad(segs, entry); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
