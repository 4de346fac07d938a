// Package recorder turns the raw records of the BPF programs into a capture
// file: it streams payload pieces into blobs, adds what only user space can
// know (the caller's executable, argv and container, the host's identity),
// seals chunks often enough that a crash loses at most a second, and rotates
// files between calls.
package recorder

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
)

// Rotation says when to start a new part of a capture set (tcpdump -C/-G).
// A part is only ever closed between calls, so no call spans two files.
type Rotation struct {
	Size  int64         // start a new part once the current one holds this many bytes (0: never)
	Every time.Duration // start a new part this long after the current one was opened (0: never)
}

// Config is what one recording needs.
type Config struct {
	Source Source
	Sink   Sink
	// Header carries host identity and options (see HostHeader). The
	// recorder sets AttachMode, SetID, Part and the clock pair of each part.
	Header format.Header
	Writer format.WriterOptions
	Rotate Rotation
	// Count stops the recording after this many completed calls (0: no limit).
	Count uint64
	// Snaplen is the per-payload limit given to BPF (0: none); it tells the
	// recorder where BPF meant to stop a payload it marked "snaplen".
	Snaplen uint64
	// ProcRoot is where caller details are read (default "/proc").
	ProcRoot string
	// TickInterval is how often pending records are checked for sealing
	// (default 200 ms); StatsInterval how often a STATS chunk is written
	// (default 5 s).
	TickInterval  time.Duration
	StatsInterval time.Duration
	// StaleAfter: a call that has sent nothing for this long (its EXIT was
	// probably lost) no longer holds back a due rotation (default 10 s).
	StaleAfter time.Duration
	// OnRecord, when set, sees every record written, in file order, on the
	// recording goroutine (record --json feeds its decoder from here). The
	// record's Data must not be kept after the call returns.
	OnRecord func(format.Record)
	// OnPart, when set, is called with the header of each part as it is
	// opened (before any of its records reach OnRecord).
	OnPart func(h format.Header, name string)
	// OnPartClosed, when set, is called with the name of each part once it
	// is complete (trailer written, file closed): rotated out, or the last
	// one at a clean stop. Shipping uploads from here.
	OnPartClosed func(name string)
	// Bound, when set, bounds the total size of the output's parts
	// (record --max-total); it needs a rotating file sink.
	Bound *TotalBound
	// Guard, when set, holds back payload bytes, then stops the recording,
	// as free disk space runs low (record --min-free).
	Guard *DiskGuard
}

// Progress is a snapshot of a running recording, safe to read from any goroutine.
type Progress struct {
	CallsSeen      uint64 // ENTER records
	CallsCompleted uint64 // EXIT records
	PayloadBytes   uint64 // payload bytes received from BPF
	RingRecords    uint64 // records read from the ring
	Dropped        uint64 // records BPF could not reserve (summed *_dropped counters)
	File           string // current part
	Part           uint32
	Bytes          int64 // bytes written to the current part
	// OverMaxTotal: bytes by which the output's parts exceed --max-total
	// because what is left may not be removed (0: within the bound).
	OverMaxTotal int64
}

// Summary is what a finished recording did.
type Summary struct {
	Progress
	Files []string     // parts written, in order (removed ones included)
	Stats format.Stats // the last STATS written
}

// DiskFullError says the disk filled up: the recording stopped and the file
// was cut back to its last sealed chunk.
type DiskFullError struct {
	File string
	Kept int64 // bytes kept in File
	Err  error
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("disk full writing %s: stopped; kept %d bytes, valid up to the last sealed chunk", e.File, e.Kept)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// Limits that keep memory bounded whatever the ring delivers.
const (
	maxOpenCalls = 1024 // calls with no EXIT yet
	// maxOpenPayloads bounds payloads being assembled at once (each holds
	// one blob piece, 1 MiB by default). Only many threads entering
	// kexec_load together open more than a few.
	maxOpenPayloads = 64
	maxEvicted      = 4096 // evicted payload keys remembered to discard their late pieces

	drainQuiet  = 100 * time.Millisecond
	drainMax    = time.Second
	maxBadNotes = 20 // malformed records described in notes; later ones are only counted
)

// Recorder runs one recording. Use New, then Run once.
type Recorder struct {
	cfg Config
	bo  content.ByteOrder // of the raw records: the host's, as BPF emits them

	w         *content.Writer
	file      SinkFile
	part      uint32
	partStart time.Time
	setID     [16]byte
	files     []string
	rotateDue bool
	bound     *boundState // nil without Config.Bound
	guard     *guardState // nil without Config.Guard

	calls   map[uint64]*callState
	nOpen   int                 // payloads being assembled, over all calls
	useSeq  uint64              // orders payloads by last use, for eviction
	evicted map[payloadKey]bool // payloads given up before their END
	asm     assemblyStats       // fed by every payload assembly
	// maxStored caps one payload's blob (see maxBlobPieces).
	maxStored uint64

	counters      []uint64
	countersErr   bool
	lastCounters  time.Time
	lastStats     time.Time
	statsWritten  format.Stats
	callsSeen     uint64
	completed     uint64
	abandoned     uint64
	recordsOut    uint64
	payloadBytes  uint64
	ringRecords   uint64
	pieces        uint64
	payloads      uint64
	incomplete    uint64
	badRecords    uint64
	dropped       uint64
	progressMu    sync.Mutex
	progressState Progress
}

type callState struct {
	id       uint64
	last     time.Time
	payloads map[payloadKey]*assembly
	entered  bool     // its ENTER was seen (callerinfo.go)
	early    [][]byte // CALLER/ARGS records held until the ENTER
	// policyCut: BPF's unprivileged policy cut one of its payloads, so the
	// caller failed the CAP_SYS_BOOT test (not evidence for --keep-evidence).
	policyCut bool
}

// New returns a recorder for cfg.
func New(cfg Config) *Recorder {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 200 * time.Millisecond
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 5 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 10 * time.Second
	}
	pieceSize := uint64(cfg.Writer.PieceSize)
	if pieceSize == 0 {
		pieceSize = 1 << 20 // format's default
	}
	r := &Recorder{cfg: cfg, bo: binary.NativeEndian, calls: make(map[uint64]*callState), evicted: make(map[payloadKey]bool),
		maxStored: pieceSize * maxBlobPieces}
	if cfg.Bound != nil && cfg.Sink.Rotates() {
		r.bound = newBoundState(*cfg.Bound)
	}
	if cfg.Guard != nil && cfg.Guard.MinFree > 0 {
		r.guard = newGuardState(*cfg.Guard)
	}
	return r
}

// Progress returns a snapshot of the recording so far.
func (r *Recorder) Progress() Progress {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	return r.progressState
}
