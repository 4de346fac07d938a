package replay

import (
	"encoding/hex"
	"io"
	"sync"
	"time"

	"github.com/kexecrec/kexecrec/format"
)

// The JSON documents of the reading commands and of `record --json`: a call
// (one line of NDJSON, through the one encoder in render_json.go), a
// capture's header and what reading it found.

// RenderJSON writes one call as a JSON object on one line (NDJSON), byte
// for byte what json.Marshal(c) gives, only faster.
func RenderJSON(w io.Writer, c *Call) error {
	bp := jsonBuf.Get().(*[]byte)
	b, err := appendCall((*bp)[:0], c)
	if err == nil {
		b = append(b, '\n')
		_, err = w.Write(b)
	}
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBuf.Put(bp)
	}
	return err
}

var jsonBuf = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// HeaderJSON is the JSON form of a capture header (format.Header has no
// JSON names of its own; these are stable).
type HeaderJSON struct {
	FileID        string            `json:"file_id"`
	Hostname      string            `json:"hostname"`
	MachineID     string            `json:"machine_id,omitempty"`
	BootID        string            `json:"boot_id,omitempty"`
	KernelRelease string            `json:"kernel_release"`
	KernelVersion string            `json:"kernel_version,omitempty"`
	Arch          string            `json:"arch"`
	ByteOrder     string            `json:"byte_order"`
	WriterVersion string            `json:"writer_version"`
	RecordLayout  uint32            `json:"record_layout"`
	AttachMode    string            `json:"attach_mode"`
	KnownReturn   string            `json:"known_return,omitempty"`
	KnownRetWhy   string            `json:"known_return_why,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
	WallStart     time.Time         `json:"wall_start"`
	BootStartNS   uint64            `json:"boot_start_ns"`
	Extra         map[string]string `json:"extra,omitempty"`
	SetID         string            `json:"set_id,omitempty"`
	Part          uint32            `json:"part"`
	// Notes: the recorder's notes at the start of the file (Capture.HeaderNotes).
	Notes []Note `json:"notes,omitempty"`
}

// NewHeaderJSON converts a header.
func NewHeaderJSON(h format.Header) HeaderJSON {
	j := HeaderJSON{
		FileID: hex.EncodeToString(h.FileID[:]), Hostname: h.Hostname, MachineID: h.MachineID, BootID: h.BootID,
		KernelRelease: h.KernelRelease, KernelVersion: h.KernelVersion, Arch: h.Arch, ByteOrder: h.ByteOrder,
		WriterVersion: h.WriterVersion, RecordLayout: h.RecordLayout, AttachMode: h.AttachMode, Options: h.Options,
		WallStart: h.WallStart.UTC(), BootStartNS: h.BootStartNS, Extra: h.Extra, Part: h.Part,
		KnownReturn: h.KnownReturn, KnownRetWhy: h.KnownReturnWhy,
	}
	if h.SetID != ([16]byte{}) {
		j.SetID = hex.EncodeToString(h.SetID[:])
	}
	return j
}

// StatusJSON is the JSON form of what reading a capture found.
type StatusJSON struct {
	Clean       bool           `json:"clean"`
	ChainOK     bool           `json:"chain_ok"`
	Signed      bool           `json:"signed"`
	SignatureOK bool           `json:"signature_ok"`
	Chunks      int            `json:"chunks"`
	Records     int            `json:"records"`
	Bytes       int64          `json:"bytes"`
	Stats       format.Stats   `json:"recorder_stats,omitempty"`
	Decode      DecodeStats    `json:"decode"`
	Damage      []string       `json:"damage"`
	Warnings    []string       `json:"warnings"`
	Partial     bool           `json:"partial"` // damage: some of the file could not be read
	Skipped     map[uint16]int `json:"skipped_types,omitempty"`
}

// NewStatusJSON summarizes a capture after Calls.
func NewStatusJSON(c *Capture) StatusJSON {
	st := c.Status()
	damage, warnings := c.Trouble()
	if damage == nil {
		damage = []string{}
	}
	if warnings == nil {
		warnings = []string{}
	}
	return StatusJSON{
		Clean: st.Clean, ChainOK: st.ChainOK, Signed: st.Signed, SignatureOK: st.SignatureOK,
		Chunks: st.Chunks, Records: st.Records, Bytes: st.Bytes, Stats: c.Stats(), Decode: c.DecodeStats(),
		Damage: damage, Warnings: warnings, Partial: len(damage) > 0, Skipped: st.SkippedTypes,
	}
}
