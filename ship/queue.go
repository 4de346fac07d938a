package ship

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// PendingSuffix names the marker beside a part that is not uploaded yet.
const PendingSuffix = ".pending"

// Config is what a Shipper needs.
type Config struct {
	Client   *s3.Client
	Location Location
	// Retain locks each uploaded object for this long (0: no lock).
	Retain time.Duration
	// KeepLocal: at most this many parts stay on disk; older ones are
	// removed once (and only once) they are uploaded (0: keep all).
	KeepLocal int
	// Log gets one line per event worth telling (a failure, a recovery).
	Log func(string)
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 1 s and 5 min); it doubles from one to the other.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one upload (default 10 min).
	AttemptTimeout time.Duration
}

// Status says what was shipped by this run and what is waiting.
type Status struct {
	Shipped int    // parts uploaded by this run
	Pending int    // complete parts waiting for upload (earlier runs' included)
	Failing string // the last error while the store fails; "" once it works
}

type localPart struct {
	path     string
	sealed   bool // complete: may be uploaded
	uploaded bool
	stuck    bool // will not be retried (conflict, unreadable): stays pending
}

// Shipper uploads complete parts in the background, oldest first, one at a
// time. Its methods are safe to call from any goroutine; the recording
// goroutine only ever takes a mutex for a moment (Opened creates one empty
// file), never waits for the store.
type Shipper struct {
	cfg  Config
	up   uploader
	wake chan struct{}

	mu      sync.Mutex
	parts   []*localPart // on disk, oldest first
	shipped int
	failing string
}

func New(cfg Config) *Shipper {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	return &Shipper{cfg: cfg, up: uploader{client: cfg.Client, loc: cfg.Location, retain: cfg.Retain}, wake: make(chan struct{}, 1)}
}

// Recover takes in what earlier runs left in dir. Parts with a pending
// marker are queued for upload; such a part may have been cut by a crash:
// it is valid up to its last sealed chunk and is uploaded as it is. Parts
// marked shipped count against KeepLocal like this run's, so a restarted
// recorder keeps the disk bounded across sets. It returns how many parts
// are queued.
func (s *Shipper) Recover(dir string) (int, error) {
	type found struct {
		path    string
		mod     time.Time
		shipped bool
	}
	var parts []found
	for _, suffix := range []string{PendingSuffix, ShippedSuffix} {
		markers, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
		if err != nil {
			return 0, err
		}
		for _, m := range markers {
			part := strings.TrimSuffix(m, suffix)
			fi, err := os.Lstat(part)
			if errors.Is(err, fs.ErrNotExist) {
				os.Remove(m) // the part is gone: nothing to ship or keep
				continue
			}
			if err != nil || !fi.Mode().IsRegular() {
				s.cfg.Log(fmt.Sprintf("%s: not a regular file, left alone", part))
				continue
			}
			if suffix == ShippedSuffix && slices.ContainsFunc(parts, func(f found) bool { return f.path == part }) {
				continue // pending too: an upload was cut short; pending wins
			}
			parts = append(parts, found{part, fi.ModTime(), suffix == ShippedSuffix})
		}
	}
	// Oldest first (by modification time: names do not sort by age,
	// kexec.kxr.10 < kexec.kxr.2), so that eviction takes the oldest.
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].mod.Before(parts[j].mod) })
	n := 0
	for _, p := range parts {
		s.add(&localPart{path: p.path, sealed: true, uploaded: p.shipped})
		if !p.shipped {
			n++
		}
	}
	s.poke()
	return n, nil
}

// Opened marks a part being written as pending, before any of it can be
// lost to a crash.
func (s *Shipper) Opened(path string) error {
	f, err := os.OpenFile(path+PendingSuffix, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("marking %s for upload: %w", path, err)
	}
	f.Close()
	s.add(&localPart{path: path})
	return nil
}

