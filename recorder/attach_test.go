package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

func TestAttachConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  AttachConfig
		want string
	}{
		{AttachConfig{Mode: "uprobe"}, "unknown attach mode"},
		{AttachConfig{RingBytes: 3 << 20}, "power of two"},
		{AttachConfig{RingBytes: 1024}, "power of two"},
		{AttachConfig{RingWait: MaxRingWait + time.Second}, "at most"},
		{AttachConfig{RingWaitUnprivileged: MaxRingWait + time.Second}, "at most"},
	} {
		_, err := Attach(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Attach(%+v) = %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}

// TestPrivilegedCloseUnblocksRead closes the source from another goroutine
// while Read waits on an idle ring, as a signal handler would.
func TestPrivilegedCloseUnblocksRead(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	done := make(chan error, 1)
	go func() {
		_, err := src.Read()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Read block; correctness does not depend on it
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read still blocked a minute after Close")
	}
	if _, err := src.Read(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Read = %v, want ErrClosed", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPrivilegedAutoPicksWorkingMode(t *testing.T) {
	testenv.Root(t)
	src, err := Attach(AttachConfig{})
	if err != nil {
		testenv.Skip(t, "cannot attach: "+err.Error())
	}
	defer src.Close()
	t.Logf("auto picked %s; warnings: %q", src.Mode(), src.Warnings())
	// Whatever auto picked must be a mode whose probes pass, and a forced
	// mode that fails its probe must be an error, not a silent fallback.
	kt, err := newKernelTargets(fentryTargets)
	if err != nil {
		t.Fatal(err)
	}
	if err := probeMode(kt, src.Mode()); err != nil {
		t.Fatalf("auto picked %s but its probe fails: %v", src.Mode(), err)
	}
	for _, m := range []string{ModeFentry, ModeKprobe} {
		if probeMode(kt, m) != nil {
			if s, err := Attach(AttachConfig{Mode: m}); err == nil {
				s.Close()
				t.Errorf("forced mode %s attached although its probe fails", m)
			}
		}
	}
	for _, w := range src.Warnings() {
		if strings.Contains(w, "\n") {
			t.Errorf("warning is not one line: %q", w)
		}
	}
	cnt, err := src.Counters()
	if err != nil || len(cnt) != len(layout.CounterNames) {
		t.Fatalf("Counters() = %v, %v", cnt, err)
	}
}

// TestPrivilegedNotRootError runs Attach again in a child process without
// privileges (uid nobody, no capabilities) and checks the error is the
// clear ErrPermission, not a bare EPERM from bpf().
func TestPrivilegedNotRootError(t *testing.T) {
	if os.Getenv("KEXECREC_ATTACH_CHILD") == "1" {
		_, err := Attach(AttachConfig{})
		if !errors.Is(err, ErrPermission) {
			t.Fatalf("unprivileged Attach = %v, want ErrPermission", err)
		}
		t.Logf("unprivileged Attach: %v", err)
		return
	}
	testenv.Root(t)
	setpriv := testenv.Tool(t, "setpriv")
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		os.Args[0], "-test.run=^TestPrivilegedNotRootError$", "-test.v")
	cmd.Env = append(os.Environ(), "KEXECREC_ATTACH_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestPrivilegedCloseDrainsRing: records still in the ring when Close is
// called are all handed out by Read before ErrClosed, and nothing is
// reported lost.
func TestPrivilegedCloseDrainsRing(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 5000}}, Seed: 15})
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	types := map[uint16]int{}
	for {
		b, err := src.Read()
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := layout.ParseHeader(b, binary.NativeEndian)
		if err != nil {
			t.Fatal(err)
		}
		types[h.Type]++
	}
	want := map[uint16]int{layout.RecCaller: 1, layout.RecArgs: 1, layout.RecEnter: 1, layout.RecSegments: 1, layout.RecPiece: 1,
		layout.RecPayloadEnd: 1, layout.RecExit: 1}
	if !maps.Equal(types, want) {
		t.Errorf("records read after Close %v, want %v", types, want)
	}
	if n := src.(*bpfSource).LostAtStop(); n != 0 {
		t.Errorf("LostAtStop() = %d after a full drain", n)
	}
	if c, err := src.Counters(); err != nil || c[0] != 1 {
		t.Errorf("Counters() after release = %v, %v; want calls = 1", c, err)
	}
}

// TestPrivilegedReleaseUnreadCountsLoss: when nobody drains the ring after
// Close, the fallback release reports the bytes it throws away.
func TestPrivilegedReleaseUnreadCountsLoss(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 5000}}, Seed: 16})
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	bs := src.(*bpfSource)
	bs.releaseUnread() // what the releaseTimeout timer does
	n := bs.LostAtStop()
	if n < 5000 {
		t.Errorf("LostAtStop() = %d, want at least the 5000 payload bytes left in the ring", n)
	}
	found := false
	for _, w := range src.Warnings() {
		found = found || strings.HasPrefix(w, fmt.Sprintf("lost_at_stop_bytes %d:", n))
	}
	if !found {
		t.Errorf("no lost_at_stop_bytes warning in %q", src.Warnings())
	}
	if _, err := src.Read(); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after release = %v, want ErrClosed", err)
	}
}
