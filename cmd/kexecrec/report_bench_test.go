package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/replay/report"
)

// reportBenchSamples are the real Debian 6.1 captures (8 MiB each, one
// kexec_load and one kexec_file_load of an xz kernel with its initramfs).
var reportBenchSamples = []string{
	"../../testdata/samples/real-6.1-kprobe-kexec_load.zst",
	"../../testdata/samples/real-6.1-raw-kexec_file_load.zst",
}

// BenchmarkReport measures what a user waits for when writing a report,
// an export and a summary of the real 6.1 samples: the kexecrec binary
// run as a child, each command once per iteration, interleaved, so that a
// busy machine slows them alike. Metrics (medians over the iterations):
// *-cpu-s user + system CPU seconds of the child, *-s wall seconds.
//
//	go test ./cmd/kexecrec -run '^$' -bench Report -benchtime 5x
func BenchmarkReport(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "kexecrec")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v: %s", err, out)
	}
	commands := []struct {
		name string
		argv []string
	}{
		{"report", append([]string{bin, "report", "--force", "-o", filepath.Join(dir, "report.html")}, reportBenchSamples...)},
		{"export", append([]string{bin, "export", "--format", "timesketch", "--force", "-o", filepath.Join(dir, "export.jsonl")}, reportBenchSamples...)},
		{"summarize", append([]string{bin, "summarize"}, reportBenchSamples...)},
	}
	wall := make([][]float64, len(commands))
	cpu := make([][]float64, len(commands))
	for b.Loop() {
		for i, c := range commands {
			w, u := runChild(b, c.argv...)
			wall[i], cpu[i] = append(wall[i], w), append(cpu[i], u)
		}
	}
	for i, c := range commands {
		b.ReportMetric(benchMedian(cpu[i]), c.name+"-cpu-s")
		b.ReportMetric(benchMedian(wall[i]), c.name+"-s")
	}
}

// BenchmarkReportReading isolates the reading behind report and export:
// gathering the evidence of the real 6.1 samples in process, with the
// identification of their payloads cached (identify.Shared identifies each
// distinct payload once per process, and the first gathering, outside the
// timer, fills it). What is left is reading, checking and decoding the
// captures, hashing them, verify's checks, spooling payloads and the
// purgatory digest. cpu-s/op: process CPU seconds per gathering.
func BenchmarkReportReading(b *testing.B) {
	if _, err := gatherEvidence(reportBenchSamples, "", "", report.MaxCalls); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	n := 0
	for b.Loop() {
		c0 := testenv.ProcessCPU()
		ev, err := gatherEvidence(reportBenchSamples, "", "", report.MaxCalls)
		cpu += testenv.ProcessCPU() - c0
		n++
		if err != nil || len(ev.Captures) != len(reportBenchSamples) || len(ev.Captures[0].Calls) == 0 {
			b.Fatalf("gathered %+v, %v", ev, err)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(n), "cpu-s/op")
}
