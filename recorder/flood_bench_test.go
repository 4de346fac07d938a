package recorder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// benchFloodFor is each iteration's flood: long enough for the uid's
// bucket to empty its burst and settle at its rate, short enough for the
// shared machine.
const benchFloodFor = 3 * time.Second

// floodRecording is one recording in raw mode under the production
// policy (the flood gets no ring wait, the real load DefaultRingWait), into
// a file of its own.
type floodRecording struct {
	rec    *Recorder
	path   string
	cancel context.CancelFunc
	ran    chan error
}

func startFloodRecording(b *testing.B, onRecord func(format.Record)) *floodRecording {
	b.Helper()
	src := attachRaw(b, AttachConfig{RingWait: DefaultRingWait, RingWaitUnprivileged: -1, Unprivileged: DefaultUnprivilegedPolicy(0)})
	r := &floodRecording{path: filepath.Join(b.TempDir(), "flood.kxr"), ran: make(chan error, 1)}
	r.rec = New(Config{Source: src, Sink: &FileSink{Base: r.path}, Header: HostHeader("bench"), OnRecord: onRecord})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		_, err := r.rec.Run(ctx)
		r.ran <- err
	}()
	for r.rec.Progress().File == "" {
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

// stop ends the recording: the file is sealed (trailer written, closed)
// when it returns.
func (r *floodRecording) stop(b *testing.B) {
	b.Helper()
	r.cancel()
	if err := <-r.ran; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFloodGrowth: the flood of TestPrivilegedFlood alone (uid 65534,
// 16 x 16 MiB per call, bytes changed every call) for benchFloodFor under
// the default policy; MB-per-flood-s is the sealed capture's size over the
// flood's duration (without the policy, each call alone passes 256 MiB).
func BenchmarkFloodGrowth(b *testing.B) {
	bufs := floodBuffers(b)
	var bytes, calls float64
	var elapsed time.Duration
	for range b.N {
		r := startFloodRecording(b, nil)
		fl := <-startFlood(time.Now().Add(benchFloodFor), bufs)
		checkFlood(b, fl)
		r.stop(b)
		fi, err := os.Stat(r.path)
		if err != nil {
			b.Fatal(err)
		}
		bytes += float64(fi.Size())
		calls += float64(fl.calls)
		elapsed += fl.elapsed
	}
	b.ReportMetric(bytes/1e6/elapsed.Seconds(), "MB-per-flood-s")
	b.ReportMetric(calls/elapsed.Seconds(), "flood-calls/s")
}

// BenchmarkFloodPrivilegedCall: the real load of TestPrivilegedFlood
// (16 x 8 MiB from a caller with CAP_SYS_BOOT) with no other caller
// ("quiet") and a third into the flood ("flood"). ms-entry-to-sealed runs
// from the call's ENTER boot-time stamp to the recording being sealed: the
// recording is stopped as soon as the call's exit and its 16 payloads are
// written, and the time is taken once the file's trailer is on disk. Every
// payload must be complete and SHA-256 exact.
func BenchmarkFloodPrivilegedCall(b *testing.B) {
	for _, withFlood := range []bool{false, true} {
		name := "quiet"
		if withFlood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			var bufs [][]byte
			if withFlood {
				bufs = floodBuffers(b)
			}
			var total time.Duration
			for i := range b.N {
				total += privilegedCallSealed(b, bufs, uint64(900+i))
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-entry-to-sealed")
			b.ReportMetric(floodSegs*privSegSize/1e6/(total.Seconds()/float64(b.N)), "MB/s-entry-to-sealed")
		})
	}
}

// privilegedCallSealed records one privileged call, during a flood when
// bufs is set, and returns its entry-to-sealed time.
func privilegedCallSealed(b *testing.B, bufs [][]byte, seed uint64) time.Duration {
	var privID, enterNS uint64
	var exited bool
	var got []layout.Payload
	complete := make(chan struct{})
	onRecord := func(r format.Record) { // on the recording goroutine
		switch r.Type {
		case layout.RecEnter:
			if e, err := layout.ParseEnter(r.Data, bo); err == nil && e.UID == 0 && privID == 0 {
				privID, enterNS = e.CallID, e.TimeNS
			}
		case layout.RecExit:
			if h, err := layout.ParseHeader(r.Data, bo); err == nil && privID != 0 && h.CallID == privID {
				exited = true
			}
		case layout.RecPayload:
			var p layout.Payload
			if json.Unmarshal(r.Data, &p) == nil && privID != 0 && p.CallID == privID {
				got = append(got, p)
			}
		default:
			return
		}
		if exited && len(got) == floodSegs && privID != 0 {
			exited = false // signal once
			close(complete)
		}
	}
	r := startFloodRecording(b, onRecord)
	var floodDone <-chan floodResult
	if bufs != nil {
		floodDone = startFlood(time.Now().Add(benchFloodFor), bufs)
		time.Sleep(benchFloodFor / 3)
	}
	priv := privilegedCall(b, privSegSize, seed)
	select {
	case <-complete:
	case <-time.After(2 * time.Minute):
		b.Fatalf("the privileged call's exit and %d payloads were not written in 2 min (%d written)", floodSegs, len(got))
	}
	r.stop(b)
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	took := time.Duration(uint64(ts.Nano()) - enterNS)
	if floodDone != nil {
		checkFlood(b, <-floodDone)
	}
	for _, p := range got {
		if int(p.Index) >= floodSegs || !p.Complete || p.Total != privSegSize || p.SHA256 != priv.Segments[p.Index].SHA256 {
			b.Fatalf("privileged segment %d: %d of %d bytes, complete %v, reasons %v", p.Index, p.Captured, p.Total, p.Complete, p.Reasons)
		}
	}
	return took
}
