package recorder

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
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
	// ModeLSM forces the BPF-LSM hook for kexec_file_load's files (see
	// filehook.go), with the first syscall mode that needs no kprobes:
	// fentry, else raw.
	ModeLSM = "lsm"
)

// DefaultRingBytes, the ring size for AttachConfig.RingBytes 0, holds 64
// full payload pieces: enough for bursts, small enough to keep the
// recorder's memory modest (the ring is mapped into the reader).
const DefaultRingBytes = 16 << 20

// AttachConfig selects the hooks and the BPF-side capture settings.
type AttachConfig struct {
	// Mode is "auto" (or ""), "fentry", "kprobe", "raw" or "lsm". Auto
	// probes the kernel and takes the first that works in that order; a
	// forced mode that does not work is an error. Lsm is fentry, else raw,
	// with kexec_file_load's files read by the BPF-LSM hook.
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
	// Unprivileged bounds the payload bytes of callers without
	// CAP_SYS_BOOT (the zero value bounds nothing; record applies
	// DefaultUnprivilegedPolicy).
	Unprivileged UnprivilegedPolicy
	// noCallerReads (benchmarks only) skips the caller reads at entry.
	noCallerReads bool

	// noCopyAllowance (tests only) makes the hard time limit equal to the
	// wait budget, so a test can reach it without copying gigabytes.
	noCopyAllowance bool
	// observeReturns (benchmarks only) keeps raw mode's sys_exit hook even
	// on a kernel without kexec, to measure what sys_enter alone saves.
	observeReturns bool
}

// Attach loads the BPF programs, attaches them in the chosen mode and
// returns a Source over their ring buffer.
func Attach(cfg AttachConfig) (Source, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = ModeAuto
	}
	switch mode {
	case ModeAuto, ModeFentry, ModeKprobe, ModeRaw, ModeLSM:
	default:
		return nil, fmt.Errorf("recorder: unknown attach mode %q (want auto, fentry, kprobe, raw or lsm)", cfg.Mode)
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
	if err := cfg.Unprivileged.validate(); err != nil {
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

	var lims []Limitation
	if ring < 2*(layout.PieceSize+layout.PieceMax+8) {
		lims = append(lims, smallRingLimitation(ring))
	}

	kt, err := newKernelTargets(fentryTargets)
	if err != nil {
		return nil, err
	}
	forceLSM := mode == ModeLSM
	mode, err = chooseMode(kt, mode)
	if err != nil {
		return nil, err
	}
	spec, err := bpf.LoadKexecrec()
	if err != nil {
		return nil, fmt.Errorf("recorder: load BPF object: %w", err)
	}
	var objs bpf.KexecrecSpecs
	if err := spec.Assign(&objs); err != nil {
		return nil, fmt.Errorf("recorder: BPF object does not match its generated loader (run go generate ./bpf): %w", err)
	}
	var kexec kexecVerdict
	if mode == ModeRaw && !cfg.observeReturns {
		if kexec, err = probeKexecAbsent(); err != nil {
			lims = append(lims, Limitation{
				Plain:  "could not tell whether this kernel has kexec: both raw hooks attached (every syscall pays for two)",
				Detail: fmt.Sprintf("could not tell whether this kernel has kexec (%s): both raw hooks attached", shortErr(err)),
			})
		}
	}
	hooks, more := hooksFor(kt, mode, kexec.Absent, &objs.KexecrecProgramSpecs)
	lims = append(lims, more...)
	// kexec_file_load's kernel and initrd bytes, as the kernel read them
	// (none on a kernel without kexec, where nothing is ever read for it,
	// unless the lsm mode asks for that hook).
	fileHook := FileHookNone
	if !kexec.Absent || forceLSM {
		h, name, lim, err := chooseFileHook(kt, forceLSM, &objs.KexecrecProgramSpecs)
		if err != nil {
			return nil, err
		}
		if h != nil {
			hooks = append(hooks, *h)
		}
		if lim != nil {
			lims = append(lims, *lim)
		}
		fileHook = name
	}
	infos := kt.notes()
	if mode != ModeFentry {
		infos = nil // the resolution matters only to the fentry programs
	}
	if kexec.Absent {
		lims = append(lims, noKexecLimitation(kexec.Evidence))
	}
	rb := planReadback(kexec.Absent)
	if rb.limitation != nil {
		lims = append(lims, *rb.limitation)
	}
	warnings := make([]string, len(lims))
	for i, l := range lims {
		warnings[i] = l.Detail
	}

	// Programs for other modes would fail to load where their hooks do
	// not exist: drop them before loading.
	keep := map[*ebpf.ProgramSpec]bool{}
	for _, h := range hooks {
		keep[h.prog] = true
	}
	for name, prog := range spec.Programs {
		if !keep[prog] {
			delete(spec.Programs, name)
		}
	}
	objs.Events.MaxEntries = uint32(ring)
	if err := setConfig(&objs.KexecrecVariableSpecs, cfg, limits, kexec.Absent); err != nil {
		return nil, err
	}
	if err := setReadbackConfig(&objs.KexecrecVariableSpecs, rb); err != nil {
		return nil, err
	}

	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: kt.cache})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("recorder: BPF verifier rejected the programs: %s", verifierTail(ve))
		}
		return nil, fmt.Errorf("recorder: load BPF programs: %w", err)
	}
	s := &bpfSource{mode: mode, fileHook: fileHook, infos: infos, warnings: warnings, limits: lims, coll: coll,
		spare: make(chan []byte, recycleBuffers)}
	if kexec.Absent {
		s.knownReturn, s.knownReturnWhy = KnownENOSYS, kexec.Evidence
	}
	// The maps move out of the collection into their generated struct
	// (ownership too: free closes both).
	if err := coll.Assign(&s.maps); err != nil {
		coll.Close()
		return nil, fmt.Errorf("recorder: BPF maps: %w", err)
	}
	for _, h := range hooks {
		l, err := attachHook(coll.Programs[h.prog.Name], h)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("recorder: attach %s: %w", h.prog.Name, err)
		}
		s.links = append(s.links, l)
	}
	s.reader, err = ringbuf.NewReader(s.maps.Events)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("recorder: open ring buffer: %w", err)
	}
	return s, nil
}

