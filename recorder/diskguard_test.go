package recorder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// TestDiskGuardHoldsBackPayloadsThenStops records onto a small tmpfs:
// below --min-free the payload bytes stop (marked disk-guard) while the
// calls are still recorded; below half of it the recording stops with a
// clean, readable file whose last note says why.
func TestDiskGuardHoldsBackPayloadsThenStops(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatalf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	path := filepath.Join(dir, "cap.kxr")
	const minFree = 4 << 20
	var warned []string
	src := NewFakeSource("raw", 64)
	rec := New(Config{Source: src, Sink: &FileSink{Base: path}, Header: HostHeader("test"),
		Guard: &DiskGuard{MinFree: minFree, Dir: dir, Warn: func(l string) { warned = append(warned, l) }}})
	type result struct {
		s   Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := rec.Run(context.Background())
		done <- result{s, err}
	}()
	// Six calls of 1 MiB of random bytes (nothing to compress) on 8 MiB:
	// the guard trips after about four.
	const calls = 6
	for id := uint64(1); id <= calls; id++ {
		for _, r := range (callSpec{id: id, payloads: [][]byte{randBytes(1 << 20)}}).records() {
			src.Push(r)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for rec.Progress().CallsCompleted < calls && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	free, err := freeBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free >= minFree {
		t.Fatalf("%d bytes free after %d MiB of calls: the guard cannot have tripped", free, calls)
	}
	// Leave 1 MiB: below half of --min-free.
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, free-(1<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the recording did not stop below half of --min-free")
	}
	var ge *DiskGuardError
	if !errors.As(res.err, &ge) || ge.MinFree != minFree || ge.Free >= minFree/2 || ge.File != path {
		t.Fatalf("err %v, want a DiskGuardError for %s", res.err, path)
	}
	if !strings.Contains(ge.Error(), "below half of --min-free 4194304: stopped") {
		t.Errorf("error %q", ge)
	}
	c := readCapture(t, path)
	if !c.status.Clean {
		t.Fatalf("file not closed cleanly: %+v", c.status)
	}
	_, exits := callIDs(t, c)
	if len(exits) != calls {
		t.Errorf("%d calls recorded, want all %d (call records continue under the guard)", len(exits), calls)
	}
	var complete, guarded int
	for _, p := range c.payloads(t) {
		switch {
		case p.Complete:
			if guarded > 0 {
				t.Errorf("call %d: complete after the guard tripped", p.CallID)
			}
			complete++
		case slices.Contains(p.Reasons, reasonDiskGuard) && p.Captured < p.Total:
			guarded++
		default:
			t.Errorf("call %d: incomplete without the disk guard: %+v", p.CallID, p)
		}
	}
	if complete == 0 || guarded == 0 || c.stats["payloads_disk_guard"] != uint64(guarded) {
		t.Errorf("%d payloads complete, %d cut by the guard, stats say %d", complete, guarded, c.stats["payloads_disk_guard"])
	}
	notes := c.notes()
	if len(notes) == 0 || !strings.Contains(notes[len(notes)-1], "below half of --min-free 4194304: recording stopped") {
		t.Errorf("last note %q, want the reason for the stop", notes)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "below --min-free 4194304: payload bytes are no longer written (marked disk-guard); calls are still recorded") {
		t.Errorf("warnings %q", warned)
	}
}
