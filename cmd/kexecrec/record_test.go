package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/recorder/trigger"
	"github.com/kexecrec/kexecrec/replay"
)

// fakeCall returns the ring records of one kexec_load call by this process
// with one random payload of n bytes.
func fakeCall(id uint64, n int) [][]byte {
	bo := binary.NativeEndian
	h := layout.Header{CallID: id, TimeNS: id * 1000}
	data := make([]byte, n)
	rand.Read(data)
	recs := [][]byte{
		layout.Enter{Header: h, PID: uint32(os.Getpid()), TID: uint32(os.Getpid()), SyscallNr: 246, ABI: layout.ABIX64,
			Hook: layout.HookRawSyscall, Args: [6]uint64{0x1000, 1, 0x7000, 0x3e0000}, Comm: "kexec"}.Marshal(bo),
		layout.Segments{Header: h, NrPassed: 1, NrCopied: 1, EntrySize: 32,
			Segs: []layout.Segment{{Buf: 0x7000, BufSz: uint64(n), Mem: 0x100000, MemSz: uint64(n)}}}.Marshal(bo),
	}
	var pieces uint32
	for off := 0; off < n; off += layout.PieceMax {
		end := min(off+layout.PieceMax, n)
		recs = append(recs, layout.Piece{Header: h, Kind: layout.KindSegment, Source: layout.SrcSyscallEntry,
			Offset: uint64(off), Total: uint64(n), Data: data[off:end]}.Marshal(bo))
		pieces++
	}
	recs = append(recs,
		layout.PayloadEnd{Header: h, Kind: layout.KindSegment, Source: layout.SrcSyscallEntry, Total: uint64(n),
			Emitted: uint64(n), Pieces: pieces}.Marshal(bo),
		layout.Exit{Header: h, Ret: -int64(syscall.EPERM), DurationNS: 100, TID: uint32(os.Getpid()), SyscallNr: 246,
			Hook: layout.HookRawSyscall}.Marshal(bo))
	return recs
}

// useFakeAttach makes record use a fake source holding calls calls.
func useFakeAttach(t *testing.T, calls int) *recorder.AttachConfig {
	t.Helper()
	var got recorder.AttachConfig
	old := attach
	t.Cleanup(func() { attach = old })
	attach = func(cfg recorder.AttachConfig) (recorder.Source, error) {
		got = cfg
		src := recorder.NewFakeSource("raw", 1024, "fentry attach refused: test")
		for i := 1; i <= calls; i++ {
			for _, r := range fakeCall(uint64(i), 300<<10) {
				src.Push(r)
			}
		}
		return src, nil
	}
	return &got
}

func runRecordCLI(t *testing.T, ios *IOStreams, args ...string) int {
	t.Helper()
	return run(append([]string{"record"}, args...), ios)
}

func testIO() (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}, out, errOut
}