// setConfig writes the capture settings and the time policy into the
// object's read-only globals (the config block of bpf/kexecrec.c, where the
// time policy and the unprivileged policy are stated in full). noKexec makes raw_sys_enter emit each
// call's exit itself (ENOSYS, known in advance).
func setConfig(vars *bpf.KexecrecVariableSpecs, cfg AttachConfig, limits TimeLimits, noKexec bool) error {
	noPayload, retKnown := uint32(0), uint32(0)
	if cfg.NoPayload {
		noPayload = 1
	}
	if noKexec {
		retKnown = 1
	}
	for _, v := range []struct {
		spec  *ebpf.VariableSpec
		value any
	}{
		{vars.CfgSnaplen, cfg.Snaplen},
		{vars.CfgNoPayload, noPayload},
		{vars.CfgOnlyTgid, cfg.OnlyPID},
		{vars.CfgWaitNs, uint64(limits.Wait)},
		{vars.CfgWaitUnprivNs, uint64(limits.WaitUnprivileged)},
		{vars.CfgLimitNs, uint64(limits.Limit)},
		{vars.CfgLimitUnprivNs, uint64(limits.LimitUnprivileged)},
		{vars.CfgNrCpus, uint32(OnlineCPUs())},
		{vars.CfgMaxArgs, cfg.maxArgs()},
		{vars.CfgEnv, boolU32(cfg.Env)},
		{vars.CfgCaller, boolU32(!cfg.noCallerReads)},
		{vars.CfgRetKnownEnosys, retKnown},
		{vars.CfgUnprivSnaplen, cfg.Unprivileged.Snaplen},
		{vars.CfgUnprivRate, cfg.Unprivileged.Rate},
		{vars.CfgUnprivBurst, cfg.Unprivileged.Burst},
		{vars.CfgUnprivTotalRate, cfg.Unprivileged.TotalRate},
		{vars.CfgUnprivTotalBurst, cfg.Unprivileged.TotalBurst},
		{vars.CfgUnprivRingBytes, cfg.Unprivileged.RingBytes},
	} {
		if err := v.spec.Set(v.value); err != nil {
			return fmt.Errorf("recorder: set %s: %w", v.spec.Name, err)
		}
	}
	return nil
}
