package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/kexecrec/kexecrec/bpf"
	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Attach modes (AttachConfig.Mode, Source.Mode, the capture header).
const (
	ModeAuto   = "auto"
	ModeFentry = "fentry"
	ModeKprobe = "kprobe"
	ModeRaw    = "raw"
)

// Defaults for AttachConfig's zero values.
//
// Time policy (the full statement is at the config block of
// bpf/kexecrec.c): each hook invocation gets a wait budget chosen by the
// caller's CAP_SYS_BOOT (RingWait or RingWaitUnprivileged) and a hard time
// limit (that budget plus a copy allowance). A piece that cannot be
// reserved once waiting cannot help ends its payload, with the rest counted
// as dropped; nobody waits when one piece cannot fit in the ring or when
// only one CPU is online.
const (
	// DefaultRingBytes holds 64 full payload pieces: enough for bursts,
	// small enough to keep the recorder's memory modest (the ring is
	// mapped into the reader).
	DefaultRingBytes = 16 << 20
	// DefaultRingWait is how long, in total, one hook invocation (one
	// syscall entry with all its payloads) of a caller holding
	// CAP_SYS_BOOT may wait for the reader to free ring space before the
	// payload in progress ends and the rest is dropped and counted. It lets
	// a payload far larger than the ring (a 256 MiB initrd) pass without
	// loss even when the reader is slower than the copy.
	DefaultRingWait = 5 * time.Second
	// DefaultRingWaitUnprivileged is the same budget for callers WITHOUT
	// CAP_SYS_BOOT in the initial user namespace: none. The hooks run at
	// syscall entry, before the kernel's capability check, so any user
	// reaches them; the kernel will answer EPERM, and such a caller must not
	// be able to make BPF spin a CPU. Their payloads are still captured as
	// far as the ring holds them, and marked ring-full beyond.
	DefaultRingWaitUnprivileged = 0
	// MaxRingWait caps both waits: the BPF programs spin with preemption
	// disabled (kprobes) or in an RCU read section (fentry, tp_btf) while
	// they wait, and the kernel's soft-lockup and RCU-stall detectors fire
	// at about 20 s.
	MaxRingWait = 10 * time.Second

	// copyAllowance and copyAllowanceUnprivileged are added to the wait
	// budgets to make the hard time limit of one hook invocation (waiting
	// plus copying; past it the payload ends, flagged loop-limit). 10 s of
	// waiting plus 5 s stays below the ~20 s lockup detectors.
	//
	// 100 ms lets an unprivileged caller fill the default 16 MiB ring at
	// 160 MiB/s. The copy can be far slower than memcpy: in the qemu (TCG)
	// guests of the test bed on a loaded CI host it ran at 390-560 MB/s
	// (Debian 6.1 and 6.12; 1.2-2.6 GB/s on an idle host), and the earlier
	// 20 ms cut a refused 8 MiB kexec_load short there. A longer stall is
	// not worth it for a call the kernel will refuse anyway.
	copyAllowance             = 5 * time.Second
	copyAllowanceUnprivileged = 100 * time.Millisecond
)

// AttachConfig selects the hooks and the BPF-side capture settings.
type AttachConfig struct {
	// Mode is "auto" (or ""), "fentry", "kprobe" or "raw". Auto probes the
	// kernel and takes the first that works in that order; a forced mode
	// that does not work is an error.
	Mode string
	// Snaplen caps the bytes captured per payload; 0 = everything.
	Snaplen uint64
	// NoPayload records calls and payload sizes but no payload bytes.
	NoPayload bool
	// RingBytes is the ring buffer size: a power of two, at least one page;
	// 0 = DefaultRingBytes.
	RingBytes int
	// RingWait bounds the total wait for ring space of one hook invocation
	// (a kexec call's entry with all its payload pieces) of a caller with
	// CAP_SYS_BOOT: 0 = DefaultRingWait, negative = never wait (drop at
	// once and count it), at most MaxRingWait.
	RingWait time.Duration
	// RingWaitUnprivileged is the same for callers without CAP_SYS_BOOT
	// (who get EPERM): 0 = DefaultRingWaitUnprivileged, negative = never
	// wait, at most MaxRingWait. Keep it small: see
	// DefaultRingWaitUnprivileged.
	RingWaitUnprivileged time.Duration
	// OnlyPID, when not 0, records only the calls of that process (tests
	// and benchmarks on a shared machine); 0 records every process.
	OnlyPID uint32
	// MaxArgs bounds the caller's argv (and environment) bytes read at
	// entry: 0 = DefaultMaxArgs, at most MaxArgsLimit. Env also records
	// the caller's environment.
	MaxArgs int
	Env     bool

	// noCallerReads (benchmarks only) skips the caller reads at entry.
	noCallerReads bool
	// noCopyAllowance (tests only) makes the hard time limit equal to the
	// wait budget, so a test can reach it without copying gigabytes.
	noCopyAllowance bool
}

