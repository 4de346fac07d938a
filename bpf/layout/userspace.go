package layout

// Records the recorder writes in user space are JSON objects: they are rare
// (a few per call), and JSON lets fields be appended without a version dance.
// Unknown fields are ignored by readers.

// Range is a byte range [Off, Off+Len) of a payload.
type Range struct {
	Off uint64 `json:"off"`
	Len uint64 `json:"len"`
}

// Payload (RecPayload) ties one captured payload of one call to its blob in
// the capture. The blob holds the payload's first Captured bytes; Missing
// ranges below Captured (pieces lost to a full ring, unreadable memory) are
// zero-filled there so offsets stay true, and a range from Captured to Total
// was never stored. Every byte of [0, Total) not captured is in Missing.
type Payload struct {
	CallID   uint64 `json:"call_id"`
	Kind     uint16 `json:"kind"`   // Kind* constant
	Index    uint16 `json:"index"`  // segment number for KindSegment
	Source   uint16 `json:"source"` // Src* constant
	Total    uint64 `json:"total"`  // original length as the caller/kernel gave it
	Captured uint64 `json:"captured"`
	// SHA256 is the hex SHA-256 of the captured bytes, written by recorders
	// of format 1.0, whose blob ids are that SHA-256. From format 1.1 on it
	// is absent and Blob names the blob; readers compute the SHA-256 from
	// the blob's checked pieces.
	SHA256 string `json:"sha256,omitempty"`
	// Blob is the hex id of the blob holding the captured bytes in format
	// 1.1 (the SHA-256 of its piece list, SPEC §3.3); absent in 1.0.
	Blob    string  `json:"blob,omitempty"`
	Missing []Range `json:"missing,omitempty"`
	// Complete is true only when Captured == Total and nothing is missing.
	Complete bool `json:"complete"`
	// Reason says why a payload is not complete: "snaplen", "no-payload",
	// "ring-full", "read-error", "loop-limit", "policy" (the unprivileged-caller
	// policy), "lost-end" (no PAYLOAD_END seen),
	// "recorder-limit" (a recorder bound on holes or zero fill was reached),
	// "unknown" (bytes missing and nothing recorded says why).
	Reasons []string `json:"reasons,omitempty"`
	// ReadErrors counts pieces that could not be read (zero-filled in the blob).
	ReadErrors uint32 `json:"read_errors,omitempty"`
}

// BlobID is the hex id of the payload's blob in its file: Blob (format
// 1.1) or, in format 1.0, its SHA-256.
func (p Payload) BlobID() string {
	if p.Blob != "" {
		return p.Blob
	}
	return p.SHA256
}

// Process (RecProcess) is what the recorder read from /proc for a call's
// caller when it saw the ENTER record. The process may already have exited
// or exec'd by then: Raced says which fields could not be read or may
// describe a later image of the process.
type Process struct {
	CallID      uint64   `json:"call_id"`
	PID         uint32   `json:"pid"`
	Exe         string   `json:"exe,omitempty"`
	Argv        []string `json:"argv,omitempty"`
	CgroupPath  string   `json:"cgroup_path,omitempty"`
	ContainerID string   `json:"container_id,omitempty"`
	// Raced lists fields read from /proc after the syscall entry, which may
	// race with exit/exec ("exe", "argv", "cgroup"); Missing lists the ones
	// that could not be read at all.
	Raced   []string `json:"raced,omitempty"`
	Missing []string `json:"missing,omitempty"`
}

// Note (RecNote) records something the recorder itself did or saw.
type Note struct {
	Level   string `json:"level"` // "info", "warn"
	Message string `json:"message"`
}
