package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// Summary is what `kexecrec summarize` says about one capture (or, merged,
// about several): the file and its integrity, the recording host, and counts
// of the calls it holds. It is built from a stream of calls and never keeps
// the calls themselves: memory grows with the number of DISTINCT payloads,
// processes, users and errnos, not with the number of calls. Lists that could
// grow with the calls (purgatory mismatches, truncated payloads, problems)
// keep at most MaxExamples entries next to an exact count.
type Summary struct {
	File   *FileInfo    `json:"file,omitempty"`  // nil for a TOTAL
	Files  int          `json:"files"`           // files merged into this summary
	Host   *HostInfo    `json:"host,omitempty"`  // nil for a TOTAL over different hosts
	Stream *StreamInfo  `json:"integrity"`       // container status (merged: worst of)
	Span   Span         `json:"span"`            // time span of calls and of recording
	Calls  int          `json:"calls"`           // calls decoded (finished and unfinished)
	Stats  format.Stats `json:"stats,omitempty"` // recorder and BPF counters (summed for a TOTAL)

	BySyscall []Count `json:"by_syscall"`
	ByOutcome []Count `json:"by_outcome"`
	ByErrno   []Count `json:"by_errno"`
	ByProcess []Count `json:"by_process"`
	ByUser    []Count `json:"by_user"`

	// Payloads: every distinct payload by SHA-256 of its captured bytes.
	Payloads []*PayloadStat `json:"payloads"`
	// Kernels: the distinct kernel payloads (identified kernel version).
	Kernels []*PayloadStat `json:"kernels"`

	PayloadRefs int `json:"payload_refs"` // payload instances over all calls
	// Truncated: payload instances that are not complete, by reason.
	Truncated         int              `json:"truncated_payloads"`
	TruncatedByReason []Count          `json:"truncated_by_reason,omitempty"`
	TruncatedExamples []PayloadExample `json:"truncated_examples,omitempty"`

	Purgatory PurgatorySummary `json:"purgatory"`

	// CallsWithProblems: calls on which the decoder noted a problem.
	CallsWithProblems int     `json:"calls_with_problems"`
	Problems          []Count `json:"problems,omitempty"` // distinct problem texts (first MaxExamples)

	// Damage: the file could not be read entirely or failed a check; the
	// counts may be incomplete. Warnings: the file is intact but the
	// recording is not (unclean stop, drops, lost records, recorder notes).
	Damage   []string `json:"damage"`
	Warnings []string `json:"warnings"`

	// Partial: the counts cover only part of the file (damage, or reading
	// stopped early). Error says why reading stopped, if it did.
	Partial bool   `json:"partial"`
	Error   string `json:"error,omitempty"`

	acc *summaryAcc
}

// MaxExamples caps every list in a Summary whose length would otherwise grow
// with the number of calls.
const MaxExamples = 100

// FileInfo identifies the capture file itself, for case notes.
type FileInfo struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the file's bytes as read
	// FormatVersion is the container format version, when the reader says.
	FormatVersion string `json:"format_version,omitempty"`
	// Shipping: "shipped to s3://...", "pending upload" or "" (record
	// --upload marks each part it ships; see package ship).
	Shipping string `json:"shipping,omitempty"`
}

// HostInfo is where and how the capture was recorded (from its header).
type HostInfo struct {
	Hostname        string            `json:"hostname"`
	MachineID       string            `json:"machine_id"`
	BootID          string            `json:"boot_id"`
	KernelRelease   string            `json:"kernel_release"`
	KernelVersion   string            `json:"kernel_version,omitempty"`
	Arch            string            `json:"arch"`
	RecorderVersion string            `json:"recorder_version"`
	AttachMode      string            `json:"attach_mode"`
	Options         map[string]string `json:"options,omitempty"`
	RecordLayout    uint32            `json:"record_layout"`
	SetID           string            `json:"set_id,omitempty"`
	Part            uint32            `json:"part"`
}

