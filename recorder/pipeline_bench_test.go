package recorder

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

const benchPayload = 256 << 20

// payloadFeeder pushes one kexec_load call with a 256 MiB payload into src
// as BPF would: 256 KiB pieces, then END and EXIT. The bytes are random and
// every piece is different (a few bytes of each are its number), so neither
// compression nor the format's piece de-duplication can make it cheap; they
// are built from 16 random 256 KiB pieces so the feeder itself stays small.
func payloadFeeder(src *FakeSource, id uint64) {
	bo := binary.NativeEndian
	h := layout.Header{CallID: id, TimeNS: 1}
	src.Push(layout.Enter{Header: h, PID: uint32(os.Getpid()), SyscallNr: 246, Args: [6]uint64{0, 1}}.Marshal(bo))
	src.Push(layout.Segments{Header: h, NrPassed: 1, NrCopied: 1, EntrySize: 32,
		Segs: []layout.Segment{{Buf: 0x1000, BufSz: benchPayload, Mem: 0x100000, MemSz: benchPayload}}}.Marshal(bo))
	rng := rand.New(rand.NewPCG(id, 7))
	base := make([][]byte, 16)
	for i := range base {
		base[i] = make([]byte, layout.PieceMax)
		for j := 0; j < len(base[i]); j += 8 {
			binary.LittleEndian.PutUint64(base[i][j:], rng.Uint64())
		}
	}
	tmpl := layout.Piece{Header: h, Kind: layout.KindSegment, Source: layout.SrcSyscallEntry, Total: benchPayload,
		Data: make([]byte, layout.PieceMax)}.Marshal(bo)
	n := uint64(0)
	for off := uint64(0); off < benchPayload; off += layout.PieceMax {
		rec := make([]byte, len(tmpl)) // a Source hands out a fresh copy per record
		copy(rec, tmpl)
		bo.PutUint64(rec[layout.PieceSize-16:], off) // offset field
		copy(rec[layout.PieceSize:], base[n%16])
		bo.PutUint64(rec[layout.PieceSize:], n) // make every piece unique
		src.Push(rec)
		n++
	}
	src.Push(layout.PayloadEnd{Header: h, Kind: layout.KindSegment, Source: layout.SrcSyscallEntry, Total: benchPayload,
		Emitted: benchPayload, Pieces: uint32(n)}.Marshal(bo))
	src.Push(layout.Exit{Header: h, Ret: -1}.Marshal(bo))
}

// runPipeline records one 256 MiB call from a fake source into dir until
// the file is closed (trailer written) and returns the file.
func runPipeline(tb testing.TB, dir string) (string, Summary) {
	return runPipelineHash(tb, dir, format.PieceBLAKE3)
}

// runPipelineHash is runPipeline writing pieces and blobs named by ph.
func runPipelineHash(tb testing.TB, dir string, ph format.PieceHash) (string, Summary) {
	path := filepath.Join(dir, "bench.kxr")
	os.Remove(path)
	src := NewFakeSource("raw", 8)
	go payloadFeeder(src, 1)
	sum, err := New(Config{Source: src, Sink: &FileSink{Base: path}, Header: HostHeader("bench"), Count: 1,
		Writer: format.WriterOptions{PieceHash: ph}}).Run(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if sum.CallsCompleted != 1 || sum.PayloadBytes != benchPayload {
		tb.Fatalf("summary %+v", sum)
	}
	return path, sum
}

// BenchmarkPipeline256MiB: payload capture throughput from ring record to
// sealed on disk (blob pieces hashed, compressed, written; trailer written)
// for one 256 MiB payload. The disk is the test's temp dir (TMPDIR).
//
// cpu-ns/B is the process's CPU time (every goroutine, the fake source's
// feeder included) per payload byte: on a loaded machine the wall-clock rate
// depends on the neighbours, this does not.
func BenchmarkPipeline256MiB(b *testing.B) {
	dir := b.TempDir()
	b.SetBytes(benchPayload)
	cpu0 := processCPU()
	for b.Loop() {
		runPipeline(b, dir)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/benchPayload, "cpu-ns/B")
}

// BenchmarkPipelineHashPaired: the same 256 MiB capture as Pipeline256MiB
// written as format 1.0 (each byte hashed twice with SHA-256, on two
// goroutines) and as format 1.1 (hashed once, BLAKE3), alternately in each
// iteration, so that both see the same machine load: the process's CPU per
// payload byte for each, their ratio, and the wall-clock rates.
func BenchmarkPipelineHashPaired(b *testing.B) {
	dir := b.TempDir()
	var cpu, wall [2]int64
	for b.Loop() {
		for i, ph := range []format.PieceHash{format.PieceSHA256, format.PieceBLAKE3} {
			c0, t0 := processCPU(), time.Now()
			runPipelineHash(b, dir, ph)
			cpu[i] += processCPU() - c0
			wall[i] += int64(time.Since(t0))
		}
	}
	n := float64(b.N) * benchPayload
	b.ReportMetric(float64(cpu[0])/n, "1.0-cpu-ns/B")
	b.ReportMetric(float64(cpu[1])/n, "1.1-cpu-ns/B")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "1.1-vs-1.0-cpu")
	b.ReportMetric(n/float64(wall[0])*1e3, "1.0-MB/s")
	b.ReportMetric(n/float64(wall[1])*1e3, "1.1-MB/s")
}

