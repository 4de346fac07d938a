package recorder

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

const usernsChildEnv = "KEXECREC_USERNS_CHILD"

// usernsCall is the call both sides make: 17 segments (refused by every
// kernel before anything happens), CAP_SYS_BOOT kept, a 4 MiB segment 0.
func usernsCall() (*trigger.Result, error) {
	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 4 << 20}},
		NrSegments: 17, KeepSysBoot: true, Seed: 17})
	if err == nil {
		res.Release()
	}
	return res, err
}

// The BPF program gives the long ring-wait budget only to callers that would
// pass capable(CAP_SYS_BOOT): the bit in the effective set AND credentials
// in the initial user namespace. With nobody draining a 1 MiB ring, a caller
// that gets the budget spins (wait_loops > 0); one from `unshare -Ur`, whose
// effective set has every bit, must not.
//
// The test binary runs itself as the child: in a user namespace of its own,
// where it holds every capability (CAP_SYS_BOOT included) but the kernel's
// capable() still refuses it, it makes the call and prints the result.
func TestPrivilegedUserNamespaceGetsNoWait(t *testing.T) {
	if os.Getenv(usernsChildEnv) != "" {
		res, err := usernsCall()
		if err != nil {
			t.Fatal(err)
		}
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	const ring = 1 << 20
	cfg := AttachConfig{RingBytes: ring, RingWait: 200 * time.Millisecond, RingWaitUnprivileged: -1}

	endOf := func(t *testing.T, src Source, tid int) (layout.PayloadEnd, map[string]uint64) {
		t.Helper()
		m := counterMap(mustCounters(t, src)) // the call returned: final
		c, _, _ := drainWithMarkers(t, src)
		call := c.waitCall(t, tid)
		c.mu.Lock()
		defer c.mu.Unlock()
		acc := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}]
		if acc == nil || acc.end == nil {
			t.Fatal("no payload end for segment 0")
		}
		return *acc.end, m
	}

	t.Run("user-namespace", func(t *testing.T) {
		src := attachRaw(t, cfg)
		cmd := exec.Command(os.Args[0], "-test.run=^TestPrivilegedUserNamespaceGetsNoWait$", "-test.count=1")
		cmd.Env = append(os.Environ(), usernsChildEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child in a user namespace: %v\n%s", err, out)
		}
		var res trigger.Result
		if err := json.Unmarshal(firstJSONLine(out), &res); err != nil || res.TID == 0 {
			t.Fatalf("child output %q: %v", out, err)
		}
		if res.CapDropped || res.Args[1] != 17 {
			t.Fatalf("child call %+v: want CAP_SYS_BOOT kept and 17 segments", res)
		}
		end, m := endOf(t, src, res.TID)
		t.Logf("end %+v, counters %v", end, m)
		if m["wait_loops"] != 0 || end.Flags&layout.PFRingFull == 0 || end.Emitted >= end.Total {
			t.Errorf("a task in a user namespace got the privileged wait: end %+v, counters %v", end, m)
		}
	})
	t.Run("initial-namespace", func(t *testing.T) {
		// The control: the same call from this process, which does pass
		// capable(), waits for the ring.
		src := attachRaw(t, cfg)
		res, err := usernsCall()
		if err != nil {
			t.Fatal(err)
		}
		end, m := endOf(t, src, res.TID)
		t.Logf("end %+v, counters %v", end, m)
		if m["wait_loops"] == 0 || end.Flags&layout.PFRingFull == 0 {
			t.Errorf("a privileged caller did not wait for ring space: end %+v, counters %v", end, m)
		}
	})
}

// firstJSONLine is the first line of a test binary's output that is a JSON
// object (the testing package prints PASS lines after it).
func firstJSONLine(out []byte) []byte {
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("{")) {
			return line
		}
	}
	return nil
}