// StreamInfo is the container's integrity as the reader found it.
type StreamInfo struct {
	Clean       bool     `json:"clean_stop"` // a valid trailer was read
	ChainOK     bool     `json:"chain_ok"`   // every chunk chained to the previous one
	Signed      bool     `json:"signed"`     // the trailer carries a signature
	SignerKey   string   `json:"signer_key,omitempty"`
	SignatureOK bool     `json:"signature_ok"` // the signature verified
	KeyTrusted  bool     `json:"key_trusted"`  // ... against a key the user gave
	Chunks      int      `json:"chunks"`
	Records     int      `json:"records"`
	Gaps        []string `json:"gaps,omitempty"` // missing chunk sequence ranges
	Unsigned    int      `json:"-"`              // TOTAL: files not signed
}

// Span is the time covered.
type Span struct {
	FirstCall   time.Time `json:"first_call,omitzero"`
	LastCall    time.Time `json:"last_call,omitzero"`
	RecordStart time.Time `json:"record_start,omitzero"` // header wall clock
	RecordEnd   time.Time `json:"record_end,omitzero"`   // trailer, clean stop only
}

// Count is one row of a "calls by X" table.
type Count struct {
	Key   string `json:"key"`
	Calls int    `json:"calls"`
}

// PayloadStat is one distinct payload.
type PayloadStat struct {
	SHA256   string   `json:"sha256"`
	Size     uint64   `json:"size"`  // captured bytes
	Total    uint64   `json:"total"` // bytes the caller/kernel had
	Complete bool     `json:"complete"`
	Kinds    []string `json:"kinds"` // "segment 2", "kernel", "initrd" ...
	Uses     int      `json:"uses"`  // payload instances with these bytes
	// What the bytes are (identify), when known.
	Type          string `json:"type,omitempty"`
	What          string `json:"what,omitempty"`
	KernelVersion string `json:"kernel_version,omitempty"`
	FirstCall     uint64 `json:"first_call"`
}

// PayloadExample points at one payload instance.
type PayloadExample struct {
	CallID  uint64   `json:"call_id"`
	Kind    string   `json:"kind"`
	Index   int      `json:"index"`
	SHA256  string   `json:"sha256"`
	Total   uint64   `json:"total"`
	Capture uint64   `json:"captured"`
	Reasons []string `json:"reasons,omitempty"`
}

// PurgatorySummary counts kexec-tools purgatory digest verdicts.
type PurgatorySummary struct {
	Checked    int                 `json:"checked"`   // calls with a verdict
	NotFound   int                 `json:"not_found"` // no purgatory digest located
	Match      int                 `json:"match"`
	Mismatch   int                 `json:"mismatch"` // captured bytes != what purgatory will verify
	Mismatches []PurgatoryMismatch `json:"mismatches,omitempty"`
}

// PurgatoryMismatch is one call whose purgatory digest did not match.
type PurgatoryMismatch struct {
	CallID   uint64    `json:"call_id"`
	Time     time.Time `json:"time"`
	Stored   string    `json:"stored"`
	Computed string    `json:"computed"`
	Detail   string    `json:"detail"`
}