// processCPU is this process's user + system CPU time in ns.
func processCPU() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPipelineRSS runs the same recording in a child process and reports
// its peak RSS (the feeder's 4 MiB of source pieces included).
func BenchmarkPipelineRSS(b *testing.B) {
	var maxrss int64
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineRSSHelper$")
		cmd.Env = append(os.Environ(), "KEXECREC_PIPELINE_HELPER="+b.TempDir())
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		hwm := watchHWM(cmd.Process.Pid)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("helper: %v\n%s", err, out.String())
		}
		maxrss = max(maxrss, hwm())
	}
	b.ReportMetric(float64(maxrss)/1024, "maxrss-MiB")
}

// watchHWM polls a child's VmHWM (peak RSS of its own address space, in
// KiB) until it exits; the returned func gives the last value seen. The
// rusage of a child is no good here: ru_maxrss also counts the parent's
// address space the child ran in between fork and exec.
func watchHWM(pid int) func() int64 {
	var mu sync.Mutex
	var last int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					if n == 0 {
						return // exiting: the address space is gone
					}
					mu.Lock()
					last = n
					mu.Unlock()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() int64 {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestPipelineRSSHelper(t *testing.T) {
	dir := os.Getenv("KEXECREC_PIPELINE_HELPER")
	if dir == "" {
		return
	}
	start := time.Now()
	path, _ := runPipeline(t, dir)
	fi, _ := os.Stat(path)
	fmt.Println("file bytes", strconv.FormatInt(fi.Size(), 10), "in", time.Since(start))
}

// BenchmarkRealKexecLoad256MiB: the built kexecrec binary records, in raw
// mode on this kernel, a real kexec_load of one 256 MiB segment (the
// trigger drops CAP_SYS_BOOT first). Throughput is from the syscall entry
// (the ENTER record's boot-time stamp) to the recorder having sealed the file
// and exited (--count 1); maxrss-MiB is the recorder process's peak RSS.
func BenchmarkRealKexecLoad256MiB(b *testing.B) {
	testenv.Root(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "kexecrec")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kexecrec/kexecrec/cmd/kexecrec").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var total, recorderCPU, captureCPU, callWall, callCPU time.Duration
	var maxrss int64
	for range b.N { // ns/op includes the recorder's start-up; see the metrics
		path := filepath.Join(dir, "real.kxr")
		os.Remove(path)
		cmd := exec.Command(bin, "record", "-o", path, "--attach", "raw", "--count", "1")
		stderr := &testenv.SyncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		hwm := watchHWM(cmd.Process.Pid)
		for i := 0; !strings.Contains(stderr.String(), "attach mode"); i++ {
			if i == 3000 {
				cmd.Process.Kill()
				b.Fatalf("recorder did not start: %s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		startCPU, err := procCPU(cmd.Process.Pid) // start-up: BPF load, attach
		if err != nil {
			b.Fatal(err)
		}
		// A real load comes from a caller with CAP_SYS_BOOT, which gets the
		// recorder's full ring-wait budget. Keeping the capability is safe
		// only with nr_segments 17: every kernel refuses that call with
		// EINVAL before it loads anything, and segment 0 is still captured.
		res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: benchPayload}},
			NrSegments: 17, KeepSysBoot: true, Seed: 42})
		if err != nil {
			b.Fatal(err)
		}
		want := res.Segments[0].SHA256
		callWall += time.Duration(res.DurationNS)
		callCPU += time.Duration(res.CPUNS)
		res.Release()
		if err := cmd.Wait(); err != nil {
			b.Fatalf("recorder: %v: %s", err, stderr.String())
		}
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		recorderCPU += cpu
		captureCPU += cpu - startCPU
		if os.Getenv("KEXECREC_BENCH_VERBOSE") != "" {
			b.Log(stderr.String())
		}
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
		enterNS, p := readBenchCapture(b, path)
		if p.SHA256 != want || !p.Complete {
			b.Fatalf("payload %+v, want complete with sha %s; recorder said %s", p, want, stderr.String())
		}
		total += time.Duration(uint64(ts.Nano()) - enterNS)
		maxrss = max(maxrss, hwm())
	}
	b.ReportMetric(float64(benchPayload)/1e6/(total.Seconds()/float64(b.N)), "MB/s-entry-to-sealed")
	b.ReportMetric(float64(maxrss)/1024, "maxrss-MiB")
	// The recorder process's own CPU time per payload byte (start-up
	// included); the BPF side runs in the caller's syscall, not here.
	b.ReportMetric(float64(recorderCPU.Nanoseconds())/float64(b.N)/benchPayload, "recorder-cpu-ns/B")
	// The caller's CPU while its syscall ran, per second of that syscall:
	// BPF copies the segment into the ring and, when the ring is full,
	// waits for space on the caller's CPU. Near 1 means the calling CPU
	// was held for the whole call, leaving the recorder the other core.
	b.ReportMetric(callCPU.Seconds()/callWall.Seconds(), "caller-cpu-busy")
	b.ReportMetric(float64(callWall.Milliseconds())/float64(b.N), "syscall-ms")
	// The recorder's CPU after start-up: what capturing the payload cost the
	// recorder, and the rate one core of its own gives at that cost (on
	// a loaded machine the wall-clock rate also counts waiting for a CPU).
	capNS := float64(captureCPU.Nanoseconds()) / float64(b.N) / benchPayload
	b.ReportMetric(capNS, "capture-cpu-ns/B")
	b.ReportMetric(1e3/capNS, "capture-cpu-MB/s")
}

// procCPU is a running process's user + system CPU time so far, from
// /proc/PID/stat (clock ticks of 10 ms: about 3 % of the capture's CPU).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start after
	// the last ')': state is field 3, utime 14 and stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil // USER_HZ is 100 on Linux
}