// hook is one program to attach.
type hook struct {
	prog   string // program name in the object
	kind   string // "tracing", "kprobe", "kretprobe"
	symbol string // kprobe symbol
}

// bpfSource is the Source backed by the loaded BPF programs.
type bpfSource struct {
	mode     string
	warnings []string
	coll     *ebpf.Collection
	links    []link.Link
	reader   *ringbuf.Reader
	counters *ebpf.Map

	closeOnce   sync.Once
	closeErr    error
	draining    atomic.Bool
	releaseOnce sync.Once
	countersMu  sync.Mutex
	final       []uint64 // counters as they were when the map was freed
	warnMu      sync.Mutex
	lostAtStop  int         // bytes still in the ring when releaseTimeout freed it
	spare       chan []byte // record buffers handed back (Recycle)
}

// releaseTimeout bounds how long the ring and programs stay allocated after
// Close when nobody reads the ring to its end. Normally Read frees them as
// soon as it has handed out the last record; this timer only covers a
// caller that stopped reading, and it is long so that a slow recorder still
// draining a full ring is never cut short. Whatever is still in the ring
// when it fires is reported (Warnings: lost_at_stop_bytes).
const releaseTimeout = 30 * time.Second

// Attach loads the BPF programs, attaches them in the chosen mode and
// returns a Source over their ring buffer.
func Attach(cfg AttachConfig) (Source, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = ModeAuto
	}
	switch mode {
	case ModeAuto, ModeFentry, ModeKprobe, ModeRaw:
	default:
		return nil, fmt.Errorf("recorder: unknown attach mode %q (want auto, fentry, kprobe or raw)", cfg.Mode)
	}
	ring := cfg.RingBytes
	if ring == 0 {
		ring = DefaultRingBytes
	}
	if ring < os.Getpagesize() || ring&(ring-1) != 0 {
		return nil, fmt.Errorf("recorder: ring buffer size %d: must be a power of two of at least %d bytes", ring, os.Getpagesize())
	}
	limits, err := cfg.TimeLimits()
	if err != nil {
		return nil, err
	}

	if err := checkPrivileges(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("recorder: raise memlock limit: %w", err)
	}
	if err := checkKernel(); err != nil {
		return nil, err
	}

	var warnings []string
	if ring < 2*(layout.PieceSize+layout.PieceMax+8) {
		warnings = append(warnings, fmt.Sprintf("ring buffer of %d bytes cannot hold a full %d-byte payload piece: payloads over 4 KiB will be dropped", ring, layout.PieceMax))
	}

	mode, err = chooseMode(mode)
	if err != nil {
		return nil, err
	}
	hooks, more := hooksFor(mode)
	warnings = append(warnings, more...)

	spec, err := bpf.LoadKexecrec()
	if err != nil {
		return nil, fmt.Errorf("recorder: load BPF object: %w", err)
	}
	keep := map[string]bool{}
	for _, h := range hooks {
		keep[h.prog] = true
	}
	// Programs for other modes would fail to load where their hooks do
	// not exist: drop them before loading.
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
	spec.Maps["events"].MaxEntries = uint32(ring)
	noPayload := uint32(0)
	if cfg.NoPayload {
		noPayload = 1
	}
	for name, v := range map[string]any{
		"cfg_snaplen":    cfg.Snaplen,
		"cfg_no_payload": noPayload,
		"cfg_only_tgid":  cfg.OnlyPID,
		// The time policy (see the comment at the config block in
		// bpf/kexecrec.c).
		"cfg_wait_ns":         uint64(limits.Wait),
		"cfg_wait_unpriv_ns":  uint64(limits.WaitUnprivileged),
		"cfg_limit_ns":        uint64(limits.Limit),
		"cfg_limit_unpriv_ns": uint64(limits.LimitUnprivileged),
		"cfg_nr_cpus":         uint32(OnlineCPUs()),
		"cfg_max_args":        cfg.maxArgs(),
		"cfg_env":             boolU32(cfg.Env),
		"cfg_caller":          boolU32(!cfg.noCallerReads),
	} {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("recorder: BPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return nil, fmt.Errorf("recorder: set %s: %w", name, err)
		}
	}

	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("recorder: BPF verifier rejected the programs: %s", verifierTail(ve))
		}
		return nil, fmt.Errorf("recorder: load BPF programs: %w", err)
	}
	s := &bpfSource{mode: mode, warnings: warnings, coll: coll, counters: coll.Maps["counters"],
		spare: make(chan []byte, recycleBuffers)}
	for _, h := range hooks {
		l, err := attachHook(coll.Programs[h.prog], h)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("recorder: attach %s: %w", h.prog, err)
		}
		s.links = append(s.links, l)
	}
	s.reader, err = ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("recorder: open ring buffer: %w", err)
	}
	return s, nil
}

