package recorder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TotalBound is record --max-total: it bounds the total size of the capture
// parts in the output directory that the recorder's -o pattern names (this
// set and earlier ones, e.g. every {start} set a restarting service left).
// The oldest parts go first, never the part being written. A part that may
// not go (Removable says no: with --upload, not shipped yet) stays: the
// bound then says it is exceeded (a warning, a note, over_max_total) and
// recording goes on.
type TotalBound struct {
	// Pattern is the -o name as given, before ExpandOutputName.
	Pattern string
	// Max is the bound in bytes.
	Max int64
	// Reserve is room kept for the part being written when it is opened
	// (the rotation size): the bound holds while it grows up to there.
	Reserve int64
	// KeepEvidence: parts holding a call that may come from a privileged
	// caller (see holdsEvidence) are removed only after parts holding none.
	KeepEvidence bool
	// Removable says whether a part may be removed (nil: every part).
	Removable func(path string) bool
	// Removed is called after a part was removed (to drop files kept
	// beside it, such as upload markers).
	Removed func(path string)
	// Warn gets a one-line warning when the bound is exceeded and nothing
	// may be removed (once each time it goes from within to over).
	Warn func(line string)
}

// closeRoom is what closing a part still writes after the last call (a
// STATS chunk and the trailer, well under this): the bound counts it so
// that it holds after the close too.
const closeRoom = 16 << 10

// boundRecheck is how often a bound that cannot be met is looked at again
// (an upload may have made a part removable).
const boundRecheck = time.Second

type boundState struct {
	cfg   TotalBound
	match *regexp.Regexp // a part's base name

	older    int64           // bytes of the other parts at the last scan
	stuck    bool            // the last scan could not meet the bound
	lastScan time.Time       // of that scan
	over     int64           // bytes over Max at the last check (0: within)
	warned   bool            // the excess since it began was said
	removed  uint64          // parts removed by the bound in this run
	scans    *evidenceScans  // earlier runs' parts -> holds evidence
	ownParts map[string]bool // this run's parts -> holds evidence
	curName  string          // the part being written (absolute)
	failed   map[string]bool // parts whose removal failed
	// listFailed: the directory could not be listed (said once).
	listFailed bool
}

// boundPart is one part on disk other than the one being written.
type boundPart struct {
	path  string
	size  int64
	mtime time.Time
}

func newBoundState(cfg TotalBound) *boundState {
	return &boundState{cfg: cfg, match: partPattern(filepath.Base(cfg.Pattern)),
		scans: newEvidenceScans(), ownParts: map[string]bool{}, failed: map[string]bool{}}
}