// readBenchCapture returns the ENTER time and the payload record of the one
// call in a capture.
func readBenchCapture(tb testing.TB, path string) (uint64, layout.Payload) {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{SkipBlobData: true})
	if err != nil {
		tb.Fatal(err)
	}
	var enter uint64
	var p layout.Payload
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		switch rec.Type {
		case layout.RecEnter:
			h, _ := layout.ParseHeader(rec.Data, binary.NativeEndian)
			enter = h.TimeNS
		case layout.RecPayload:
			// Segment 0 carries the benchmark's payload (the other
			// entries of the 17-segment table are empty).
			var q layout.Payload
			if json.Unmarshal(rec.Data, &q) == nil && q.Index == 0 {
				p = q
			}
		}
	}
	if p.Blob != "" && p.SHA256 == "" {
		// Format 1.1: the SHA-256 comes from the blob's bytes, as
		// readers compute it (after the timed part).
		fi, _ := f.Stat()
		ix, err := format.OpenIndex(f, fi.Size(), format.ReaderOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		var id [32]byte
		hex.Decode(id[:], []byte(p.Blob))
		sum, err := ix.BlobSHA256(id)
		if err != nil {
			tb.Fatal(err)
		}
		p.SHA256 = hex.EncodeToString(sum[:])
	}
	return enter, p
}