// TimeLimits is the time policy of one hook invocation, resolved from an
// AttachConfig. The recorder writes it into the capture header: a payload
// flagged loop-limit was cut by Limit or LimitUnprivileged, and the reader
// of a capture should not have to guess their values.
type TimeLimits struct {
	// Wait and WaitUnprivileged bound the total wait for ring space of
	// callers with and without CAP_SYS_BOOT.
	Wait, WaitUnprivileged time.Duration
	// Limit and LimitUnprivileged are the hard limits: the wait budget
	// plus the copy allowance.
	Limit, LimitUnprivileged time.Duration
}

// TimeLimits resolves the configuration's wait budgets (0 = default,
// negative = none) and adds the copy allowances.
func (cfg AttachConfig) TimeLimits() (TimeLimits, error) {
	wait, err := ringWait(cfg.RingWait, DefaultRingWait)
	if err != nil {
		return TimeLimits{}, err
	}
	waitUnpriv, err := ringWait(cfg.RingWaitUnprivileged, DefaultRingWaitUnprivileged)
	if err != nil {
		return TimeLimits{}, err
	}
	allowance, allowanceUnpriv := copyAllowance, copyAllowanceUnprivileged
	if cfg.noCopyAllowance {
		allowance, allowanceUnpriv = 0, 0
	}
	return TimeLimits{Wait: wait, WaitUnprivileged: waitUnpriv,
		Limit: wait + allowance, LimitUnprivileged: waitUnpriv + allowanceUnpriv}, nil
}

// ringWait resolves a RingWait setting: 0 = def, negative = no wait.
func ringWait(d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, nil
	case d > MaxRingWait:
		return 0, fmt.Errorf("recorder: ring wait %v: at most %v (BPF waits with preemption off or inside an RCU read section)", d, MaxRingWait)
	}
	return d, nil
}

// OnlineCPUs counts the online CPUs (/sys/devices/system/cpu/online, a
// list like "0-3,6"). With one CPU BPF never waits for ring space: with
// preemption off, the reader could not run to drain it (the recorder
// writes the count into the capture header for that reason). When the file
// cannot be read, the CPUs this process may use stand in.
func OnlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n, err := countCPUList(strings.TrimSpace(string(b)))
	if err != nil || n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// countCPUList counts the CPUs in a kernel CPU list ("0-3,6").
func countCPUList(s string) (int, error) {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", s, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("cpu list %q: bad range %q", s, part)
		}
		n += b - a + 1
	}
	return n, nil
}

