package recorder

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// handle files one raw record from the ring. Malformed records are counted
// and noted, payloads over a recorder limit are cut and noted: neither is
// fatal (anyone can make a kexec call the recorder sees). Only write errors
// are returned.
func (r *Recorder) handle(rec []byte) error {
	r.ringRecords++
	h, err := layout.ParseHeader(rec, r.bo)
	if err != nil {
		return r.bad(fmt.Sprintf("ring record %d: %v", r.ringRecords, err))
	}
	raw := rec[:h.Size] // trimmed to its own size, stored as BPF emitted it
	cs, err := r.call(h.CallID)
	if err != nil {
		return err
	}
	switch h.Type {
	case layout.RecPiece:
		p, err := layout.ParsePiece(raw, r.bo)
		if err != nil {
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		key := payloadKey{h.CallID, p.Kind, p.Index, p.Source}
		if r.evicted[key] {
			r.asm.discarded++
			return nil
		}
		a := cs.payloads[key]
		if a == nil {
			if r.nOpen >= maxOpenPayloads {
				if err := r.evictPayload(); err != nil {
					return err
				}
			}
			a = r.newAssembly(key)
			cs.payloads[key] = a
			r.nOpen++
		}
		r.useSeq++
		a.lastUse = r.useSeq
		if r.guarding() {
			a.guardCut()
		}
		wasLimited := a.limited
		if err := a.add(p); err != nil {
			var bp *errBadPiece
			if errors.As(err, &bp) {
				return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
			}
			return err
		}
		if !wasLimited && a.limited && a.cutReason == reasonLimit {
			if err := r.noteLimited(a, p.Offset); err != nil {
				return err
			}
		}
		r.pieces++
		if p.ReadErr == 0 {
			r.payloadBytes += uint64(p.Len)
		}
		return r.checkGuard(false)

	case layout.RecEnter:
		if err := r.w.WriteRaw(raw); err != nil {
			return err
		}
		e, err := layout.ParseEnter(raw, r.bo)
		if err != nil {
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		r.callsSeen++
		return r.enterCaller(cs, e.PID)

	case layout.RecCaller, layout.RecArgs:
		return r.holdEarly(cs, raw)

	case layout.RecPayloadEnd:
		end, err := layout.ParsePayloadEnd(raw, r.bo)
		if err != nil {
			if err := r.w.WriteRaw(raw); err != nil {
				return err
			}
			return r.bad(fmt.Sprintf("call %d: %v", h.CallID, err))
		}
		if end.Flags&layout.PFPolicy != 0 {
			cs.policyCut = true
		}
		key := payloadKey{h.CallID, end.Kind, end.Index, end.Source}
		if r.evicted[key] { // its RecPayload was written when it was given up
			delete(r.evicted, key)
			return r.w.WriteRaw(raw)
		}
		a := cs.payloads[key]
		if a == nil { // no piece arrived: --no-payload, empty, or all dropped
			a = r.newAssembly(key)
		} else {
			delete(cs.payloads, key)
			r.nOpen--
		}
		// The blob, this END record, then the payload's PAYLOAD record.
		p, err := a.finish(raw, end, r.cfg.Snaplen)
		if err != nil {
			return err
		}
		r.countPayload(p)
		return nil

	case layout.RecExit:
		// Everything of a call precedes its exit: payloads whose END was
		// lost are closed first.
		if err := r.closePayloads(cs); err != nil {
			return err
		}
		if err := r.w.WriteRaw(raw); err != nil {
			return err
		}
		// A call the kernel did not refuse for lack of CAP_SYS_BOOT, unless
		// BPF's policy cut its payload: then the caller failed that test
		// (a kernel without kexec answers ENOSYS to everyone).
		if x, err := layout.ParseExit(raw, r.bo); err != nil || x.Ret != -int64(unix.EPERM) && !cs.policyCut {
			r.sawEvidence()
		}
		delete(r.calls, cs.id)
		r.completed++
		// kexec calls are rare and each one matters: seal it now rather
		// than up to SealInterval later, so a crash right after a call
		// cannot lose it.
		if err := r.w.Seal(); err != nil {
			return err
		}
		r.publish()
		if r.cfg.Rotate.Size > 0 && r.w.Written() >= r.cfg.Rotate.Size {
			r.rotateDue = true
		}
		if r.rotateDue {
			return r.maybeRotate(time.Now())
		}
		return r.checkBound(time.Now())

	case layout.RecSegments, layout.RecFile:
		return r.w.WriteRaw(raw)

	default:
		if h.Type >= layout.RecPayload {
			return r.bad(fmt.Sprintf("call %d: BPF record with user-space type %d", h.CallID, h.Type))
		}
		// A type from a newer BPF object: keep it, a newer reader may know it.
		return r.w.WriteRaw(raw)
	}
}

func (r *Recorder) newAssembly(key payloadKey) *assembly {
	return &assembly{key: key, blob: r.w.NewPayload(), st: &r.asm, maxStored: r.maxStored}
}

// noteLimited says in the capture that a payload was cut at a recorder
// limit when a piece (or the end) reached offset upTo.
func (r *Recorder) noteLimited(a *assembly, upTo uint64) error {
	return r.note("warn", fmt.Sprintf("call %d: payload kind %d index %d cut at %d bytes (recorder limit: zero fill over %d bytes, "+
		"blob over %d bytes or over %d holes, reached at offset %d); the rest is missing as \"recorder-limit\"",
		a.key.callID, a.key.kind, a.key.index, a.next, uint64(maxZeroFill), a.maxStored, maxHoles, upTo))
}

// countPayload counts a payload whose PAYLOAD record was written.
func (r *Recorder) countPayload(p layout.Payload) {
	r.payloads++
	if !p.Complete {
		r.incomplete++
	}
}

// recordWritten sees every record the capture writer writes.
func (r *Recorder) recordWritten(rec format.Record) {
	r.recordsOut++
	if r.cfg.OnRecord != nil {
		r.cfg.OnRecord(rec)
	}
}

func (r *Recorder) note(level, msg string) error {
	return r.w.WriteNote(level, msg)
}

// bad counts a malformed record and describes the first few in notes.
func (r *Recorder) bad(msg string) error {
	r.badRecords++
	if r.badRecords > maxBadNotes {
		return nil
	}
	if r.badRecords == maxBadNotes {
		msg += " (further malformed records are only counted in bad_records)"
	}
	return r.note("warn", "malformed record skipped: "+msg)
}
