package recorder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"syscall"
	"time"
)

type ringItem struct {
	rec []byte
	err error
}

// Run records until ctx is done, the source fails, Count calls completed or a
// write fails. It always closes the source, and on a clean stop leaves every
// part with a trailer. A full disk returns a *DiskFullError.
func (r *Recorder) Run(ctx context.Context) (Summary, error) {
	src := r.cfg.Source
	if r.bound != nil {
		defer r.bound.scans.close() // the evidence scans of earlier parts end with the run
	}
	if _, err := rand.Read(r.setID[:]); err != nil {
		src.Close()
		return Summary{}, err
	}
	if err := r.openPart(0); err != nil {
		src.Close()
		return r.summary(), r.writeFailed(err)
	}

	// One goroutine blocks in Read; this one owns the Writer, so sealing,
	// stats and rotation happen on the same goroutine as record handling.
	items := make(chan ringItem, 8)
	done := make(chan struct{})
	go func() {
		for {
			rec, err := src.Read()
			select {
			case items <- ringItem{rec, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer close(done)

	recycle := func([]byte) {}
	if rc, ok := src.(Recycler); ok {
		recycle = rc.Recycle
	}
	closing := false
	stop := func() {
		if !closing {
			closing = true
			src.Close()
		}
	}
	defer stop()

	ticker := time.NewTicker(r.cfg.TickInterval)
	defer ticker.Stop()
	ctxDone := ctx.Done()
	// Stopping drains first: records already in the ring (a call that just
	// returned) are read until the ring has been quiet for drainQuiet, at
	// most drainMax, and only then is the source closed.
	var quiet <-chan time.Time
	var quietTimer *time.Timer
	var drainEnd time.Time
	var readErr, writeErr error
loop:
	for {
		select {
		case <-quiet:
			quiet = nil
			stop()
		case it := <-items:
			if quiet != nil {
				if time.Now().After(drainEnd) {
					quiet = nil
					stop()
				} else {
					quietTimer.Reset(drainQuiet)
				}
			}
			if it.err != nil {
				if !errors.Is(it.err, ErrClosed) {
					readErr = fmt.Errorf("reading the ring buffer: %w", it.err)
				}
				break loop
			}
			if r.countReached() {
				recycle(it.rec)
				continue // draining after --count: the rest is not wanted
			}
			err := r.handle(it.rec)
			recycle(it.rec) // handle copied what it keeps
			if err != nil {
				writeErr = err
				break loop
			}
			if r.countReached() {
				stop()
			}
		case <-ticker.C:
			if err := r.tick(time.Now()); err != nil {
				writeErr = err
				break loop
			}
		case <-ctxDone:
			ctxDone = nil
			quietTimer = time.NewTimer(drainQuiet)
			defer quietTimer.Stop()
			quiet, drainEnd = quietTimer.C, time.Now().Add(drainMax)
		}
	}
	stop()
	var guardErr *DiskGuardError
	if errors.As(writeErr, &guardErr) {
		// The guard stops with room left: the part gets its trailer.
		if err := r.finishRun(); err != nil {
			return r.summary(), r.writeFailed(err)
		}
		return r.summary(), guardErr
	}
	if writeErr == nil {
		writeErr = r.finishRun()
	}
	if writeErr != nil {
		return r.summary(), r.writeFailed(writeErr)
	}
	return r.summary(), readErr
}

func (r *Recorder) countReached() bool {
	return r.cfg.Count > 0 && r.completed >= r.cfg.Count
}

// tick seals what is due, refreshes counters, writes periodic stats and
// rotates when it is time.
func (r *Recorder) tick(now time.Time) error {
	if err := r.w.Tick(); err != nil {
		return err
	}
	if now.Sub(r.lastCounters) >= time.Second {
		r.readCounters(now)
	}
	if now.Sub(r.lastStats) >= r.cfg.StatsInterval {
		if err := r.writeStats(now); err != nil {
			return err
		}
	}
	if r.cfg.Rotate.Every > 0 && now.Sub(r.partStart) >= r.cfg.Rotate.Every ||
		r.cfg.Rotate.Size > 0 && r.w.Written() >= r.cfg.Rotate.Size {
		r.rotateDue = true
	}
	if r.rotateDue {
		if err := r.maybeRotate(now); err != nil {
			return err
		}
	}
	if err := r.checkBound(now); err != nil {
		return err
	}
	if err := r.checkGuard(true); err != nil {
		return err
	}
	r.publish()
	return nil
}

// finishRun ends a clean stop: calls still in flight keep what they sent
// (their payloads marked lost-end), then stats and trailer.
func (r *Recorder) finishRun() error {
	if n := len(r.calls); n > 0 {
		if err := r.note("info", fmt.Sprintf("recording stopped with %d call(s) unfinished", n)); err != nil {
			return err
		}
		ids := make([]uint64, 0, n)
		for id := range r.calls {
			ids = append(ids, id)
		}
		for _, id := range ids {
			if r.calls[id].entered {
				r.sawEvidence() // its result is unknown
			}
			if err := r.closePayloads(r.calls[id]); err != nil {
				return err
			}
		}
	}
	err := r.closePart()
	r.publish()
	return err
}

// writeFailed turns a write error into what the caller reports. On a full
// disk the half-written chunk is cut off so the file ends on a sealed one.
func (r *Recorder) writeFailed(err error) error {
	if r.file == nil {
		return err
	}
	name := r.file.Name()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		var kept int64
		if r.w != nil {
			kept = r.w.Written()
			r.file.TruncateTo(kept)
		}
		r.file.Close()
		return &DiskFullError{File: name, Kept: kept, Err: err}
	}
	r.file.Close()
	return fmt.Errorf("writing %s: %w", name, err)
}
