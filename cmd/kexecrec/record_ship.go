package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/ship"
)

// shipDrainTimeout bounds how long a stopping recorder keeps uploading what
// is queued (the systemd unit gives it 30 s to stop); what is left stays
// pending for the next start.
var shipDrainTimeout = 15 * time.Second

// shipBackoff is the shortest wait after a failed upload (tests shorten it).
var shipBackoff = time.Second

// shipping is record --upload: a Shipper and its background goroutine.
type shipping struct {
	sh     *ship.Shipper
	loc    ship.Location
	errOut io.Writer
	cancel context.CancelFunc
	done   chan struct{}
}

// backgroundLogMu serializes the lines the shipping and alert goroutines
// write to stderr while the recording runs.
var backgroundLogMu sync.Mutex

// setUpShipping checks --upload before anything is attached: a bad URL, no
// credentials or credentials the store refuses are one-line errors; a store
// that does not answer is only a warning (parts queue until it does). It
// queues the parts earlier runs left unsent beside the output.
func (o *recordOptions) setUpShipping(ctx context.Context, errOut io.Writer) (*shipping, error) {
	if o.Upload == "" {
		if o.UploadRetain != "" {
			return nil, errors.New("--upload-retain needs --upload")
		}
		return nil, nil
	}
	if o.Output == "-" {
		return nil, errors.New("--upload needs -o FILE: parts are uploaded from disk")
	}
	loc, err := ship.ParseLocation(o.Upload)
	if err != nil {
		return nil, fmt.Errorf("--upload: %v", err)
	}
	var retain time.Duration
	if o.UploadRetain != "" {
		if retain, err = ship.ParseRetention(o.UploadRetain); err != nil {
			return nil, fmt.Errorf("--upload-retain: %v", err)
		}
	}
	client, err := ship.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("--upload %s: %v", loc, err)
	}
	var access *ship.AccessError
	switch err := ship.CheckBucket(ctx, client, loc.Bucket); {
	case errors.As(err, &access):
		return nil, fmt.Errorf("--upload %s: %v", loc, access)
	case err != nil:
		fmt.Fprintf(errOut, "kexecrec: warning: --upload %s: store not reachable (%v); recording anyway, parts queue locally\n", loc, err)
	}
	s := &shipping{loc: loc, errOut: errOut, done: make(chan struct{})}
	s.sh = ship.New(ship.Config{Client: client, Location: loc, Retain: retain, KeepLocal: o.MaxFiles,
		Log: s.log, MinBackoff: shipBackoff})
	n, err := s.sh.Recover(filepath.Dir(o.Output))
	if err != nil {
		return nil, fmt.Errorf("--upload: looking for unsent parts: %v", err)
	}
	if n > 0 {
		fmt.Fprintf(errOut, "kexecrec: %d part(s) left unsent by an earlier run queued for upload\n", n)
	}
	return s, nil
}

// sinkMaxFiles is the FileSink's own retention: with --upload the shipper
// removes old parts instead, and only once they are uploaded.
func (o *recordOptions) sinkMaxFiles() int {
	if o.Upload != "" {
		return 0
	}
	return o.MaxFiles
}

func (s *shipping) log(line string) {
	backgroundLogMu.Lock()
	defer backgroundLogMu.Unlock()
	fmt.Fprintf(s.errOut, "kexecrec: %s\n", line)
}

// hook makes every part pending when opened and ready when complete.
func (s *shipping) hook(cfg *recorder.Config) {
	prev := cfg.OnPart
	cfg.OnPart = func(h format.Header, name string) {
		if err := s.sh.Opened(name); err != nil {
			s.log("warning: " + err.Error())
		}
		if prev != nil {
			prev(h, name)
		}
	}
	cfg.OnPartClosed = s.sh.Sealed
}

func (s *shipping) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.sh.Run(ctx, false)
	}()
}

// finish stops the background uploads and ships what is queued, for at
// most shipDrainTimeout, then says what was shipped and what is pending.
func (s *shipping) finish() {
	s.cancel()
	<-s.done
	if n := s.sh.Status().Pending; n > 0 {
		fmt.Fprintf(s.errOut, "kexecrec: uploading %d pending part(s) to %s (at most %s; what is left is uploaded by the next start)\n", n, s.loc, shipDrainTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shipDrainTimeout)
	defer cancel()
	s.sh.Run(ctx, true)
	st := s.sh.Status()
	fmt.Fprintf(s.errOut, "kexecrec: shipped %d part(s) to %s, %d pending\n", st.Shipped, s.loc, st.Pending)
}

// statusText is the shipping part of the live status line.
func (s *shipping) statusText() string {
	st := s.sh.Status()
	if st.Failing != "" {
		return fmt.Sprintf("  shipped %d pending %d (store failing)", st.Shipped, st.Pending)
	}
	return fmt.Sprintf("  shipped %d pending %d", st.Shipped, st.Pending)
}
