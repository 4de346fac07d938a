package alert

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
)

func event(id uint64, comm string, ok bool) Event {
	ret := int64(-1)
	c := &replay.Call{ID: id, Syscall: "kexec_load", Outcome: "error", Errno: "EPERM", Ret: &ret,
		Caller:   replay.Caller{PID: 4242, UID: 0, Comm: comm, Exe: "/usr/sbin/kexec"},
		Payloads: []*replay.Payload{{Kind: "segment", Index: 0, SHA256: strings.Repeat("ab", 32)}, {Kind: "segment", Index: 1, SHA256: strings.Repeat("cd", 32)}}}
	if ok {
		zero := int64(0)
		c.Outcome, c.Errno, c.Ret = "ok", "", &zero
	}
	j, _ := json.Marshal(c)
	return Event{Call: c, JSON: append(j, '\n'), Header: format.Header{KernelRelease: "6.1.0-50-amd64", BootID: "b00t", MachineID: "m4ch1ne"}}
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// rfc5424 matches PRI VERSION TIMESTAMP HOSTNAME APP PROCID MSGID SD MSG.
var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) kexecrec (\d+) kexec \[kexec@32473((?: [a-z0-9_]+="(?:[^"\\\]]|\\.)*")+)\] (.*)$`)
var sdParam = regexp.MustCompile(`([a-z0-9_]+)="((?:[^"\\\]]|\\.)*)"`)

func parse(t *testing.T, msg string) (pri int, params map[string]string, text string) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 5424 message with our structured data: %q", msg)
	}
	if _, err := time.Parse(time.RFC3339Nano, m[2]); err != nil {
		t.Errorf("timestamp %q: %v", m[2], err)
	}
	pri, _ = strconv.Atoi(m[1])
	params = map[string]string{}
	for _, p := range sdParam.FindAllStringSubmatch(m[5], -1) {
		params[p[1]] = p[2]
	}
	return pri, params, m[6]
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var log logLines
	d := NewDispatcher(Options{Log: log.log}, &Syslog{Addr: "udp://" + pc.LocalAddr().String(), Hostname: "node 1"})
	hostile := "ev\"il] \\ \n<13>1 fake"
	d.Notify(event(7, hostile, false))
	d.Notify(event(8, "kexec", true))
	d.Close(5 * time.Second)

	got := map[string]string{}
	buf := make([]byte, 8192)
	for range 2 {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%v (log: %s)", err, log.String())
		}
		msg := string(buf[:n])
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("message spans lines: %q", msg)
		}
		pri, params, text := parse(t, msg)
		got[params["call_id"]] = msg
		switch params["call_id"] {
		case "7":
			if pri != 4*8+4 || params["result"] != "EPERM" || params["ret"] != "-1" || params["syscall"] != "kexec_load" {
				t.Errorf("refused call: pri %d params %v", pri, params)
			}
			if params["comm"] != `ev\"il\] \\ \x0a<13>1 fake` {
				t.Errorf("hostile comm came out as %q", params["comm"])
			}
			if strings.Contains(text, "\n") {
				t.Errorf("MSG %q", text)
			}
		case "8":
			if pri != 4*8+1 || params["result"] != "ok" {
				t.Errorf("successful load: pri %d params %v", pri, params)
			}
		}
		for k, want := range map[string]string{"kernel_release": "6.1.0-50-amd64", "pid": "4242", "exe": "/usr/sbin/kexec",
			"segment_0_sha256": strings.Repeat("ab", 32), "segment_1_sha256": strings.Repeat("cd", 32), "boot_id": "b00t"} {
			if params[k] != want {
				t.Errorf("%s=%q, want %q", k, params[k], want)
			}
		}
		if !strings.Contains(msg, " node1 kexecrec ") {
			t.Errorf("hostname not made a HEADER field: %q", msg)
		}
	}
	if len(got) != 2 {
		t.Errorf("messages %v", got)
	}
}

