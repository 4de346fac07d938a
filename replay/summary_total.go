package replay

import (
	"time"

	"github.com/kexecrec/kexecrec/format"
)

// totalOf merges finished summaries into one TOTAL. Counts add up; distinct
// payloads are distinct over all files; integrity is the worst of the files;
// the host is kept only when every file names the same one.
func totalOf(sums []*Summary) *Summary {
	t := newSummary()
	t.Files = 0
	t.Stream = &StreamInfo{Clean: true, ChainOK: true, Signed: true, SignatureOK: true, KeyTrusted: true}
	a := t.acc
	for i, s := range sums {
		t.Files += s.Files
		if i == 0 {
			t.Host = s.Host
		} else if t.Host != nil && (s.Host == nil || s.Host.MachineID != t.Host.MachineID ||
			s.Host.Hostname != t.Host.Hostname) {
			t.Host = nil
		}
		st := s.Stream
		t.Stream.Clean = t.Stream.Clean && st.Clean
		t.Stream.ChainOK = t.Stream.ChainOK && st.ChainOK
		t.Stream.Signed = t.Stream.Signed && st.Signed
		t.Stream.SignatureOK = t.Stream.SignatureOK && st.SignatureOK
		t.Stream.KeyTrusted = t.Stream.KeyTrusted && st.KeyTrusted
		t.Stream.Unsigned += st.Unsigned
		t.Stream.Chunks += st.Chunks
		t.Stream.Records += st.Records
		t.Stream.Gaps = append(t.Stream.Gaps, st.Gaps...)
		t.Damage = addExamples(t.Damage, s.Damage...)
		t.Span.FirstCall = earliest(t.Span.FirstCall, s.Span.FirstCall)
		t.Span.LastCall = latest(t.Span.LastCall, s.Span.LastCall)
		t.Span.RecordStart = earliest(t.Span.RecordStart, s.Span.RecordStart)
		t.Span.RecordEnd = latest(t.Span.RecordEnd, s.Span.RecordEnd)
		t.Calls += s.Calls
		if s.Stats != nil {
			if t.Stats == nil {
				t.Stats = format.Stats{}
			}
			for k, v := range s.Stats {
				t.Stats[k] += v
			}
		}
		addCounts(a.bySyscall, s.BySyscall)
		addCounts(a.byOutcome, s.ByOutcome)
		addCounts(a.byErrno, s.ByErrno)
		addCounts(a.byProcess, s.ByProcess)
		addCounts(a.byUser, s.ByUser)
		a.caller.merge(s)
		addCounts(a.truncByReason, s.TruncatedByReason)
		addCounts(a.problems, s.Problems)
		t.PayloadRefs += s.PayloadRefs
		t.Truncated += s.Truncated
		t.TruncatedExamples = addExamples(t.TruncatedExamples, s.TruncatedExamples...)
		t.Purgatory.Checked += s.Purgatory.Checked
		t.Purgatory.NotFound += s.Purgatory.NotFound
		t.Purgatory.Match += s.Purgatory.Match
		t.Purgatory.Mismatch += s.Purgatory.Mismatch
		t.Purgatory.Mismatches = addExamples(t.Purgatory.Mismatches, s.Purgatory.Mismatches...)
		t.DTBInitrd.merge(s.DTBInitrd)
		t.mergeLoaded(s)
		t.CallsWithProblems += s.CallsWithProblems
		if s.Partial {
			t.Partial = true
			if t.Error == "" {
				t.Error = s.Error
			}
		}
		for _, p := range s.Payloads {
			pa := a.payloads[p.SHA256]
			if pa == nil {
				st := *p
				pa = &payloadAcc{stat: st, kinds: map[kindKey]bool{}}
				pa.stat.Uses = 0
				a.payloads[p.SHA256] = pa
			}
			pa.stat.Uses += p.Uses
			pa.stat.Complete = pa.stat.Complete || p.Complete
			if pa.stat.Type == "" && p.Type != "" {
				pa.stat.Type, pa.stat.What, pa.stat.KernelVersion = p.Type, p.What, p.KernelVersion
			}
			for _, k := range p.Kinds {
				pa.kinds[parseKindKey(k)] = true
			}
		}
	}
	if t.Files == 0 {
		t.Stream = &StreamInfo{}
	}
	return t.finish()
}

func addCounts(m map[string]int, cs []Count) {
	for _, c := range cs {
		m[c.Key] += c.Calls
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
