package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// Building a Summary from a stream of calls: counts are kept in maps while
// calls arrive and turned into sorted lists once, at the end.

// summaryAcc holds the maps a Summary is built from; finish turns them into
// the sorted slices above.
type summaryAcc struct {
	bySyscall, byOutcome, byErrno, byProcess, byUser map[string]int
	truncByReason, problems                          map[string]int
	payloads                                         map[string]*payloadAcc
	// Per-call keys are counted by their parts and named once in finish:
	// building the name for every call would cost allocations per call.
	procs map[procID]int
	users map[userID]int
	// caller: by executable and by top ancestor.
	caller callerAcc
}

type procID struct{ comm, exe string }

type userID struct{ uid, euid, auid uint32 }

type payloadAcc struct {
	stat  PayloadStat
	kinds map[kindKey]bool
}

// kindKey is how a payload was used: "segment" with its index, or "kernel",
// "initrd", "cmdline" (index 0).
type kindKey struct {
	kind  string
	index int
}

func (k kindKey) String() string {
	if k.kind == "segment" {
		return fmt.Sprintf("segment %d", k.index)
	}
	return k.kind
}

func parseKindKey(name string) kindKey {
	if n, ok := strings.CutPrefix(name, "segment "); ok {
		var i int
		if _, err := fmt.Sscan(n, &i); err == nil {
			return kindKey{"segment", i}
		}
	}
	return kindKey{name, 0}
}

// newSummary starts an empty summary.
func newSummary() *Summary {
	return &Summary{Files: 1, Stream: &StreamInfo{}, acc: newSummaryAcc()}
}

func newSummaryAcc() *summaryAcc {
	return &summaryAcc{
		bySyscall: map[string]int{}, byOutcome: map[string]int{}, byErrno: map[string]int{},
		byProcess: map[string]int{}, byUser: map[string]int{},
		truncByReason: map[string]int{}, problems: map[string]int{},
		payloads: map[string]*payloadAcc{},
		procs:    map[procID]int{}, users: map[userID]int{},
	}
}

// setHeader records the capture's header.
func (s *Summary) setHeader(h format.Header) {
	s.Host = &HostInfo{
		Hostname: h.Hostname, MachineID: h.MachineID, BootID: h.BootID,
		KernelRelease: h.KernelRelease, KernelVersion: h.KernelVersion, Arch: h.Arch,
		RecorderVersion: h.WriterVersion, AttachMode: h.AttachMode, Options: h.Options,
		RecordLayout: h.RecordLayout, Part: h.Part,
	}
	if h.SetID != ([16]byte{}) {
		s.Host.SetID = fmt.Sprintf("%x", h.SetID)
	}
	s.Span.RecordStart = h.WallStart
}

// setFile records the capture file's identity.
func (s *Summary) setFile(f FileInfo) { s.File = &f }

// setStatus records what the container reader found (call after the last record).
func (s *Summary) setStatus(st format.Status) {
	si := &StreamInfo{
		Clean: st.Clean, ChainOK: st.ChainOK, Signed: st.Signed, SignatureOK: st.SignatureOK,
		KeyTrusted: st.KeyTrusted, Chunks: st.Chunks, Records: st.Records,
	}
	if len(st.SignerKey) > 0 {
		si.SignerKey = fmt.Sprintf("%x", st.SignerKey)
	}
	if !st.Signed {
		si.Unsigned = 1
	}
	for _, g := range st.Gaps {
		if g.From == g.To {
			si.Gaps = append(si.Gaps, fmt.Sprintf("chunk %d", g.From))
		} else {
			si.Gaps = append(si.Gaps, fmt.Sprintf("chunks %d-%d", g.From, g.To))
		}
	}
	if st.TrailerCounts != nil {
		s.Span.RecordEnd = st.TrailerCounts.End
	}
	s.Stream = si
}

// setStats records the last STATS chunk.
func (s *Summary) setStats(st format.Stats) {
	if st == nil {
		return
	}
	s.Stats = format.Stats{}
	for k, v := range st {
		s.Stats[k] = v
	}
}