// Sealed says a part is complete: it is uploaded as soon as the store lets.
func (s *Shipper) Sealed(path string) {
	s.mu.Lock()
	for _, p := range s.parts {
		if p.path == path {
			p.sealed = true
		}
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Shipper) add(p *localPart) {
	s.mu.Lock()
	s.parts = append(s.parts, p)
	s.mu.Unlock()
	s.evict()
}

func (s *Shipper) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Status is safe to call at any time.
func (s *Shipper) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Shipped: s.shipped, Failing: s.failing}
	for _, p := range s.parts {
		if p.sealed && !p.uploaded {
			st.Pending++
		}
	}
	return st
}

// next is the oldest complete part not uploaded yet.
func (s *Shipper) next() *localPart {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.parts {
		if p.sealed && !p.uploaded && !p.stuck {
			return p
		}
	}
	return nil
}

// Run uploads until ctx is done. With drain set it returns as soon as
// nothing is left to upload (the recording has stopped).
func (s *Shipper) Run(ctx context.Context, drain bool) {
	backoff := s.cfg.MinBackoff
	for ctx.Err() == nil {
		p := s.next()
		if p == nil {
			if drain {
				return
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
			}
			continue
		}
		err := s.ship(ctx, p)
		switch {
		case err == nil:
			backoff = s.cfg.MinBackoff
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrConflict) || errors.Is(err, errUnreadable):
			s.cfg.Log(fmt.Sprintf("upload of %s: %v; it stays local and pending", p.path, err))
			s.mu.Lock()
			p.stuck = true
			s.mu.Unlock()
			continue
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: a fleet does not retry in step
		s.mu.Lock()
		msg := oneLine(err)
		changed := msg != s.failing
		s.failing = msg
		s.mu.Unlock()
		if changed {
			s.cfg.Log(fmt.Sprintf("upload to %s failing: %s; parts stay queued locally, retrying with backoff", s.cfg.Location, msg))
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

var errUnreadable = errors.New("cannot read the part")

func (s *Shipper) ship(ctx context.Context, p *localPart) error {
	info, err := s.up.inspect(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.forget(p) // removed by hand: nothing to ship
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUnreadable, err)
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	if err := s.up.upload(actx, p.path, info); err != nil {
		return err
	}
	// Confirmed: only now may the pending marker and (by evict) the part go.
	url := "s3://" + s.cfg.Location.Bucket + "/" + info.key
	if err := os.WriteFile(p.path+ShippedSuffix, []byte(url+"\n"), 0o600); err != nil {
		s.cfg.Log(fmt.Sprintf("uploaded %s to %s but cannot note it: %v", p.path, url, err))
	}
	if err := os.Remove(p.path + PendingSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.cfg.Log(fmt.Sprintf("uploaded %s but cannot remove its marker: %v (a restart uploads nothing twice: it finds the object)", p.path, err))
	}
	s.mu.Lock()
	p.uploaded = true
	s.shipped++
	recovered := s.failing != ""
	s.failing = ""
	s.mu.Unlock()
	if recovered {
		s.cfg.Log(fmt.Sprintf("upload to %s works again", s.cfg.Location))
	}
	s.evict()
	return nil
}

func (s *Shipper) forget(p *localPart) {
	os.Remove(p.path + PendingSuffix)
	s.mu.Lock()
	s.parts = removePart(s.parts, p)
	s.mu.Unlock()
}

// evict removes uploaded parts, oldest first, while more than KeepLocal
// parts are on disk. A part not uploaded is never removed: while the store
// is down, parts pile up beyond KeepLocal (the disk is the limit).
func (s *Shipper) evict() {
	if s.cfg.KeepLocal <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.parts) > s.cfg.KeepLocal {
		var victim *localPart
		for _, p := range s.parts {
			if p.uploaded {
				victim = p
				break
			}
		}
		if victim == nil {
			return
		}
		if err := os.Remove(victim.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.cfg.Log(fmt.Sprintf("removing uploaded part %s: %v", victim.path, err))
		}
		os.Remove(victim.path + ShippedSuffix)
		s.parts = removePart(s.parts, victim)
	}
}

func removePart(parts []*localPart, p *localPart) []*localPart {
	for i, q := range parts {
		if q == p {
			return append(parts[:i], parts[i+1:]...)
		}
	}
	return parts
}
