package replay

import (
	"time"

	"github.com/kexecrec/kexecrec/format"
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
	// ByExecutable: calls by the caller's executable path; ByTopAncestor:
	// by its oldest ancestor that is not an init ("comm exe"), "-" when the
	// capture has no ancestry (summary_caller.go).
	ByExecutable  []Count `json:"by_executable"`
	ByTopAncestor []Count `json:"by_top_ancestor"`

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
	// DTBInitrd counts the arm64 device trees whose initrd range was
	// checked against their call's segments (absent when none was).
	DTBInitrd DTBInitrdSummary `json:"dtb_initrd,omitzero"`
	// Loaded: the read-back segments by verdict (nil when the capture has
	// none; summary_loaded.go).
	Loaded *LoadedSummary `json:"loaded,omitempty"`

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

// addExamples appends from src to dst until dst holds MaxExamples.
func addExamples[T any](dst []T, src ...T) []T {
	return append(dst, src[:min(len(src), max(0, MaxExamples-len(dst)))]...)
}

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
	// Notes: the recorder's notes at the start of the file (Capture.HeaderNotes).
	Notes []Note `json:"notes,omitempty"`
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

// DTBInitrdSummary counts identify.InitrdVerdict results.
type DTBInitrdSummary struct {
	Checked    int                 `json:"checked"`
	Match      int                 `json:"match"`
	Mismatch   int                 `json:"mismatch"` // the dtb names an initrd that is not the call's initrd segment
	Mismatches []DTBInitrdMismatch `json:"mismatches,omitempty"`
}

// DTBInitrdMismatch is one call whose device tree initrd range did not match.
type DTBInitrdMismatch struct {
	CallID uint64    `json:"call_id"`
	Time   time.Time `json:"time"`
	Detail string    `json:"detail"`
}

// PurgatoryMismatch is one call whose purgatory digest did not match.
type PurgatoryMismatch struct {
	CallID   uint64    `json:"call_id"`
	Time     time.Time `json:"time"`
	Stored   string    `json:"stored"`
	Computed string    `json:"computed"`
	Detail   string    `json:"detail"`
}
