package recorder

import (
	"fmt"
	"time"
)

// call returns the state of a call, creating it on its first record.
func (r *Recorder) call(id uint64) (*callState, error) {
	now := time.Now()
	if cs := r.calls[id]; cs != nil {
		cs.last = now
		return cs, nil
	}
	if len(r.calls) >= maxOpenCalls {
		// Exits are being lost: give up on the quietest call.
		var oldest *callState
		for _, c := range r.calls {
			if oldest == nil || c.last.Before(oldest.last) {
				oldest = c
			}
		}
		if err := r.abandon(oldest, "too many calls without an exit"); err != nil {
			return nil, err
		}
	}
	cs := &callState{id: id, last: now, payloads: make(map[payloadKey]*assembly)}
	r.calls[id] = cs
	return cs, nil
}

// closePayloads writes a "lost-end" RecPayload for every open payload of cs
// (and stores entry records still held because the ENTER was lost).
func (r *Recorder) closePayloads(cs *callState) error {
	if _, err := r.flushEarly(cs); err != nil {
		return err
	}
	for _, k := range sortedKeys(cs.payloads) {
		p, err := cs.payloads[k].finishLost(reasonLostEnd)
		if err != nil {
			return err
		}
		delete(cs.payloads, k)
		r.nOpen--
		r.countPayload(p)
	}
	return nil
}

// evictPayload gives up the least recently fed payload to bound memory: what
// it received is kept (reason "recorder-limit", the rest Missing), its
// later pieces are discarded and counted.
func (r *Recorder) evictPayload() error {
	var victim *assembly
	var owner *callState
	for _, cs := range r.calls {
		for _, a := range cs.payloads {
			if victim == nil || a.lastUse < victim.lastUse {
				victim, owner = a, cs
			}
		}
	}
	if victim == nil {
		return nil
	}
	victim.cut() // counted with the payloads cut at a size limit
	if err := r.note("warn", fmt.Sprintf("call %d: more than %d payloads in flight: payload kind %d index %d given up at %d bytes",
		victim.key.callID, maxOpenPayloads, victim.key.kind, victim.key.index, victim.next)); err != nil {
		return err
	}
	p, err := victim.finishLost(reasonLimit)
	if err != nil {
		return err
	}
	r.countPayload(p)
	delete(owner.payloads, victim.key)
	r.nOpen--
	if len(r.evicted) >= maxEvicted {
		clear(r.evicted)
	}
	r.evicted[victim.key] = true
	return nil
}

// abandon stops tracking a call whose exit has not come, keeping what it sent.
func (r *Recorder) abandon(cs *callState, why string) error {
	if err := r.closePayloads(cs); err != nil {
		return err
	}
	delete(r.calls, cs.id)
	r.abandoned++
	if cs.entered {
		r.sawEvidence() // its result is unknown: it may have come from a privileged caller
	}
	return r.note("warn", fmt.Sprintf("call %d: %s; its later records (if any) stand alone", cs.id, why))
}
