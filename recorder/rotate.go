package recorder

import (
	"fmt"
	"time"

	"github.com/kexecrec/kexecrec/internal/content"
)

// maybeRotate starts the next part if no call is in flight. Calls that have
// been silent for StaleAfter (lost exits) do not hold it back forever.
func (r *Recorder) maybeRotate(now time.Time) error {
	if !r.cfg.Sink.Rotates() {
		r.rotateDue = false
		return nil
	}
	for _, cs := range r.calls {
		if now.Sub(cs.last) < r.cfg.StaleAfter {
			return nil // rotate when this call is done
		}
	}
	for _, cs := range r.calls {
		if err := r.abandon(cs, fmt.Sprintf("no exit seen for %s when the file rotated", r.cfg.StaleAfter)); err != nil {
			return err
		}
	}
	if err := r.closePart(); err != nil {
		return err
	}
	r.rotateDue = false
	return r.openPart(r.part + 1)
}

func (r *Recorder) openPart(part uint32) error {
	f, err := r.cfg.Sink.Create(part)
	if err != nil {
		// The previous part (if any) is closed: the error names the new
		// one (the sink's errors carry its name), not the old.
		r.file, r.w = nil, nil
		return err
	}
	h := r.cfg.Header
	h.FileID = [16]byte{}
	h.SetID = r.setID
	h.Part = part
	h.AttachMode = r.cfg.Source.Mode()
	if k, ok := r.cfg.Source.(KnownReturner); ok {
		h.KnownReturn, h.KnownReturnWhy = k.KnownReturn()
	}
	h.WallStart, h.BootStartNS = ClockPair()
	r.w = nil
	w, err := content.NewWriter(f.Writer(), h, content.Options{Format: r.cfg.Writer, ByteOrder: r.bo, OnRecord: r.recordWritten,
		// Live consumers have no blob to read the SHA-256 from.
		PayloadSHA256: r.cfg.OnRecord != nil})
	r.file, r.part, r.partStart = f, part, time.Now()
	r.files = append(r.files, f.Name())
	if err != nil {
		return err
	}
	r.w = w
	r.lastStats = time.Time{}
	if r.cfg.OnPart != nil {
		r.cfg.OnPart(w.Header(), f.Name())
	}
	// After OnPart: an upload marker of the new part exists before the
	// bound looks at the directory.
	if err := r.boundPartOpened(); err != nil {
		return err
	}
	for _, msg := range r.cfg.Source.Warnings() {
		if err := r.note("warn", msg); err != nil {
			return err
		}
	}
	if is, ok := r.cfg.Source.(infoSource); ok {
		for _, msg := range is.Infos() {
			if err := r.note("info", msg); err != nil {
				return err
			}
		}
	}
	if part > 0 {
		if err := r.note("info", fmt.Sprintf("part %d of a rotated set; the previous part is %s", part, r.files[len(r.files)-2])); err != nil {
			return err
		}
	}
	r.publish()
	return nil
}

// closePart writes the last stats and the trailer of the current part.
func (r *Recorder) closePart() error {
	if err := r.writeStats(time.Now()); err != nil {
		return err
	}
	if err := r.w.Close(); err != nil {
		return err
	}
	if err := r.file.Close(); err != nil {
		return err
	}
	if r.cfg.OnPartClosed != nil {
		r.cfg.OnPartClosed(r.file.Name())
	}
	return nil
}