// setTrouble records damage (marking the summary partial) and warnings.
func (s *Summary) setTrouble(damage, warnings []string) {
	s.Damage = append(s.Damage, damage...)
	s.Warnings = append(s.Warnings, warnings...)
	if len(damage) > 0 {
		s.Partial = true
	}
}

// setPartial marks the summary as covering only part of the file.
func (s *Summary) setPartial(err error) {
	s.Partial = true
	if err != nil {
		s.Error = err.Error()
	}
}

// ProcessKey names a caller for the "by process" table: comm and exe.
func ProcessKey(c *Call) string { return procID{c.Caller.Comm, c.Caller.Exe}.String() }

func (p procID) String() string {
	if p.exe == "" {
		return p.comm
	}
	return p.comm + " " + p.exe
}

// noLoginUID is the audit login uid of a task that never logged in.
const noLoginUID = 0xffffffff

// UserKey names a caller's user: uid, with the audit login uid when it differs.
func UserKey(c *Call) string { return userID{c.Caller.UID, c.Caller.EUID, c.Caller.LoginUID}.String() }

func (u userID) String() string {
	k := fmt.Sprintf("uid %d", u.uid)
	if u.euid != u.uid {
		k += fmt.Sprintf(" euid %d", u.euid)
	}
	if u.auid != noLoginUID && u.auid != u.uid {
		k += fmt.Sprintf(" auid %d", u.auid)
	}
	return k
}

// PayloadName is "segment 2", "kernel", "initrd" or "cmdline".
func PayloadName(p *Payload) string {
	if p.Kind == "segment" || isLoadedPayload(p) {
		return fmt.Sprintf("%s %d", p.Kind, p.Index)
	}
	return p.Kind
}

// addCall counts one call. It keeps nothing that refers to c.
func (s *Summary) addCall(c *Call) {
	a := s.acc
	s.Calls++
	a.bySyscall[c.Syscall]++
	a.byOutcome[c.Outcome]++
	if c.Errno != "" {
		a.byErrno[c.Errno]++
	}
	a.procs[procID{c.Caller.Comm, c.Caller.Exe}]++
	a.users[userID{c.Caller.UID, c.Caller.EUID, c.Caller.LoginUID}]++
	a.caller.add(c)
	if !c.Time.IsZero() {
		if s.Span.FirstCall.IsZero() || c.Time.Before(s.Span.FirstCall) {
			s.Span.FirstCall = c.Time
		}
		if c.Time.After(s.Span.LastCall) {
			s.Span.LastCall = c.Time
		}
	}
	for _, p := range c.Payloads {
		s.addPayload(c, p)
	}
	s.addLoaded(c)
	if v := c.Purgatory; v != nil {
		s.Purgatory.Checked++
		switch {
		case !v.Found:
			s.Purgatory.NotFound++
		case v.Match:
			s.Purgatory.Match++
		default:
			s.Purgatory.Mismatch++
			s.Purgatory.Mismatches = addExamples(s.Purgatory.Mismatches, PurgatoryMismatch{
				CallID: c.ID, Time: c.Time, Stored: v.Stored, Computed: v.Computed, Detail: v.Detail,
			})
		}
	}
	if v := c.DTBInitrd; v != nil {
		s.DTBInitrd.add(c, v.Match, v.Detail)
	}
	if len(c.Problems) > 0 {
		s.CallsWithProblems++
		for _, p := range c.Problems {
			// Distinct texts only, and only so many: a problem text may
			// carry a call id, which would make every one distinct.
			if _, ok := a.problems[p]; ok || len(a.problems) < MaxExamples {
				a.problems[p]++
			}
		}
	}
}