// chooseMode resolves "auto" by probing, or checks a forced mode.
func chooseMode(mode string) (string, error) {
	if mode != ModeAuto {
		if err := probeMode(mode); err != nil {
			return "", fmt.Errorf("recorder: attach mode %s not available on this kernel: %w", mode, err)
		}
		return mode, nil
	}
	var why []string
	for _, m := range []string{ModeFentry, ModeKprobe, ModeRaw} {
		err := probeMode(m)
		if err == nil {
			return m, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", m, err))
	}
	return "", fmt.Errorf("recorder: no attach mode works on this kernel (%s)", strings.Join(why, "; "))
}

// hooksFor lists the programs of a mode, dropping optional ones the kernel
// does not offer (with a warning each).
func hooksFor(mode string) ([]hook, []string) {
	var hooks []hook
	var warnings []string
	wrappers := []struct {
		sym, suffix string
		optional    bool
		why         string
	}{
		{symKexecLoad, "kexec_load", false, ""},
		{symKexecFileLoad, "kexec_file_load", false, ""},
		{symCompatKexecLoad, "compat_kexec_load", true, "32-bit (ia32) kexec_load calls will not be seen"},
		{symX32KexecLoad, "x32_kexec_load", true, "x32 kexec_load calls will not be seen"},
	}
	switch mode {
	case ModeRaw:
		hooks = append(hooks, hook{prog: "raw_sys_enter", kind: "tracing"}, hook{prog: "raw_sys_exit", kind: "tracing"})
	case ModeFentry, ModeKprobe:
		for _, w := range wrappers {
			if w.optional {
				if err := probeOptional(mode, w.sym); err != nil {
					warnings = append(warnings, fmt.Sprintf("no %s hook on %s (%s): %v", mode, w.sym, w.why, shortErr(err)))
					continue
				}
			}
			if mode == ModeFentry {
				hooks = append(hooks,
					hook{prog: "fentry_" + w.suffix, kind: "tracing"},
					hook{prog: "fexit_" + w.suffix, kind: "tracing"})
			} else {
				hooks = append(hooks,
					hook{prog: "kprobe_" + w.suffix, kind: "kprobe", symbol: w.sym},
					hook{prog: "kretprobe_" + w.suffix, kind: "kretprobe", symbol: w.sym})
			}
		}
	}

	// kexec_file_load's kernel and initrd bytes, as the kernel read them.
	fentryErr := probeTracing(ebpf.AttachTraceFEntry, symPostReadFile)
	if fentryErr == nil {
		return append(hooks, hook{prog: "fentry_post_read_file", kind: "tracing"}), warnings
	}
	kprobeErr := probeKprobe(symPostReadFile, false)
	if kprobeErr == nil {
		return append(hooks, hook{prog: "kprobe_post_read_file", kind: "kprobe", symbol: symPostReadFile}), warnings
	}
	warnings = append(warnings, fmt.Sprintf("no hook on %s: kexec_file_load kernel and initrd bytes will not be captured (fentry: %v; kprobe: %v)",
		symPostReadFile, shortErr(fentryErr), shortErr(kprobeErr)))
	return hooks, warnings
}

func attachHook(prog *ebpf.Program, h hook) (link.Link, error) {
	if prog == nil {
		return nil, fmt.Errorf("program %s missing from the object", h.prog)
	}
	switch h.kind {
	case "kprobe":
		return link.Kprobe(h.symbol, prog, nil)
	case "kretprobe":
		return link.Kretprobe(h.symbol, prog, nil)
	default:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	}
}

// shortErr keeps warnings on one line.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// verifierTail keeps the end of a verifier log, where the reason is.
func verifierTail(ve *ebpf.VerifierError) string {
	log := ve.Log
	if len(log) > 8 {
		log = log[len(log)-8:]
	}
	return ve.Cause.Error() + ": " + strings.Join(log, " | ")
}

// recycleBuffers bounds the record buffers kept for reuse: enough for the
// records in flight between the reading goroutine and the recorder.
const recycleBuffers = 16

// Read returns the next ring record, trimmed to its header's size, in a
// buffer handed back through Recycle when possible.
func (s *bpfSource) Read() ([]byte, error) {
	var rec ringbuf.Record
	select {
	case rec.RawSample = <-s.spare:
	default:
	}
	err := s.reader.ReadInto(&rec)
	for errors.Is(err, ringbuf.ErrFlushed) && !s.draining.Load() {
		err = s.reader.ReadInto(&rec) // only Close flushes; be safe anyway
	}
	if err != nil {
		if errors.Is(err, ringbuf.ErrFlushed) {
			// Close detached the hooks and flushed: every record that was
			// in the ring has been handed out, so the stop lost nothing.
			s.release()
			return nil, ErrClosed
		}
		if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	b := rec.RawSample
	if len(b) >= layout.HeaderSize {
		// Piece records are reserved in fixed sizes; the header says how
		// much of the reservation is the record.
		if n := binary.NativeEndian.Uint32(b[4:8]); int(n) >= layout.HeaderSize && int(n) <= len(b) {
			b = b[:n]
		}
	}
	return b, nil
}

// Recycle takes back a record Read returned.
func (s *bpfSource) Recycle(rec []byte) {
	if cap(rec) == 0 {
		return
	}
	select {
	case s.spare <- rec[:cap(rec)]:
	default:
	}
}

// Counters sums the per-CPU counters.
func (s *bpfSource) Counters() ([]uint64, error) {
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	if s.final != nil {
		// Released: the map is gone, its last values were kept for the
		// capture's final statistics chunk.
		return append([]uint64(nil), s.final...), nil
	}
	return s.readCounters()
}

func (s *bpfSource) readCounters() ([]uint64, error) {
	out := make([]uint64, len(layout.CounterNames))
	for i := range out {
		var perCPU []uint64
		if err := s.counters.Lookup(uint32(i), &perCPU); err != nil {
			return nil, fmt.Errorf("recorder: read counter %s: %w", layout.CounterNames[i], err)
		}
		for _, v := range perCPU {
			out[i] += v
		}
	}
	return out, nil
}

func (s *bpfSource) Mode() string { return s.mode }

func (s *bpfSource) Warnings() []string {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	return append([]string(nil), s.warnings...)
}

// LostAtStop is the number of record bytes that were still in the ring
// when it was freed without having been read (0 when the reader drained
// it, which is the normal stop).
func (s *bpfSource) LostAtStop() int {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	return s.lostAtStop
}

// Close detaches the hooks, unblocks Read and frees the BPF objects. It may
// be called from another goroutine (a signal handler) while Read blocks.
func (s *bpfSource) Close() error {
	s.closeOnce.Do(func() {
		// Detach first so nothing new arrives, then flush: Read hands out
		// what is still in the ring (a call that returned just before the
		// stop) and only then reports ErrClosed and frees the ring. The
		// timer frees it anyway if nobody reads to the end.
		var errs []error
		for _, l := range s.links {
			errs = append(errs, l.Close())
		}
		s.draining.Store(true)
		if s.reader != nil {
			errs = append(errs, s.reader.Flush())
		}
		if s.reader == nil {
			s.release() // Attach failed before the ring was opened: nothing to drain
		} else {
			time.AfterFunc(releaseTimeout, s.releaseUnread)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// releaseUnread frees the ring after releaseTimeout when Read did not
// drain it, reporting what was still in it as lost.
func (s *bpfSource) releaseUnread() {
	s.releaseOnce.Do(func() {
		if s.reader != nil {
			if n := s.reader.AvailableBytes(); n > 0 {
				s.warnMu.Lock()
				s.lostAtStop = n
				s.warnings = append(s.warnings, fmt.Sprintf("lost_at_stop_bytes %d: the ring still held %d bytes of records when it was freed %v after the stop (they were not read)", n, n, releaseTimeout))
				s.warnMu.Unlock()
			}
		}
		s.free()
	})
}

// release frees the ring reader and the BPF objects, once.
func (s *bpfSource) release() { s.releaseOnce.Do(s.free) }

// free keeps the last counter values, then frees the ring reader and the
// BPF objects (called once, through releaseOnce).
func (s *bpfSource) free() {
	s.countersMu.Lock()
	if c, err := s.readCounters(); err == nil {
		s.final = c
	} else {
		s.final = make([]uint64, len(layout.CounterNames))
	}
	s.countersMu.Unlock()
	if s.reader != nil {
		s.reader.Close()
	}
	s.coll.Close()
}