func TestRecordWritesCapture(t *testing.T) {
	cfg := useFakeAttach(t, 3)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "3", "--snaplen", "1M", "--attach", "raw", "--ringbuf-size", "32M"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// By default a caller without CAP_SYS_BOOT never waits (-1 in AttachConfig).
	if *cfg != (recorder.AttachConfig{Mode: "raw", Snaplen: 1 << 20, RingBytes: 32 << 20, RingWait: recorder.DefaultRingWait, RingWaitUnprivileged: -1,
		MaxArgs: recorder.DefaultMaxArgs, Unprivileged: recorder.UnprivilegedPolicy{Snaplen: 64 << 10, Rate: 1 << 20, Burst: 16 << 20, TotalRate: 4 << 20, TotalBurst: 64 << 20, RingBytes: 8 << 20}}) {
		t.Errorf("attach config %+v", *cfg)
	}
	if !strings.Contains(errOut.String(), "attach mode raw") || !strings.Contains(errOut.String(), "warning: fentry attach refused: test") ||
		!strings.Contains(errOut.String(), "3 calls recorded") {
		t.Errorf("stderr: %s", errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v %v", fi, err)
	}
	c, err := replay.Open(path, replay.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := c.Header()
	if h.AttachMode != "raw" || h.Options["snaplen"] != "1048576" || h.Options["attach"] != "raw" || h.WriterVersion != versionString() {
		t.Errorf("header %+v", h)
	}
	// The time policy as resolved: the 5 s wait plus 5 s of copying, and
	// no wait plus 100 ms for a caller without CAP_SYS_BOOT.
	for k, want := range map[string]string{"ring_wait": "5s", "time_limit": "10s", "ring_wait_unprivileged": "0s", "time_limit_unprivileged": "100ms",
		"online_cpus": strconv.Itoa(recorder.OnlineCPUs()),
		// The unprivileged policy's defaults; the share is a quarter of the 32 MiB ring.
		"unprivileged_snaplen": "65536", "unprivileged_rate": "1048576", "unprivileged_burst": "16777216",
		"unprivileged_total_rate": "4194304", "unprivileged_total_burst": "67108864", "unprivileged_ring_share": "0.25", "unprivileged_ring_bytes": "8388608"} {
		if h.Options[k] != want {
			t.Errorf("header option %s = %q, want %q", k, h.Options[k], want)
		}
	}
	n := 0
	c.Calls(func(call *replay.Call) error {
		n++
		if call.Outcome != "error" || call.Errno != "EPERM" || len(call.Payloads) != 1 || !call.Payloads[0].Complete {
			t.Errorf("call %+v", call)
		}
		return nil
	})
	if n != 3 || !c.Status().Clean {
		t.Errorf("%d calls, clean %v", n, c.Status().Clean)
	}
}

// TestRecordRingWaitFlags: the wait flags reach the BPF configuration and
// the header, and 0 on the command line means no wait at all.
func TestRecordRingWaitFlags(t *testing.T) {
	cfg := useFakeAttach(t, 1)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--ring-wait", "0", "--ring-wait-unprivileged", "1s"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if cfg.RingWait != -1 || cfg.RingWaitUnprivileged != time.Second {
		t.Errorf("attach config waits %v / %v, want -1 (none) / 1s", cfg.RingWait, cfg.RingWaitUnprivileged)
	}
	c, err := replay.Open(path, replay.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := c.Header()
	for k, want := range map[string]string{"ring_wait": "0s", "time_limit": "5s", "ring_wait_unprivileged": "1s", "time_limit_unprivileged": "1.1s"} {
		if h.Options[k] != want {
			t.Errorf("header option %s = %q, want %q", k, h.Options[k], want)
		}
	}
}

func TestRecordJSONMatchesTheFile(t *testing.T) {
	useFakeAttach(t, 4)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	ios, out, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "4", "--json"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var live []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var call replay.Call
		if err := json.Unmarshal(sc.Bytes(), &call); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		live = append(live, sc.Text())
	}
	c, err := replay.Open(path, replay.OpenOptions{NoCmdline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fromFile []string
	c.Calls(func(call *replay.Call) error {
		b, _ := json.Marshal(call)
		fromFile = append(fromFile, string(b))
		return nil
	})
	if len(live) != 4 || len(fromFile) != 4 {
		t.Fatalf("%d live calls, %d in the file, want 4", len(live), len(fromFile))
	}
	// One encoder: the live lines are byte for byte what show prints.
	if code, shown, errOut := cli("show", "--format", "ndjson", "--no-identify", path); code != ExitOK ||
		shown != strings.Join(live, "\n")+"\n" {
		t.Errorf("record --json and show --format ndjson differ (exit %d %s):\n%s\n%s", code, errOut, strings.Join(live, "\n"), shown)
	}
	for i := range live {
		var a, b replay.Call
		json.Unmarshal([]byte(live[i]), &a)
		json.Unmarshal([]byte(fromFile[i]), &b)
		if a.ID != b.ID || a.Outcome != b.Outcome || a.Caller.Exe != b.Caller.Exe || len(a.Payloads) != 1 ||
			a.Payloads[0].SHA256 != b.Payloads[0].SHA256 || a.Caller.Exe == "" {
			t.Errorf("call %d differs:\nlive %s\nfile %s", i, live[i], fromFile[i])
		}
	}
}

func TestRecordToStdout(t *testing.T) {
	useFakeAttach(t, 1)
	ios, out, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", "-", "--count", "1"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r, err := format.NewReader(bytes.NewReader(out.Bytes()), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exits := 0
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Type == layout.RecExit {
			exits++
		}
	}
	if exits != 1 || !r.Status().Clean {
		t.Errorf("exits %d clean %v", exits, r.Status().Clean)
	}

	ios, _, errOut = testIO()
	ios.OutIsTerminal = true
	if code := runRecordCLI(t, ios, "-o", "-"); code != ExitTrouble || !strings.Contains(errOut.String(), "terminal") {
		t.Errorf("terminal stdout: exit %d %s", code, errOut)
	}
}

func TestRecordRefusals(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.kxr")
	os.WriteFile(existing, []byte("keep"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", existing}, "exists"},
		{[]string{"-o", "-", "--json"}, "--json"},
		{[]string{"-o", "-", "--rotate-size", "1M"}, "rotation"},
		{[]string{"-o", filepath.Join(dir, "x"), "--max-files", "3"}, "--max-files needs"},
		{[]string{"-o", filepath.Join(dir, "x"), "--attach", "magic"}, "--attach"},
		{[]string{"-o", filepath.Join(dir, "x"), "--snaplen", "12Q"}, "invalid size"},
		{[]string{"-o", filepath.Join(dir, "x"), "--ring-wait", "11s"}, "--ring-wait 11s: want 0 (never wait) to 10s"},
		{[]string{"-o", filepath.Join(dir, "x"), "--ring-wait-unprivileged", "-1s"}, "--ring-wait-unprivileged -1s: want 0"},
		{[]string{}, "output"},
	} {
		attached := false
		old := attach
		attach = func(recorder.AttachConfig) (recorder.Source, error) {
			attached = true
			return nil, fmt.Errorf("unexpected")
		}
		ios, _, errOut := testIO()
		code := runRecordCLI(t, ios, tc.args...)
		attach = old
		msg := errOut.String()
		if code != ExitTrouble || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 || attached {
			t.Errorf("%v: exit %d attached %v stderr %q (want one line containing %q)", tc.args, code, attached, msg, tc.want)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Error("existing output modified")
	}
	// --force overwrites.
	useFakeAttach(t, 1)
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", existing, "--force", "--count", "1"); code != ExitOK {
		t.Fatalf("--force: exit %d %s", code, errOut)
	}
}

func TestRecordAttachErrors(t *testing.T) {
	for _, e := range []error{recorder.ErrPermission, recorder.ErrNoBPF} {
		old := attach
		attach = func(recorder.AttachConfig) (recorder.Source, error) { return nil, e }
		ios, _, errOut := testIO()
		path := filepath.Join(t.TempDir(), "cap")
		code := runRecordCLI(t, ios, "-o", path)
		attach = old
		if code != ExitTrouble || !strings.Contains(errOut.String(), strings.TrimPrefix(e.Error(), "recorder: ")) {
			t.Errorf("%v: exit %d %q", e, code, errOut)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%v: output created although attach failed", e)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]uint64{"0": 0, "4096": 4096, "4K": 4096, "64M": 64 << 20, "1G": 1 << 30, "2KiB": 2048, "3MB": 3 << 20} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "K", "-1", "1.5M", "99999999999999999999", "16777216T"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The helper process: the real command with a fake source that keeps
// producing calls (one every few ms), logging when each call's exit entered
// the "ring". It is a test binary mode, not part of the CLI.
const helperEnv = "KEXECREC_RECORD_HELPER_LOG"

func TestRecordHelperProcess(t *testing.T) {
	logPath := os.Getenv(helperEnv)
	if logPath == "" {
		return
	}
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		os.Exit(3)
	}
	attach = func(recorder.AttachConfig) (recorder.Source, error) {
		src := recorder.NewFakeSource("raw", 64)
		go func() {
			for id := uint64(1); ; id++ {
				for _, r := range fakeCall(id, 100<<10) {
					if !src.Push(r) {
						return
					}
				}
				fmt.Fprintf(log, "%d %d\n", id, time.Now().UnixNano())
				time.Sleep(5 * time.Millisecond)
			}
		}()
		return src, nil
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, systemIO()))
}

// TestRecordSurvivesSIGKILL: every call completed 2 s before a kill -9 is
// in the file, which is readable up to its last sealed chunk.
func TestRecordSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	path, logPath := filepath.Join(dir, "cap.kxr"), filepath.Join(dir, "calls.log")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecordHelperProcess$", "--", "record", "-o", path)
	cmd.Env = append(os.Environ(), helperEnv+"="+logPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Let it record for a while (no timing assertion: waiting for calls).
	for lines(logPath) < 50 {
		time.Sleep(100 * time.Millisecond)
		if cmd.ProcessState != nil {
			t.Fatalf("recorder exited: %s", stderr.String())
		}
	}
	time.Sleep(3 * time.Second)
	killAt := time.Now()
	cmd.Process.Kill()
	cmd.Wait()

	completed := map[uint64]bool{}
	b, _ := os.ReadFile(logPath)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		id, _ := strconv.ParseUint(f[0], 10, 64)
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		if killAt.Sub(time.Unix(0, ns)) >= 2*time.Second {
			completed[id] = true
		}
	}
	if len(completed) < 50 {
		t.Fatalf("only %d calls completed 2 s before the kill", len(completed))
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[uint64]bool{}
	for {
		rec, err := r.Next()
		if err != nil {
			break // a torn last chunk is expected after kill -9
		}
		if rec.Type == layout.RecExit {
			h, _ := layout.ParseHeader(rec.Data, binary.NativeEndian)
			found[h.CallID] = true
		}
	}
	// The file has no trailer. A chunk is one write(2), but the kernel
	// ends a large write early when a fatal signal is pending, so the
	// file may end inside the chunk being written: that torn tail, after
	// the last sealed chunk, is the only damage allowed.
	st := r.Status()
	if st.Clean || len(st.Gaps) > 0 {
		t.Errorf("status after kill: clean %v gaps %v", st.Clean, st.Gaps)
	}
	for i, d := range st.Damage {
		if i > 0 || !errors.Is(d, format.ErrTruncated) || d.Off != st.Bytes {
			t.Errorf("damage after kill (want at most a torn tail at offset %d): %v", st.Bytes, st.Damage)
			break
		}
	}
	if fi, err := f.Stat(); err == nil && len(st.Damage) > 0 {
		t.Logf("torn tail: %d of %d bytes sealed", st.Bytes, fi.Size())
	}
	missing := 0
	for id := range completed {
		if !found[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d calls completed 2 s before the kill are not in the file", missing, len(completed))
	}
	t.Logf("%d calls completed 2 s before the kill, %d calls in the file", len(completed), len(found))
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestRecordDiskFull fills a small tmpfs: one clear line, ExitTrouble, and a
// file valid up to its last sealed chunk.
func TestRecordDiskFull(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "kexecrec-test", dir).CombinedOutput(); err != nil {
		testenv.Skip(t, fmt.Sprintf("cannot mount a tmpfs: %v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	useFakeAttach(t, 40) // 40 x 300 KiB of random bytes: 12 MiB, far over 4 MiB
	path := filepath.Join(dir, "cap.kxr")
	ios, _, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", path, "--count", "40", "--seal-size", "64K")
	msg := errOut.String()
	if code != ExitTrouble || !strings.Contains(msg, "disk full") || !strings.Contains(msg, "kept") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
	if last := strings.TrimSpace(msg[strings.LastIndex(strings.TrimSpace(msg), "\n")+1:]); !strings.HasPrefix(last, "kexecrec: record: disk full") {
		t.Errorf("last line %q", last)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exits := 0
	var readErr error
	for {
		rec, err := r.Next()
		if err != nil {
			if err.Error() != "EOF" {
				readErr = err
			}
			break
		}
		if rec.Type == layout.RecExit {
			exits++
		}
	}
	st := r.Status()
	// The half-written chunk was cut off: the file ends on a sealed chunk.
	if readErr != nil || st.Clean || len(st.Damage) > 0 || exits == 0 {
		t.Errorf("file after disk full: read error %v, clean %v, damage %v, %d calls", readErr, st.Clean, st.Damage, exits)
	}
	t.Logf("%s; %d calls readable", msg, exits)
}

// buildKexecrec builds the command into a temporary directory.
func buildKexecrec(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kexecrec")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startRecorder runs the built recorder on the real kernel and waits until
// its hooks are attached. kill sends SIGKILL and waits for the exit.
func startRecorder(t *testing.T, bin string, args ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"record"}, args...)...)
	stderr := &testenv.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	kill = func() { cmd.Process.Kill(); <-exited }
	t.Cleanup(kill)
	for !strings.Contains(stderr.String(), "attach mode") {
		select {
		case <-exited:
			t.Fatalf("recorder exited: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return kill
}

// TestRecordRealKernelSIGKILL: the real recorder in raw mode on this kernel,
// real kexec_load calls (CAP_SYS_BOOT dropped), kill -9: every call that
// returned 2 s before the kill is in the file with its exact payload.
func TestRecordRealKernelSIGKILL(t *testing.T) {
	testenv.Root(t)
	bin := buildKexecrec(t)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	kill := startRecorder(t, bin, "-o", path, "--attach", "raw")

	type done struct {
		sha string
		at  time.Time
	}
	var calls []done
	for i := 0; i < 40; i++ {
		res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 4096 + i}}, Seed: uint64(i) + 1})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, done{res.Segments[0].SHA256, time.Now()})
		res.Release()
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond)
	killAt := time.Now()
	kill()

	c, err := replay.Open(path, replay.OpenOptions{NoCmdline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inFile := map[string]bool{}
	c.Calls(func(call *replay.Call) error {
		if call.Outcome != "unfinished" && len(call.Payloads) == 1 && call.Payloads[0].Complete {
			inFile[call.Payloads[0].SHA256] = true
		}
		return nil
	})
	want, missing := 0, 0
	for _, d := range calls {
		if killAt.Sub(d.at) < 2*time.Second {
			continue
		}
		want++
		if !inFile[d.sha] {
			missing++
		}
	}
	if want != len(calls) || missing > 0 {
		t.Errorf("%d of %d calls completed 2 s before the kill are missing from the file", missing, want)
	}
	if st := c.Status(); st.Clean || len(st.Damage) > 0 {
		t.Errorf("status after kill: clean %v damage %v", st.Clean, st.Damage)
	}
}

func TestRecordStatusLineOnlyOnTerminal(t *testing.T) {
	old := statusRefresh
	statusRefresh = time.Millisecond
	t.Cleanup(func() { statusRefresh = old })
	for _, tty := range []bool{true, false} {
		useFakeAttach(t, 2)
		errOut := &testenv.SyncBuffer{}
		ios := &IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: errOut, ErrIsTerminal: tty}
		path := filepath.Join(t.TempDir(), "cap.kxr")
		ctx, cancel := context.WithCancel(context.Background())
		opts := &recordOptions{IO: ios, Output: path, Attach: "auto", SealSize: 1 << 20, SealInterval: time.Second, ctx: ctx}
		done := make(chan error, 1)
		go func() { done <- runRecord(opts) }()
		line := "\r\x1b[Kcalls 2  payload 600.0K  drops 0  file " + path
		if tty {
			for !strings.Contains(errOut.String(), line) { // the test times out if it never shows
				time.Sleep(5 * time.Millisecond)
			}
		} else {
			for !strings.Contains(errOut.String(), "attach mode") {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // room for status lines that must not come
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !tty && strings.Contains(errOut.String(), "\r") {
			t.Errorf("status line on a non-terminal: %q", errOut.String())
		}
	}
}

// TestRecordRealKernelSIGINT: SIGINT stops the real recorder cleanly: exit
// 0, a trailer, and the calls with their payloads; --json printed them live.
func TestRecordRealKernelSIGINT(t *testing.T) {
	testenv.Root(t)
	bin := buildKexecrec(t)
	path := filepath.Join(t.TempDir(), "cap.kxr")
	cmd := exec.Command(bin, "record", "-o", path, "--attach", "raw", "--json",
		"--unprivileged-snaplen", "0") // the trigger's calls are unprivileged: keep their 3 MiB
	stdout, stderr := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	for !strings.Contains(stderr.String(), "attach mode raw") {
		time.Sleep(20 * time.Millisecond)
	}
	var shas []string
	var ret int64 // what this kernel answers (the same for every call)
	for i, size := range []int{1, 4096, 3 << 20} {
		res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: size}, {Size: 100}}, Seed: uint64(1000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, res.Segments[0].SHA256)
		ret = res.Ret
		res.Release()
	}
	// Wait until the live output shows the three calls, then interrupt.
	for i := 0; ; i++ {
		n := 0
		for _, s := range shas {
			if strings.Contains(stdout.String(), s) {
				n++
			}
		}
		if n == len(shas) {
			break
		}
		if i == 1500 {
			t.Fatalf("calls not printed live; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v: %s", err, stderr.String())
	}
	c, err := replay.Open(path, replay.OpenOptions{NoCmdline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	found := map[string]*replay.Call{}
	c.Calls(func(call *replay.Call) error {
		// The raw hooks see every process: another test run on the machine
		// may load the same seeded segments.
		if call.Caller.PID != uint32(os.Getpid()) {
			return nil
		}
		for _, p := range call.Payloads {
			found[p.SHA256] = call
		}
		return nil
	})
	for _, s := range shas {
		call := found[s]
		if call == nil || call.Outcome != "error" || call.Syscall != "kexec_load" ||
			len(call.Payloads) != 2 || !call.Payloads[0].Complete || call.Caller.Exe == "" {
			t.Errorf("call with payload %s: %+v", s, call)
		}
	}
	if st := c.Status(); !st.Clean || !st.ChainOK {
		t.Errorf("after SIGINT: clean %v chain %v damage %v", st.Clean, st.ChainOK, st.Damage)
	}
	// A kernel without kexec answers ENOSYS (with kexec: EPERM, the
	// trigger dropped CAP_SYS_BOOT); raw mode then knows every return in
	// advance, and the header, each call, show and JSON say so.
	noKexec := ret == -int64(syscall.ENOSYS)
	if h := c.Header(); (h.KnownReturn == "ENOSYS") != noKexec || (noKexec && !strings.Contains(h.KnownReturnWhy, "kernel has no kexec")) {
		t.Errorf("kernel answered %d; header known_return %q (%q)", ret, h.KnownReturn, h.KnownReturnWhy)
	}
	for _, s := range shas {
		if call := found[s]; call != nil && (call.RetKnownInAdvance != noKexec || *call.Ret != ret) {
			t.Errorf("call with payload %s: ret %d known in advance %v, kernel answered %d", s, *call.Ret, call.RetKnownInAdvance, ret)
		}
	}
	// Only this process's calls: the raw hooks also recorded other test
	// processes running at the same time.
	self := strconv.Itoa(os.Getpid())
	code, table, errOut := cli("show", "--pid", self, path)
	if code != ExitOK {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	if got := strings.Count(table, "ENOSYS (-38, known in advance: kernel has no kexec)"); noKexec && got != 2*len(shas) {
		t.Errorf("show says known in advance %d times, want %d (title and result of each call):\n%s", got, 2*len(shas), table)
	} else if !noKexec && got != 0 {
		t.Errorf("kernel with kexec, but show says known in advance:\n%s", table)
	}
	code, js, errOut := cli("show", "--format", "ndjson", "--pid", self, path)
	if got := strings.Count(js, `"ret_known_in_advance":true`); code != ExitOK || (noKexec && got != len(shas)) || (!noKexec && got != 0) {
		t.Errorf("show ndjson: exit %d, ret_known_in_advance %d times: %s", code, got, errOut)
	}
}

func TestRecordSignKey(t *testing.T) {
	dir := t.TempDir()
	ios, _, errOut := testIO()
	if code := run([]string{"keygen", "-o", filepath.Join(dir, "k")}, ios); code != ExitOK {
		t.Fatalf("keygen: %d %s", code, errOut)
	}
	pub, err := format.LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	useFakeAttach(t, 1)
	path := filepath.Join(dir, "cap.kxr")
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--sign-key", filepath.Join(dir, "k.key"), "--fsync"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	f, _ := os.Open(path)
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{PublicKey: pub, SkipBlobData: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	if st := r.Status(); !st.Clean || !st.Signed || !st.SignatureOK || !st.KeyTrusted {
		t.Errorf("status %+v", st)
	}
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "x"), "--sign-key", filepath.Join(dir, "k.pub")); code != ExitTrouble || !strings.Contains(errOut.String(), "--sign-key") {
		t.Errorf("public key as --sign-key: exit %d %q", code, errOut)
	}
}

// A rotated set left by an earlier run (with --max-files, it may start at
// FILE.7) is refused at start-up, naming what is there, not hours later at
// the part that collides.
func TestRecordRotationRefusesStaleParts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cap.kxr")
	stale := map[string]string{out + ".7": "old 7", out + ".9": "old 9"}
	for name, body := range stale {
		os.WriteFile(name, []byte(body), 0o600)
	}
	os.WriteFile(out+".bak", []byte("not a part"), 0o600)

	attached := false
	old := attach
	attach = func(recorder.AttachConfig) (recorder.Source, error) {
		attached = true
		return nil, fmt.Errorf("unexpected")
	}
	ios, _, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", out, "--rotate-size", "100K")
	attach = old
	msg := errOut.String()
	if code != ExitTrouble || attached || strings.Count(msg, "\n") != 1 ||
		!strings.Contains(msg, out+".7, "+out+".9: output file exists") || strings.Contains(msg, ".bak") {
		t.Fatalf("exit %d attached %v stderr %q", code, attached, msg)
	}
	// Not rotating: stale parts do not matter.
	useFakeAttach(t, 1)
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", out, "--count", "1"); code != ExitOK {
		t.Fatalf("no rotation: exit %d %s", code, errOut)
	}
	os.Remove(out)

	// --force: parts are replaced as the new set reaches them.
	os.WriteFile(out+".1", []byte("old 1"), 0o600)
	useFakeAttach(t, 3)
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", out, "--rotate-size", "100K", "--count", "3", "--force"); code != ExitOK {
		t.Fatalf("--force: exit %d %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "--force: will replace "+out+".1, "+out+".7, "+out+".9") {
		t.Errorf("stderr %q", errOut)
	}
	var setID [16]byte
	for part := uint32(0); part <= 2; part++ {
		f, err := os.Open(recorder.PartName(out, part))
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(f, format.ReaderOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("part %d: %v", part, err)
		}
		if h := r.Header(); h.Part != part || part > 0 && h.SetID != setID {
			t.Errorf("part %d: header part %d", part, h.Part)
		} else {
			setID = h.SetID
		}
	}
	for name, body := range stale {
		if b, _ := os.ReadFile(name); string(b) != body {
			t.Errorf("%s changed although the new set did not reach it", name)
		}
	}
}

// --force replaces a symlink planted at the output path, never its target.
func TestRecordForceDoesNotFollowSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "shadow")
	os.WriteFile(victim, []byte("root:x:0:0"), 0o644)
	out := filepath.Join(dir, "cap.kxr")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	useFakeAttach(t, 1)
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", out, "--count", "1"); code != ExitTrouble || !strings.Contains(errOut.String(), "exists") {
		t.Fatalf("without --force: exit %d %s", code, errOut)
	}
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", out, "--count", "1", "--force"); code != ExitOK {
		t.Fatalf("--force: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:x:0:0" {
		t.Errorf("symlink target overwritten (%d bytes)", len(b))
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o644 {
		t.Errorf("symlink target mode changed to %v", fi.Mode())
	}
	if fi, err := os.Lstat(out); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("output %v %v, want a regular 0600 file", fi.Mode(), err)
	}
}
