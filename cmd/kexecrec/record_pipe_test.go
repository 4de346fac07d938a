package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// pipeReader is one reader command fed by a pipe from record -o -.
type pipeReader struct {
	args   []string
	in     *io.PipeReader
	out    *testenv.SyncBuffer
	errOut *testenv.SyncBuffer
	code   int
}

// record -o - into show -, verify - and replay --follow -, all at once,
// against the real BPF recorder (raw mode) and a real kexec_load (the
// trigger drops CAP_SYS_BOOT: nothing is loaded). replay --follow prints
// the call while the recorder still runs (the pipe is decoded as it
// comes); then the recorder stops, and show finds the call with its payload
// and verify verifies the stream.
func TestRecordPipeIntoReaders(t *testing.T) {
	testenv.Root(t)
	readers := []*pipeReader{
		{args: []string{"replay", "--follow", "-"}},
		{args: []string{"show", "--format", "ndjson", "-"}},
		{args: []string{"verify", "-"}},
	}
	var writers []io.Writer
	var pipes []*io.PipeWriter
	var wg sync.WaitGroup
	for _, r := range readers {
		pr, pw := io.Pipe()
		r.in, r.out, r.errOut = pr, &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
		writers, pipes = append(writers, pw), append(pipes, pw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.code = run(r.args, &IOStreams{In: pr, Out: r.out, ErrOut: r.errOut})
			io.Copy(io.Discard, pr) // a reader that stopped early must not block the recorder
		}()
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	recErr := &testenv.SyncBuffer{}
	recDone := make(chan int, 1)
	go func() {
		root := newRootCmd(&IOStreams{In: strings.NewReader(""), Out: io.MultiWriter(writers...), ErrOut: recErr})
		root.SetArgs([]string{"record", "-o", "-", "--attach", "raw", "--seal-interval", "100ms"})
		code, msg := exitCode(root.ExecuteContext(ctx))
		if msg != "" {
			recErr.Write([]byte("kexecrec: " + msg + "\n"))
		}
		for _, pw := range pipes {
			pw.Close()
		}
		recDone <- code
	}()
	t.Cleanup(func() {
		stop()
		<-recDone
		wg.Wait()
	})
	for i := 0; !strings.Contains(recErr.String(), "recording to <stdout>"); i++ {
		if i == 1500 || strings.Contains(recErr.String(), "kexecrec: record:") {
			t.Fatalf("recorder did not start: %q", recErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 64 << 10}, {Size: 100}}, Seed: 1818})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	sha := res.Segments[0].SHA256

	// Live: replay prints the call before the recorder stops.
	for i := 0; !strings.Contains(readers[0].out.String(), sha); i++ {
		if i == 1500 {
			t.Fatalf("replay --follow - did not print the call while recording; stdout %q stderr %q, recorder %q",
				readers[0].out.String(), readers[0].errOut.String(), recErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if code := <-recDone; code != ExitOK {
		t.Fatalf("record exit %d: %s", code, recErr.String())
	}
	recDone <- ExitOK // for the cleanup
	wg.Wait()

	for _, r := range readers {
		if r.code != ExitOK || r.errOut.String() != "" {
			t.Errorf("%v: exit %d, stderr %q", r.args, r.code, r.errOut.String())
		}
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(readers[1].out.String()), "\n") {
		var call struct {
			Syscall  string `json:"syscall"`
			Payloads []struct {
				SHA256   string `json:"sha256"`
				Complete bool   `json:"complete"`
				Identity *struct {
					Type string `json:"type"`
				} `json:"identity"`
			} `json:"payloads"`
		}
		if err := json.Unmarshal([]byte(line), &call); err != nil {
			t.Fatalf("show - printed %q: %v", line, err)
		}
		for _, p := range call.Payloads {
			// identity: the payload bytes were read back through the copy.
			if p.SHA256 == sha && call.Syscall == "kexec_load" && p.Complete && p.Identity != nil {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("show - lacks the call with payload %s:\n%s", sha, readers[1].out.String())
	}
	if v := readers[2].out.String(); !strings.HasPrefix(v, "-:\n") || !strings.Contains(v, "  VERIFIED\n") {
		t.Errorf("verify -:\n%s", v)
	}
}
