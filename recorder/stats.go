package recorder

import (
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

func (r *Recorder) readCounters(now time.Time) {
	r.lastCounters = now
	c, err := r.cfg.Source.Counters()
	if err != nil {
		if !r.countersErr {
			r.countersErr = true
			r.note("warn", "cannot read the BPF counters: "+err.Error())
		}
		return
	}
	r.counters = c
	var d uint64
	for i, name := range layout.CounterNames {
		if i < len(c) && strings.HasSuffix(name, "_dropped") && name != "piece_bytes_dropped" {
			d += c[i]
		}
	}
	r.dropped = d
}

// stats are the BPF counters summed over CPUs plus the recorder's own,
// cumulative over the whole run (all parts).
func (r *Recorder) stats() format.Stats {
	s := format.Stats{}
	for i, name := range layout.CounterNames {
		if i < len(r.counters) {
			s[name] = r.counters[i]
		}
	}
	s["calls_recorded"] = r.callsSeen
	s["calls_completed"] = r.completed
	s["calls_abandoned"] = r.abandoned
	s["records_written"] = r.recordsOut
	s["ring_records"] = r.ringRecords
	s["pieces"] = r.pieces
	s["payload_bytes"] = r.payloadBytes
	s["payloads"] = r.payloads
	s["payloads_incomplete"] = r.incomplete
	s["zero_filled_bytes"] = r.asm.zeroFilled // ring loss only
	s["read_error_bytes"] = r.asm.readErrorBytes
	s["payloads_limited"] = r.asm.limited
	s["bad_records"] = r.badRecords
	s["pieces_discarded"] = r.asm.discarded
	s["parts"] = uint64(r.part) + 1
	if r.guard != nil {
		s["payloads_disk_guard"] = r.asm.guarded
	}
	if b := r.bound; b != nil {
		s["over_max_total"] = uint64(b.over)
		s["max_total_removed"] = b.removed
	}
	return s
}

func (r *Recorder) writeStats(now time.Time) error {
	r.readCounters(now)
	r.lastStats = now
	s := r.stats()
	if err := r.w.WriteStats(s); err != nil {
		return err
	}
	r.statsWritten = s
	return nil
}

func (r *Recorder) publish() {
	p := Progress{
		CallsSeen: r.callsSeen, CallsCompleted: r.completed, PayloadBytes: r.payloadBytes,
		RingRecords: r.ringRecords, Dropped: r.dropped, Part: r.part,
	}
	if r.file != nil {
		p.File = r.file.Name()
	}
	if r.w != nil {
		p.Bytes = r.w.Written()
	}
	if r.bound != nil {
		p.OverMaxTotal = r.bound.over
	}
	r.progressMu.Lock()
	r.progressState = p
	r.progressMu.Unlock()
}

func (r *Recorder) summary() Summary {
	r.publish()
	return Summary{Progress: r.Progress(), Files: append([]string(nil), r.files...), Stats: r.statsWritten}
}