// partPattern matches the base names of the parts of every set name can
// produce: each StartPlaceholder a start time, then an optional ".N".
func partPattern(name string) *regexp.Regexp {
	pieces := strings.Split(name, StartPlaceholder)
	for i, p := range pieces {
		pieces[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(pieces, `[0-9]{8}T[0-9]{6}Z`) + `(\.[1-9][0-9]{0,9})?$`)
}

// list returns the parts beside current, oldest first (by modification
// time: a set's parts are written one after the other, sets one after the
// other; names do not sort by age, x.10 < x.2).
func (b *boundState) list(current string) ([]boundPart, error) {
	dir := filepath.Dir(current)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var parts []boundPart
	for _, e := range entries {
		if !e.Type().IsRegular() || !b.match.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if path == current {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		parts = append(parts, boundPart{path, fi.Size(), fi.ModTime()})
	}
	sort.Slice(parts, func(i, j int) bool {
		if !parts[i].mtime.Equal(parts[j].mtime) {
			return parts[i].mtime.Before(parts[j].mtime)
		}
		return parts[i].path < parts[j].path
	})
	return parts, nil
}

// holds says whether a part holds a call that may come from a privileged
// caller: this run's parts are known; earlier ones are read once, in the
// background (scanAhead), and a removal waits for an answer not there yet.
func (b *boundState) holds(p boundPart) bool {
	if h, ok := b.ownParts[p.path]; ok {
		return h
	}
	return b.scans.holds(p)
}

// scanAhead queues the earlier runs' parts for their evidence scan, oldest
// first, so that the answers are there before a removal asks. It is called
// once the bound is within a part of being reached: far from it, earlier
// parts are not read at all.
func (b *boundState) scanAhead(parts []boundPart) {
	if !b.cfg.KeepEvidence {
		return
	}
	for _, p := range parts {
		if _, own := b.ownParts[p.path]; !own {
			b.scans.ask(p)
		}
	}
}

// pick chooses the next part to remove: the oldest removable one, with
// KeepEvidence the oldest holding no evidence first. It returns -1 when
// none may go.
func (b *boundState) pick(parts []boundPart, skip map[string]bool) (int, string) {
	first := -1
	for i, p := range parts {
		if skip[p.path] || b.cfg.Removable != nil && !b.cfg.Removable(p.path) {
			continue
		}
		if !b.cfg.KeepEvidence {
			return i, "oldest"
		}
		if first < 0 {
			first = i
		}
		if !b.holds(p) {
			return i, "oldest without a privileged caller's call"
		}
	}
	if first < 0 {
		return -1, ""
	}
	return first, "holds a privileged caller's call, but no part without one was left to remove"
}

// enforceBound removes parts until the pattern's parts, the current one
// counted at least reserve bytes, fit in Max; it notes what it removed and
// warns when the bound cannot be met.
func (r *Recorder) enforceBound(reserve int64) error {
	b := r.bound
	parts, err := b.list(b.curName)
	if err != nil {
		b.stuck, b.lastScan = true, time.Now()
		if b.listFailed {
			return nil
		}
		b.listFailed = true
		return r.note("warn", fmt.Sprintf("--max-total: cannot list the capture directory: %v", err))
	}
	b.listFailed = false
	var older int64
	for _, p := range parts {
		older += p.size
	}
	written := r.w.Written()
	if older+max(written, reserve)+b.cfg.Reserve+closeRoom > b.cfg.Max {
		// This enforcement or the next part's may remove parts: their
		// answers are worked out now, a part's time ahead of the next.
		b.scanAhead(parts)
	}
	var removed []string
	for older+max(written, reserve)+closeRoom > b.cfg.Max {
		i, why := b.pick(parts, b.failed)
		if i < 0 {
			break
		}
		p := parts[i]
		if err := unix.Unlink(p.path); err != nil && !errors.Is(err, unix.ENOENT) {
			b.failed[p.path] = true // said once, not tried again
			removed = append(removed, fmt.Sprintf("could not remove %s for --max-total %d: %v", filepath.Base(p.path), b.cfg.Max, err))
			continue
		}
		if b.cfg.Removed != nil {
			b.cfg.Removed(p.path)
		}
		b.scans.forget(p.path)
		delete(b.ownParts, p.path)
		older -= p.size
		b.removed++
		parts = append(parts[:i], parts[i+1:]...)
		removed = append(removed, fmt.Sprintf("removed %s by --max-total %d (%s)", filepath.Base(p.path), b.cfg.Max, why))
	}
	b.older = older
	b.stuck = older+max(written, reserve)+closeRoom > b.cfg.Max
	b.lastScan = time.Now()
	// One note per part, its name first: summarize's table shows the start
	// of each note. A warning: evidence went. (summarize shows the notes at
	// the start of a part with its header, later ones among the warnings.)
	for _, msg := range removed {
		if err := r.note("warn", msg); err != nil {
			return err
		}
	}
	return r.setOver(older + written - b.cfg.Max)
}

// setOver records by how much the parts exceed the bound, and says it once
// each time the excess begins.
func (r *Recorder) setOver(over int64) error {
	b := r.bound
	b.over = max(over, 0)
	if b.over == 0 {
		b.warned = false
		return nil
	}
	if b.warned {
		return nil
	}
	b.warned = true
	msg := fmt.Sprintf("--max-total %d bytes exceeded by %d bytes: the parts left may not be removed (not uploaded yet, or the part being written); recording goes on, the disk is at risk",
		b.cfg.Max, b.over)
	if b.cfg.Warn != nil {
		b.cfg.Warn(msg)
	}
	return r.note("warn", msg)
}

// checkBound runs after every call and on every tick: a cheap sum while
// within the bound, a new look at the directory when the part being
// written crosses it. (A single call larger than the room left can cross
// it while it is being written.)
func (r *Recorder) checkBound(now time.Time) error {
	b := r.bound
	if b == nil || r.w == nil {
		return nil
	}
	written := r.w.Written()
	if b.older+written+closeRoom <= b.cfg.Max {
		return r.setOver(0)
	}
	if b.stuck && now.Sub(b.lastScan) < boundRecheck {
		return r.setOver(b.older + written - b.cfg.Max)
	}
	return r.enforceBound(0)
}

// partOpened starts tracking the evidence of a new part, and makes room
// for it.
func (r *Recorder) boundPartOpened() error {
	b := r.bound
	if b == nil {
		return nil
	}
	name := filepath.Clean(r.file.Name())
	if abs, err := filepath.Abs(name); err == nil {
		name = abs
	}
	b.ownParts[name] = false
	b.curName = name
	return r.enforceBound(b.cfg.Reserve)
}

// sawEvidence marks the part being written as holding a call that may come
// from a privileged caller.
func (r *Recorder) sawEvidence() {
	if b := r.bound; b != nil && b.curName != "" {
		b.ownParts[b.curName] = true
	}
}
