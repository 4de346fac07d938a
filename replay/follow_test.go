package replay

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/replay/synth"
)

// A reader following a file that a goroutine appends to with format.Writer
// sees every call, in order, and stops by itself at the trailer.
func TestFollowGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f, synth.Options{PayloadBytes: 100, DistinctPayloads: true})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 25
	step := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		// Write in bursts, each sealed, waiting for the reader in between so
		// the reader really is ahead of the writer at times.
		for i := range calls {
			if err := w.Call(); err != nil {
				werr <- err
				return
			}
			if i%5 == 4 {
				if err := w.Seal(); err != nil {
					werr <- err
					return
				}
				<-step
			}
		}
		werr <- w.Close()
	}()
	// Guard against a hang only (not a timing assertion).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Open(path, OpenOptions{Follow: true, Context: ctx, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []uint64
	err = c.Calls(func(call *Call) error {
		ids = append(ids, call.ID)
		if len(ids)%5 == 0 {
			step <- struct{}{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("follow did not stop at the trailer")
	}
	if e := <-werr; e != nil {
		t.Fatal(e)
	}
	if len(ids) != calls {
		t.Fatalf("%d calls, want %d", len(ids), calls)
	}
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("call %d has id %d", i, id)
		}
	}
	if st := c.Status(); !st.Clean {
		t.Errorf("trailer not seen: %+v", st)
	}
	if d, _ := c.Trouble(); len(d) != 0 {
		t.Errorf("damage: %v", d)
	}
}

// Cancelling a follow (SIGINT) ends it cleanly with what was sealed.
func TestFollowStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := synth.NewWriter(f, synth.Options{PayloadBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := w.Call(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Open(path, OpenOptions{Follow: true, Context: ctx, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	err = c.Calls(func(call *Call) error {
		n++
		if n == 3 {
			cancel() // like SIGINT once the user has seen enough
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("calls %d err %v", n, err)
	}
}