// summaryAcc holds the maps a Summary is built from; Finish turns them into
// the sorted slices above.
type summaryAcc struct {
	bySyscall, byOutcome, byErrno, byProcess, byUser map[string]int
	truncByReason, problems                          map[string]int
	payloads                                         map[string]*payloadAcc
	// Per-call keys are counted by their parts and named once in Finish:
	// building the name for every call would cost allocations per call.
	procs map[procID]int
	users map[userID]int
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

// NewSummary starts an empty summary.
func NewSummary() *Summary {
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

// SetHeader records the capture's header.
func (s *Summary) SetHeader(h format.Header) {
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

// SetFile records the capture file's identity.
func (s *Summary) SetFile(f FileInfo) { s.File = &f }

// SetStatus records what the container reader found (call after the last record).
func (s *Summary) SetStatus(st format.Status) {
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

// SetStats records the last STATS chunk.
func (s *Summary) SetStats(st format.Stats) {
	if st == nil {
		return
	}
	s.Stats = format.Stats{}
	for k, v := range st {
		s.Stats[k] = v
	}
}

// SetTrouble records damage (marking the summary partial) and warnings.
func (s *Summary) SetTrouble(damage, warnings []string) {
	s.Damage = append(s.Damage, damage...)
	s.Warnings = append(s.Warnings, warnings...)
	if len(damage) > 0 {
		s.Partial = true
	}
}

// SetPartial marks the summary as covering only part of the file.
func (s *Summary) SetPartial(err error) {
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
	if p.Kind == "segment" {
		return fmt.Sprintf("segment %d", p.Index)
	}
	return p.Kind
}

// AddCall counts one call. It keeps nothing that refers to c.
func (s *Summary) AddCall(c *Call) {
	a := s.acc
	s.Calls++
	a.bySyscall[c.Syscall]++
	a.byOutcome[c.Outcome]++
	if c.Errno != "" {
		a.byErrno[c.Errno]++
	}
	a.procs[procID{c.Caller.Comm, c.Caller.Exe}]++
	a.users[userID{c.Caller.UID, c.Caller.EUID, c.Caller.LoginUID}]++
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
	if v := c.Purgatory; v != nil {
		s.Purgatory.Checked++
		switch {
		case !v.Found:
			s.Purgatory.NotFound++
		case v.Match:
			s.Purgatory.Match++
		default:
			s.Purgatory.Mismatch++
			if len(s.Purgatory.Mismatches) < MaxExamples {
				s.Purgatory.Mismatches = append(s.Purgatory.Mismatches, PurgatoryMismatch{
					CallID: c.ID, Time: c.Time, Stored: v.Stored, Computed: v.Computed, Detail: v.Detail,
				})
			}
		}
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

// Unidentified returns the SHA-256 of every distinct payload that has no
// identity yet, so a caller holding the capture can identify each one once.
func (s *Summary) Unidentified() []string {
	var out []string
	for sha, pa := range s.acc.payloads {
		if pa.stat.Type == "" {
			out = append(out, sha)
		}
	}
	slices.Sort(out)
	return out
}

// SetIdentity attaches an identification to a distinct payload.
func (s *Summary) SetIdentity(sha string, r *identify.Report) {
	if pa := s.acc.payloads[sha]; pa != nil && r != nil {
		pa.stat.setIdentity(r)
	}
}

// Finish turns the accumulated counts into the sorted lists. The summary can
// still be merged into a total afterwards; AddCall must not be called again.
func (s *Summary) Finish() *Summary {
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

// Total merges finished summaries into one TOTAL. Counts add up; distinct
// payloads are distinct over all files; integrity is the worst of the files;
// the host is kept only when every file names the same one.
func Total(sums []*Summary) *Summary {
	t := NewSummary()
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
		for _, d := range s.Damage {
			if len(t.Damage) < MaxExamples {
				t.Damage = append(t.Damage, d)
			}
		}
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
		addCounts(a.truncByReason, s.TruncatedByReason)
		addCounts(a.problems, s.Problems)
		t.PayloadRefs += s.PayloadRefs
		t.Truncated += s.Truncated
		for _, e := range s.TruncatedExamples {
			if len(t.TruncatedExamples) < MaxExamples {
				t.TruncatedExamples = append(t.TruncatedExamples, e)
			}
		}
		t.Purgatory.Checked += s.Purgatory.Checked
		t.Purgatory.NotFound += s.Purgatory.NotFound
		t.Purgatory.Match += s.Purgatory.Match
		t.Purgatory.Mismatch += s.Purgatory.Mismatch
		for _, m := range s.Purgatory.Mismatches {
			if len(t.Purgatory.Mismatches) < MaxExamples {
				t.Purgatory.Mismatches = append(t.Purgatory.Mismatches, m)
			}
		}
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
	return t.Finish()
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
