package replay

import (
	"time"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// Call is one kexec_load or kexec_file_load call as recorded. JSON field
// names are a stable interface for scripts: only ever add fields.
type Call struct {
	ID        uint64    `json:"id"`         // call id, unique within one recording run
	Syscall   string    `json:"syscall"`    // "kexec_load" or "kexec_file_load"
	SyscallNr uint32    `json:"syscall_nr"` // as issued (246, 320, 283, 0x40000000|528 ...)
	ABI       string    `json:"abi"`        // "x86_64", "ia32", "x32", "arm64", "aarch32"
	Hook      string    `json:"hook"`       // "fentry", "kprobe", "raw"
	Time      time.Time `json:"time"`       // wall clock of entry, from the header's time pair
	BootNS    uint64    `json:"boot_ns"`    // CLOCK_BOOTTIME of entry
	CPU       uint32    `json:"cpu"`

	Caller Caller `json:"caller"`
	Args   Args   `json:"args"`

	// Segments as passed to kexec_load (first 16; Args.NrSegments says how many were passed).
	Segments []Segment `json:"segments,omitempty"`
	// SegmentTableError: the segment array could not be read (errno name).
	SegmentTableError string `json:"segment_table_error,omitempty"`
	// Files the kernel read for kexec_file_load.
	Files []File `json:"files,omitempty"`
	// Cmdline of kexec_file_load as read from the caller (without the trailing NUL).
	Cmdline *string `json:"cmdline,omitempty"`

	// Payloads: every captured payload of this call (segments, kernel, initrd, cmdline).
	Payloads []*Payload `json:"payloads,omitempty"`
	// Loaded: the segments of the image the kernel staged, read back from
	// its pages at the syscall's exit, with their verdicts (loaded.go).
	Loaded []*LoadedSegment `json:"loaded_segments,omitempty"`
	// Purgatory: kexec-tools' purgatory digest recomputed over the captured segments.
	Purgatory *identify.PurgatoryVerdict `json:"purgatory,omitempty"`
	// DTBInitrd: the linux,initrd-start/end of the call's device tree
	// segment (arm64) compared with its segments.
	DTBInitrd *identify.InitrdVerdict `json:"dtb_initrd,omitempty"`

	// Outcome: "ok", "error" or "unfinished" (no exit seen: recorder stopped or record lost).
	Outcome    string `json:"outcome"`
	Ret        *int64 `json:"ret,omitempty"`
	Errno      string `json:"errno,omitempty"` // "EPERM" ... for negative returns
	DurationNS uint64 `json:"duration_ns,omitempty"`
	// RetKnownInAdvance: Ret was not observed at the syscall's exit but
	// known in advance, ENOSYS, because the kernel has no kexec (raw mode
	// attached sys_enter only; the header's known_return says why).
	RetKnownInAdvance bool `json:"ret_known_in_advance,omitempty"`

	// Problems the decoder met for this call (lost records, short payloads ...).
	Problems []string `json:"problems,omitempty"`

	// box is the memory the decoder made the call in (Decoder.Release).
	box *callBox
}

// Caller is the calling task.
type Caller struct {
	PID         uint32   `json:"pid"`
	TID         uint32   `json:"tid"`
	PPID        uint32   `json:"ppid"`
	UID         uint32   `json:"uid"`
	GID         uint32   `json:"gid"`
	EUID        uint32   `json:"euid"`
	EGID        uint32   `json:"egid"`
	LoginUID    uint32   `json:"loginuid"`
	SessionID   uint32   `json:"sessionid"`
	Comm        string   `json:"comm"`
	Exe         string   `json:"exe,omitempty"`
	Argv        []string `json:"argv,omitempty"`
	CgroupID    uint64   `json:"cgroup_id"`
	CgroupPath  string   `json:"cgroup_path,omitempty"`
	ContainerID string   `json:"container_id,omitempty"`
	MntNS       uint32   `json:"mnt_ns"`
	PidNS       uint32   `json:"pid_ns"`
	// Raced: fields read from /proc after entry (may describe a later state).
	Raced []string `json:"raced,omitempty"`

	// CallerEntry: what BPF read at syscall entry (captures since the
	// CALLER record; see caller.go). Its fields are the caller's own in JSON.
	CallerEntry
}

// CallerEntry is the part of Caller read by BPF at syscall entry.
type CallerEntry struct {
	ExeFile            *ExeFile    `json:"exe_file,omitempty"`
	ArgvInfo           *CallerArgs `json:"argv_info,omitempty"`
	Env                []string    `json:"env,omitempty"`
	EnvInfo            *CallerArgs `json:"env_info,omitempty"`
	Cwd                string      `json:"cwd,omitempty"`
	TTY                *TTY        `json:"tty,omitempty"`
	NsPID              uint32      `json:"ns_pid,omitempty"` // pid in the caller's own pid namespace
	NsTID              uint32      `json:"ns_tid,omitempty"`
	NsLevel            uint32      `json:"ns_level,omitempty"` // 0 = the initial pid namespace
	Ancestors          []Ancestor  `json:"ancestors,omitempty"`
	AncestorsTruncated bool        `json:"ancestors_truncated,omitempty"` // more than 8 before an init
	// Sources says where each caller field came from: "kernel-entry" or
	// "proc-after-call" (keys exe, argv, env, cwd, tty, cgroup_path,
	// ns_pid, ancestors). Absent in captures made before entry reads.
	Sources map[string]string `json:"sources,omitempty"`
}

// empty says no entry field is set (a capture made before entry reads).
func (e *CallerEntry) empty() bool {
	return e.Sources == nil && e.ExeFile == nil && e.ArgvInfo == nil && e.EnvInfo == nil && e.Cwd == "" && e.TTY == nil &&
		e.NsPID == 0 && len(e.Ancestors) == 0 && !e.AncestorsTruncated && len(e.Env) == 0 && e.NsTID == 0 && e.NsLevel == 0
}

// Args are the raw arguments and their decoding.
type Args struct {
	Raw [6]uint64 `json:"raw"`
	// kexec_load
	Entry       *uint64 `json:"entry,omitempty"`
	NrSegments  *uint64 `json:"nr_segments,omitempty"`
	SegmentsPtr *uint64 `json:"segments_ptr,omitempty"`
	// kexec_file_load
	KernelFD   *int32  `json:"kernel_fd,omitempty"`
	InitrdFD   *int32  `json:"initrd_fd,omitempty"`
	CmdlineLen *uint64 `json:"cmdline_len,omitempty"`
	CmdlinePtr *uint64 `json:"cmdline_ptr,omitempty"`
	// both
	Flags     uint64   `json:"flags"`
	FlagNames []string `json:"flag_names"`     // names; unknown bits as "0x..." (never dropped)
	Arch      string   `json:"arch,omitempty"` // kexec_load architecture field by name
}

// Segment is one kexec_segment as passed.
type Segment struct {
	Index   int      `json:"index"`
	Buf     uint64   `json:"buf"`
	BufSz   uint64   `json:"bufsz"`
	Mem     uint64   `json:"mem"`
	MemSz   uint64   `json:"memsz"`
	Payload *Payload `json:"-"` // same object as in Call.Payloads
	// Loaded: the same segment read back from the kernel (Call.Loaded).
	Loaded *LoadedSegment `json:"loaded,omitempty"`
}

// File is a file the kernel read for kexec_file_load.
type File struct {
	Kind    string   `json:"kind"` // "kernel" or "initrd"
	Path    string   `json:"path"`
	Dev     string   `json:"dev"` // "major:minor"
	Ino     uint64   `json:"ino"`
	Size    uint64   `json:"size"`
	ISize   uint64   `json:"i_size"`
	Payload *Payload `json:"-"`
}

// Payload is one captured byte string and how complete it is.
type Payload struct {
	Kind     string `json:"kind"`   // "segment", "kernel", "initrd", "cmdline"
	Index    int    `json:"index"`  // segment number
	Source   string `json:"source"` // "syscall-entry" or "kernel-read"
	Total    uint64 `json:"total"`
	Captured uint64 `json:"captured"`
	// SHA256 is the SHA-256 of the captured bytes, as sha256sum prints it:
	// from the PAYLOAD record in format 1.0 (where it names the blob), or
	// computed by Capture from the blob's checked pieces in 1.1; "" when
	// the bytes could not be read (a Problem of the call says why).
	SHA256   string   `json:"sha256"`
	Complete bool     `json:"complete"`
	Reasons  []string `json:"reasons,omitempty"`
	Missing  []Range  `json:"missing,omitempty"`
	// Blob is the hex id of the blob holding the bytes (Capture.Payload):
	// the piece-list id in format 1.1, the SHA-256 in 1.0.
	Blob string `json:"-"`
	// listed: the record named the blob by its piece list (format 1.1), so
	// SHA256 is computed from the bytes and a recorded one only checked.
	listed bool
	// Identity is what the bytes are, when the reader had them (see identify).
	Identity *identify.Report `json:"identity,omitempty"`
}

// Range is a byte range of a payload.
type Range struct {
	Off uint64 `json:"off"`
	Len uint64 `json:"len"`
}
