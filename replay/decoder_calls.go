package replay

import (
	"fmt"
	"sort"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// A call's life in the decoder: opened by its entry record, given its
// payloads, finished by its exit (or given up), and its memory reused.

type callState struct {
	seq  uint64
	call *Call
	// box holds the call and the values its pointer fields point at.
	box  *callBox
	full bool // tooMany said so
	// ends: BPF's accounting per payload, to notice payloads never assembled.
	ends []endEntry
	// payloads by key, to link segments and files.
	payloads []payEntry
}

// openRef names an opened call; seq tells it from a later call with the
// same id (or a later call in the same, reused, memory).
type openRef struct {
	id, seq uint64
}

// isOpen reports whether the call r names is still open.
func (d *Decoder) isOpen(r openRef) (*callState, bool) {
	cs, ok := d.open[r.id]
	return cs, ok && cs.seq == r.seq
}

// callBox is one call's memory: the state, the call and the targets of its
// optional (pointer) fields, in one allocation instead of a dozen; on large
// captures allocation and garbage collection were most of the decoding time.
type callBox struct {
	state callState
	call  Call
	u64   [4]uint64
	i32   [2]int32
	ret   int64
	// Room for the usual number of segments and payloads (kexec-tools
	// passes 3 to 6 segments); more spill to the heap.
	segs [8]Segment
	pays [8]*Payload
	pay  [8]Payload
	npay int
	ends [8]endEntry
	keys [8]payEntry
}

// newPayload returns room for one more payload of the call.
func (b *callBox) newPayload() *Payload {
	if b.npay < len(b.pay) {
		b.npay++
		return &b.pay[b.npay-1]
	}
	return new(Payload)
}

// Release gives a call's memory back for reuse by later calls: the caller
// must not touch the call (or its segments and payloads) afterwards. Calls
// never released are simply garbage collected.
func (d *Decoder) Release(c *Call) {
	if c == nil || c.box == nil || &c.box.call != c || len(d.free) >= maxFreeBoxes {
		return
	}
	b := c.box
	c.box = nil // a second Release of the same call is a no-op
	d.free = append(d.free, b)
}

// maxFreeBoxes bounds the boxes kept for reuse.
const maxFreeBoxes = 1024

// A call has a few payloads (segments, kernel, initrd, command line, each
// from one or two sources): small slices searched in order beat maps, and
// keep the order records came in. maxPayloadKeys bounds what a damaged or
// hostile capture can make one call hold.
const maxPayloadKeys = 64

type endEntry struct {
	k payloadKey
	e layout.PayloadEnd
}

type payEntry struct {
	k payloadKey
	p *Payload
}

func (cs *callState) end(k payloadKey) (layout.PayloadEnd, bool) {
	for _, e := range cs.ends {
		if e.k == k {
			return e.e, true
		}
	}
	return layout.PayloadEnd{}, false
}

func (cs *callState) payload(k payloadKey) (*Payload, bool) {
	for _, e := range cs.payloads {
		if e.k == k {
			return e.p, true
		}
	}
	return nil, false
}

// tooMany says (once per call, as a problem) that a record was dropped
// because the call already holds maxPayloadKeys payloads.
func (cs *callState) tooMany(what string) bool {
	if len(cs.ends) < maxPayloadKeys && len(cs.payloads) < maxPayloadKeys {
		return false
	}
	if !cs.full {
		cs.full = true
		cs.call.Problems = append(cs.call.Problems, fmt.Sprintf("more than %d payloads for one call: later %s records ignored", maxPayloadKeys, what))
	}
	return true
}

type payloadKey struct {
	kind, index, source uint16
}

// newCall opens a call; the caller fills it.
func (d *Decoder) newCall(id uint64) (*callState, []*Call) {
	var out []*Call
	if len(d.open) >= MaxOpenCalls {
		out = append(out, d.evictOldest())
	}
	d.seq++
	var box *callBox
	if n := len(d.free); n > 0 {
		box = d.free[n-1]
		d.free = d.free[:n-1]
		*box = callBox{}
	} else {
		box = &callBox{}
	}
	box.call = Call{ID: id, Outcome: "unfinished", box: box}
	box.call.Args.FlagNames = []string{}
	cs := &box.state
	cs.seq, cs.call, cs.box = d.seq, &box.call, box
	cs.ends, cs.payloads = box.ends[:0], box.keys[:0]
	d.open[id] = cs
	d.openQ = append(d.openQ, openRef{id, cs.seq})
	if len(d.openQ) > 4*MaxOpenCalls && len(d.openQ) > 4*len(d.open) {
		// Drop finished entries so the queue stays proportional to open calls.
		q := d.openQ[:0]
		for _, r := range d.openQ {
			if _, ok := d.isOpen(r); ok {
				q = append(q, r)
			}
		}
		d.openQ = q
	}
	return cs, out
}

func (d *Decoder) evictOldest() *Call {
	var oldest *callState
	for oldest == nil {
		r := d.openQ[0]
		d.openQ = d.openQ[1:]
		if cs, ok := d.isOpen(r); ok {
			oldest = cs
		}
	}
	d.stats.Evicted++
	oldest.call.Problems = append(oldest.call.Problems,
		fmt.Sprintf("given up: more than %d calls open at once (exit never seen)", MaxOpenCalls))
	return d.finish(oldest, false)
}

// finish closes a call: links payloads, checks what is missing, forgets it.
func (d *Decoder) finish(cs *callState, exited bool) *Call {
	c := cs.call
	delete(d.open, c.ID)
	d.done[c.ID] = struct{}{}
	d.doneQ = append(d.doneQ, c.ID)
	if len(d.doneQ) > 2*MaxOpenCalls {
		// Keep the late-record memory bounded too.
		for _, id := range d.doneQ[:MaxOpenCalls] {
			delete(d.done, id)
		}
		d.doneQ = append(d.doneQ[:0], d.doneQ[MaxOpenCalls:]...)
	}
	if !exited {
		c.Outcome = "unfinished"
		c.Problems = append(c.Problems, "no exit record: the recorder stopped or the record was lost")
		d.stats.Unfinished++
	}
	// Payloads whose BPF accounting arrived but whose blob record never did.
	var keys []payloadKey
	for _, e := range cs.ends {
		if _, ok := cs.payload(e.k); !ok {
			keys = append(keys, e.k)
		}
	}
	sortKeys(keys)
	for _, k := range keys {
		e, _ := cs.end(k)
		c.Problems = append(c.Problems, fmt.Sprintf("%s %d (%s): BPF ended it (%d of %d bytes) but the capture holds no payload record",
			KindName(uint32(k.kind)), k.index, SourceName(k.source), e.Emitted, e.Total))
	}
	for i := range c.Segments {
		s := &c.Segments[i]
		if s.Payload == nil && s.BufSz > 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("segment %d: no payload in the capture", s.Index))
		}
	}
	judgeLoaded(c)
	d.stats.Calls++
	return c
}

func sortKeys(k []payloadKey) {
	sort.Slice(k, func(i, j int) bool {
		if k[i].kind != k[j].kind {
			return k[i].kind < k[j].kind
		}
		if k[i].index != k[j].index {
			return k[i].index < k[j].index
		}
		return k[i].source < k[j].source
	})
}