func (s *Summary) addPayload(c *Call, p *Payload) {
	if p == nil {
		return
	}
	a := s.acc
	s.PayloadRefs++
	if !p.Complete {
		s.Truncated++
		if len(p.Reasons) == 0 {
			a.truncByReason["unknown"]++
		}
		for _, r := range p.Reasons {
			a.truncByReason[r]++
		}
		if len(s.TruncatedExamples) < MaxExamples {
			s.TruncatedExamples = append(s.TruncatedExamples, PayloadExample{
				CallID: c.ID, Kind: p.Kind, Index: p.Index, SHA256: p.SHA256,
				Total: p.Total, Capture: p.Captured, Reasons: slices.Clone(p.Reasons),
			})
		}
	}
	pa := a.payloads[p.SHA256]
	if pa == nil {
		pa = &payloadAcc{
			stat:  PayloadStat{SHA256: p.SHA256, Size: p.Captured, Total: p.Total, Complete: p.Complete, FirstCall: c.ID},
			kinds: map[kindKey]bool{},
		}
		a.payloads[p.SHA256] = pa
	}
	pa.stat.Uses++
	k := kindKey{p.Kind, 0}
	if p.Kind == "segment" {
		k.index = p.Index
	}
	pa.kinds[k] = true
	// The same bytes may be complete in one call and a prefix of a longer
	// payload in another: complete if it ever was the whole thing.
	if p.Complete {
		pa.stat.Complete = true
		pa.stat.Total = p.Total
	}
	if p.Identity != nil && pa.stat.Type == "" {
		pa.stat.setIdentity(p.Identity)
	}
}

func (ps *PayloadStat) setIdentity(r *identify.Report) {
	ps.Type, ps.What, ps.KernelVersion = r.Type, r.Summary, r.KernelVersion
}

// finish turns the accumulated counts into the sorted lists. The summary can
// still be merged into a total afterwards; addCall must not be called again.
func (s *Summary) finish() *Summary {
	a := s.acc
	s.BySyscall = sortedCounts(a.bySyscall)
	s.ByOutcome = sortedCounts(a.byOutcome)
	s.ByErrno = sortedCounts(a.byErrno)
	// Two callers may share a name (comm "a b" + exe "" and comm "a" +
	// exe "b"): add, do not overwrite.
	for p, n := range a.procs {
		a.byProcess[p.String()] += n
	}
	clear(a.procs)
	for u, n := range a.users {
		a.byUser[u.String()] += n
	}
	clear(a.users)
	s.ByProcess = sortedCounts(a.byProcess)
	s.ByUser = sortedCounts(a.byUser)
	a.caller.finish(s)
	s.TruncatedByReason = sortedCounts(a.truncByReason)
	s.Problems = sortedCounts(a.problems)
	// Empty lists, not null, in JSON: scripts iterate without checks.
	s.Payloads = make([]*PayloadStat, 0, len(a.payloads))
	s.Kernels = []*PayloadStat{}
	if s.Damage == nil {
		s.Damage = []string{}
	}
	if s.Warnings == nil {
		s.Warnings = []string{}
	}
	for _, pa := range a.payloads {
		st := pa.stat
		st.Kinds = make([]string, 0, len(pa.kinds))
		for k := range pa.kinds {
			st.Kinds = append(st.Kinds, k.String())
		}
		slices.SortFunc(st.Kinds, comparePayloadNames)
		s.Payloads = append(s.Payloads, &st)
		if st.KernelVersion != "" {
			s.Kernels = append(s.Kernels, &st)
		}
	}
	byFirstUse := func(x, y *PayloadStat) int {
		return cmp.Or(cmp.Compare(x.FirstCall, y.FirstCall),
			comparePayloadNames(firstOr(x.Kinds), firstOr(y.Kinds)), strings.Compare(x.SHA256, y.SHA256))
	}
	slices.SortFunc(s.Payloads, byFirstUse)
	slices.SortFunc(s.Kernels, func(x, y *PayloadStat) int {
		return cmp.Or(strings.Compare(x.KernelVersion, y.KernelVersion), byFirstUse(x, y))
	})
	return s
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// comparePayloadNames orders "segment 2" before "segment 10".
func comparePayloadNames(a, b string) int {
	var ai, bi int
	as, aok := strings.CutPrefix(a, "segment ")
	bs, bok := strings.CutPrefix(b, "segment ")
	if aok && bok {
		fmt.Sscan(as, &ai)
		fmt.Sscan(bs, &bi)
		return cmp.Compare(ai, bi)
	}
	return strings.Compare(a, b)
}

// sortedCounts orders by calls, most first, then by key, so output is stable.
func sortedCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(x, y Count) int {
		return cmp.Or(cmp.Compare(y.Calls, x.Calls), strings.Compare(x.Key, y.Key))
	})
	return out
}