func TestSyslogTCPOctetCounting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	frames := make(chan string, 2)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			var n int
			if _, err := fmt.Fscanf(r, "%d ", &n); err != nil {
				return
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return
			}
			frames <- string(b)
		}
	}()
	d := NewDispatcher(Options{Workers: 1}, &Syslog{Addr: "tcp://" + l.Addr().String(), Hostname: "h"})
	d.Notify(event(1, "a b", false))
	d.Notify(event(2, "c", false))
	d.Close(5 * time.Second)
	for i := range 2 {
		select {
		case f := <-frames:
			if _, p, _ := parse(t, f); p["call_id"] != strconv.Itoa(i+1) {
				t.Errorf("frame %d: %v", i, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no frame")
		}
	}
}

func TestOnCallGetsJSON(t *testing.T) {
	dir := t.TempDir()
	var log logLines
	d := NewDispatcher(Options{Log: log.log}, &OnCall{Command: `cat > "` + dir + `/call.$$"`})
	for i := uint64(1); i <= 5; i++ {
		d.Notify(event(i, "kexec", false))
	}
	d.Close(30 * time.Second)
	files, _ := filepath.Glob(filepath.Join(dir, "call.*"))
	seen := map[uint64]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var c replay.Call
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v: %q", f, err, b)
		}
		seen[c.ID] = true
	}
	if len(seen) != 5 || log.String() != "" {
		t.Errorf("calls seen %v, log %q", seen, log.String())
	}
}

// TestOnCallBounded: at most Workers commands at once; a command past the
// time limit is killed and logged; a failing one is logged with its
// stderr; a full queue drops (counted) instead of blocking Notify.
func TestOnCallBounded(t *testing.T) {
	dir := t.TempDir()
	// Each run notes how many runs are inside the critical part at once.
	script := `d=` + dir + `; touch $d/in.$$; ls $d | grep -c '^in\.' >> $d/counts; sleep 0.3; rm $d/in.$$`
	d := NewDispatcher(Options{Workers: 2}, &OnCall{Command: script})
	for i := uint64(1); i <= 6; i++ {
		d.Notify(event(i, "kexec", false))
	}
	d.Close(30 * time.Second)
	b, _ := os.ReadFile(filepath.Join(dir, "counts"))
	counts := strings.Fields(string(b))
	if len(counts) != 6 {
		t.Fatalf("%d runs noted, want 6: %q", len(counts), b)
	}
	for _, c := range counts {
		if n, _ := strconv.Atoi(c); n < 1 || n > 2 {
			t.Errorf("%s commands ran at once with Workers 2", c)
		}
	}

	var log logLines
	d = NewDispatcher(Options{Workers: 1, Queue: 1, Timeout: 300 * time.Millisecond, Log: log.log}, &OnCall{Command: "sleep 60"})
	for i := uint64(1); i <= 50; i++ {
		d.Notify(event(i, "kexec", false)) // never blocks: one runs, one waits, the rest are dropped
	}
	d.Close(30 * time.Second)
	st := d.Stats()["--on-call"]
	// The first alert runs (and is killed); whether the second got into the
	// queue before the worker took the first is up to the scheduler.
	if st[0] != 0 || st[1]+st[2] != 50 || st[1] < 1 || st[1] > 2 || !strings.Contains(log.String(), "killed after the time limit") || !strings.Contains(log.String(), "dropping new ones") {
		t.Errorf("stats sent/failed/dropped %v, log:\n%s", st, log.String())
	}

	log = logLines{}
	d = NewDispatcher(Options{Log: log.log}, &OnCall{Command: "echo starting; echo 'pager down' >&2; exit 3"})
	d.Notify(event(9, "kexec", false))
	d.Close(30 * time.Second)
	if want := `--on-call for call 9 failed: exit status 3: "pager down"`; log.String() != want+"\n--on-call: 1 alert(s) failed, 0 dropped" {
		t.Errorf("log %q, want %q", log.String(), want)
	}
}
