package vmtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// kernelReport is one kernel's row block of the results table.
type kernelReport struct {
	Series, Package, Release string
	Arch                     string // GOARCH of the guest
	// BootSeconds is the guest's uptime when the agent started (kernel
	// boot under TCG), 0 when no results came back.
	BootSeconds  float64
	Modes        []string
	Elapsed      time.Duration
	SecondBoot   string // the marker line, or "" when not seen
	Cells        map[string]*cell
	BootProblems []string
	Captures     map[string]string
	Results      []plan.Result
	Payloads     string // what was loaded, for the table's caption
	Config       string // the kernel's config file
	BootArgs     string // added to the kernel command line (lsm=...,bpf)
	FentryIDs    map[string]btf.TypeID
	Overheads    []OverheadRow
}

// cell is one kernel x mode x scenario outcome.
type cell struct {
	Ran      bool
	Problems []string
	Calls    int
	Bytes    int64
	Seconds  float64
	// EntryCopy, for the refused unprivileged call, says how long the
	// call took from entry to exit: almost all of it is the hooks copying
	// the payloads, which the unprivileged time limit bounds.
	EntryCopy string
	// ReadBack, for the race, says in how many tries the read-back caught
	// the kernel staging other bytes than the entry copy shows.
	ReadBack string
	// RaceCaught: in how many of the race's tries the read-back caught
	// the kernel staging the raced bytes.
	RaceCaught int
	// Caller is what BPF read about the calls' callers at entry.
	Caller string
}

func cellKey(mode, scenario string) string { return mode + "/" + scenario }

// expectations holds the hashes the recorder must report, computed on the host.
type expectations struct {
	kernelSeg, vmlinuz, initrd, execInitrd, cmdline, badSeg, badCmdline string
	// appendText is the command line the loads pass (--append).
	appendText string
	// The bytes of the kernel segment and the small initrd, to check the
	// prefix of a payload the unprivileged time limit cut.
	kernelSegBytes, initrdBytes []byte
	// The executables that make calls in the guest, for the caller checks.
	callerSizes callerSizes
	// arch: the guest's syscall numbers, ABI and kexec_load arch flag.
	arch guestArch
	// noFileLoad: the kernel has no KEXEC_FILE (Debian's arm64 kernels):
	// kexec_file_load is the COND_SYSCALL stub and answers ENOSYS.
	noFileLoad bool
	// dtbAppend (arm64): the dtb segment kexec-tools built from --dtb must
	// carry the --append string as /chosen/bootargs.
	dtbAppend string
	// aarch32Segs and aarch32Cmdline: SHA-256 of the AArch32 scenario's
	// segments (trigger.Pattern) and command line, computed here.
	aarch32Segs    []string
	aarch32Cmdline string
}

func expect(t *testing.T, bt *Boot) expectations {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seg := make([]byte, plan.BadFlagsSegment)
	for i := range seg {
		seg[i] = plan.BadFlagsByte(i)
	}
	initrd := read(bt.Payloads.Initrd)
	cfg := read(bt.Kernel.Config)
	dtbAppend := ""
	if bt.Payloads.Dtb != "" {
		dtbAppend = bt.Payloads.Append
	}
	var aarch32Segs []string
	for i, n := range plan.AArch32Sizes {
		b := make([]byte, n)
		trigger.Pattern(b, plan.AArch32Seed*1000+uint64(i)+1)
		aarch32Segs = append(aarch32Segs, Sha256Hex(b))
	}
	return expectations{
		aarch32Segs:    aarch32Segs,
		aarch32Cmdline: Sha256Hex([]byte(plan.AArch32Cmdline + "\x00")),
		arch:           guestArches[bt.Kernel.Arch],
		noFileLoad:     !bytes.Contains(cfg, []byte("\nCONFIG_KEXEC_FILE=y\n")),
		dtbAppend:      dtbAppend,
		kernelSegBytes: bt.Payloads.KernelSegment,
		initrdBytes:    initrd,
		kernelSeg:      Sha256Hex(bt.Payloads.KernelSegment),
		vmlinuz:        Sha256Hex(read(bt.Payloads.Vmlinuz)),
		initrd:         Sha256Hex(initrd),
		execInitrd:     Sha256Hex(read(bt.Payloads.ExecInitrd)),
		cmdline:        Sha256Hex([]byte(bt.Payloads.Append + "\x00")),
		appendText:     bt.Payloads.Append,
		badSeg:         Sha256Hex(seg),
		badCmdline:     Sha256Hex([]byte(plan.BadFlagsCmdline)),
	}
}

// wantPayload: a complete payload of this kind (and source, when not 0)
// with this SHA-256 must be among the call's payloads.
type wantPayload struct {
	what   string
	kind   uint16
	source uint16
	sha    string
	// data, when known, lets a payload cut by the time limit (see
	// wantCall.timeCut) be checked as a prefix of these bytes.
	data []byte
}

type wantCall struct {
	nr   uint32
	abi  uint32
	load bool // kexec_load (a SEGMENTS record, one payload per segment)
	// dtbAppend: one segment is a flattened device tree holding this
	// command line as bootargs (NUL-terminated).
	dtbAppend string
	// dtbInitrd: the SHA-256 of the initrd segment the device tree's
	// linux,initrd-start/end must span.
	dtbInitrd string
	ret       int64
	comm      string
	flagsArg  int    // index of the flags argument
	flagsMask uint64 // bits of flags that must equal flags
	flags     uint64
	nrSegs    *uint64 // kexec_load nr_segments argument
	payloads  []wantPayload
	noPayload bool // the call must carry no payload at all
	// purgatory: kexec-tools' purgatory is among the segments, and the
	// digest it will check at boot, recomputed over the captured segments
	// by `kexecrec show`, matches (the captured bytes are the booted ones).
	purgatory bool
	// timeCut: the call is an unprivileged one that ran into its hard time
	// limit (see timeCutCall), so payloads may end early, flagged
	// loop-limit, as long as what was captured is an exact prefix.
	timeCut bool
	// policyCut: the call is a refused unprivileged one whose payloads the
	// unprivileged policy cut at this snaplen (see policyCutCall): each
	// payload holds exactly its first min(policyCut, length) bytes,
	// flagged policy and nothing else; 0 = no such cut.
	policyCut uint64
	// readBack: the staged image must be read back, every segment (see
	// checkReadBack); bootCmdline is the text a kernel-built boot
	// parameters segment must carry.
	readBack    bool
	bootCmdline string
	// race: a try of the race scenario (see checkRace).
	race bool
	// readBackOff: the recorder cannot read back on this architecture;
	// any LOADED record must say so (status mode), none may claim a read.
	readBackOff bool
}

const (
	nrLoad = 246
	nrFile = 320
	eperm  = -1
	einval = -22
	enosys = -38
	// kexec-tools passes KEXEC_ARCH_X86_64 in the top 16 bits of kexec_load's flags.
	archMask = 0xffff0000
	archX86  = 0x3e0000
	// An AArch32 task's kexec_load and kexec_file_load on arm64
	// (arch/arm64/tools/syscall_32.tbl), and the comm of the trigger
	// making them (its file name, guestTrigger32).
	nrLoadAArch32 = 347
	nrFileAArch32 = 401
	aarch32Comm   = "kexec-trigger32"
)

func u64(v uint64) *uint64 { return &v }

// wants lists the calls a scenario must produce, in order.
func (e expectations) wants(scenario string) []wantCall {
	kload := func(ret int64, flagBits uint64, initrd string) wantCall {
		initrdBytes := e.initrdBytes
		if initrd != e.initrd {
			initrdBytes = nil
		}
		return wantCall{nr: e.arch.NrLoad, abi: e.arch.ABI, load: true, ret: ret, comm: "kexec", flagsArg: 3, flagsMask: archMask | 0xffff,
			flags: e.arch.ArchFlag | flagBits, purgatory: true, dtbAppend: e.dtbAppend, dtbInitrd: initrd,
			readBack: ret == 0 && e.arch.ABI == layout.ABIX64, readBackOff: e.arch.ABI != layout.ABIX64,
			payloads: []wantPayload{
				{"kernel segment (vmlinuz after setup; arm64: the Image)", layout.KindSegment, layout.SrcSyscallEntry, e.kernelSeg, e.kernelSegBytes},
				{"initrd segment", layout.KindSegment, layout.SrcSyscallEntry, initrd, initrdBytes},
			}}
	}
	cmdline := wantPayload{"command line", layout.KindCmdline, 0, e.cmdline, nil}
	nrLoad, nrFile, abi := e.arch.NrLoad, e.arch.NrFile, e.arch.ABI
	// Without KEXEC_FILE every kexec_file_load answers ENOSYS, whatever its
	// arguments, and is recorded as it was made.
	fileRet := func(ret int64) int64 {
		if e.noFileLoad {
			return enosys
		}
		return ret
	}
	switch scenario {
	case plan.Load, plan.NoPerm:
		ret := int64(0)
		if scenario == plan.NoPerm {
			ret = eperm
		}
		return []wantCall{kload(ret, 0, e.initrd)}
	case plan.ExecLoad:
		w := kload(0, 0, e.execInitrd)
		if e.dtbAppend != "" {
			w.dtbAppend = "" // its command line is ExecAppend; Load checks the dtb
		}
		return []wantCall{w}
	case plan.Crash:
		return []wantCall{kload(0, 1 /* KEXEC_ON_CRASH */, e.initrd)}
	case plan.FileLoad:
		if e.noFileLoad {
			// kexec-tools asks whether the syscall exists and stops at ENOSYS.
			return []wantCall{{nr: nrFile, abi: abi, ret: enosys, comm: "kexec", flagsArg: 4}}
		}
		return []wantCall{{nr: nrFile, abi: abi, ret: 0, comm: "kexec", flagsArg: 4, flagsMask: ^uint64(0), flags: 0,
			readBack: true, bootCmdline: e.appendText,
			payloads: []wantPayload{
				{"kernel as the kernel read it", layout.KindKernel, layout.SrcKernelRead, e.vmlinuz, nil},
				{"initrd as the kernel read it", layout.KindInitrd, layout.SrcKernelRead, e.initrd, nil},
				cmdline,
			}}}
	case plan.Unload:
		return []wantCall{{nr: nrLoad, abi: abi, load: true, ret: 0, comm: "kexec", flagsArg: 3, flagsMask: 0xffff, flags: 0, nrSegs: u64(0), noPayload: true}}
	case plan.BadFlags:
		return []wantCall{
			{nr: nrLoad, abi: abi, load: true, ret: einval, comm: "init", flagsArg: 3, flagsMask: ^uint64(0), flags: e.arch.ArchFlag | plan.BadFlagBit, nrSegs: u64(1),
				payloads: []wantPayload{{"the one segment", layout.KindSegment, layout.SrcSyscallEntry, e.badSeg, nil}}},
			{nr: nrFile, abi: abi, ret: fileRet(einval), comm: "init", flagsArg: 4, flagsMask: ^uint64(0), flags: plan.BadFileLoadFlags,
				payloads: []wantPayload{{"command line", layout.KindCmdline, 0, e.badCmdline, nil}}},
		}
	case plan.Race:
		w := make([]wantCall, plan.RaceTries)
		for i := range w {
			w[i] = wantCall{nr: nrLoad, abi: abi, load: true, ret: 0, comm: "init", flagsArg: 3, flagsMask: ^uint64(0), flags: 0, nrSegs: u64(2), race: true}
		}
		return w
	case plan.Disabled:
		return []wantCall{
			kload(eperm, 0, e.initrd),
			e.disabledFileLoad(cmdline),
		}
	case plan.AArch32:
		var segs []wantPayload
		for i, sha := range e.aarch32Segs {
			segs = append(segs, wantPayload{fmt.Sprintf("segment %d of the 32-bit trigger", i), layout.KindSegment, layout.SrcSyscallEntry, sha, nil})
		}
		return []wantCall{
			{nr: nrLoadAArch32, abi: layout.ABIAArch32, load: true, ret: eperm, comm: aarch32Comm, flagsArg: 3, flagsMask: ^uint64(0),
				flags: plan.AArch32Flags, nrSegs: u64(uint64(len(segs))), payloads: segs},
			{nr: nrFileAArch32, abi: layout.ABIAArch32, ret: fileRet(eperm), comm: aarch32Comm, flagsArg: 4, flagsMask: ^uint64(0), flags: 0,
				payloads: []wantPayload{{"command line of the 32-bit trigger", layout.KindCmdline, 0, e.aarch32Cmdline, nil}}},
		}
	}
	return nil
}

// disabledFileLoad is kexec -s -l after kexec_load_disabled: EPERM with
// its command line, or on a kernel without KEXEC_FILE kexec-tools' ENOSYS
// probe.
func (e expectations) disabledFileLoad(cmdline wantPayload) wantCall {
	if e.noFileLoad {
		return wantCall{nr: e.arch.NrFile, abi: e.arch.ABI, ret: enosys, comm: "kexec", flagsArg: 4}
	}
	return wantCall{nr: e.arch.NrFile, abi: e.arch.ABI, ret: eperm, comm: "kexec", flagsArg: 4, flagsMask: ^uint64(0), flags: 0, payloads: []wantPayload{cmdline}}
}

// evaluate checks every result the guest brought back and returns the
// kernel's block of the results table. Every problem is also a t.Errorf.
func evaluate(t *testing.T, bt *Boot, bed *Bed) *kernelReport {
	kexecrec := bed.Kexecrec
	rep := &kernelReport{Series: bt.Kernel.Series, Package: bt.Kernel.Package, Release: bt.Kernel.Release, Arch: bt.Kernel.Arch,
		Modes: bt.Modes, Elapsed: bt.Elapsed, Cells: map[string]*cell{}, Captures: bt.Captures, Results: bt.Results,
		Config: bt.Kernel.Config, BootArgs: bt.BootArgs, FentryIDs: bt.FentryIDs}
	bootProblem := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		rep.BootProblems = append(rep.BootProblems, msg)
		t.Errorf("%s: %s", bt.Kernel.Series, msg)
	}
	if bt.Boot == nil {
		bootProblem("no results came back from the guest")
		return rep
	}
	rep.BootSeconds = bt.Boot.UptimeAtStart
	if bt.Boot.Release != bt.Kernel.Release {
		bootProblem("guest runs %q, want %q", bt.Boot.Release, bt.Kernel.Release)
	}
	for _, e := range bt.Boot.Errors {
		bootProblem("guest: %s", e)
	}
	if !bt.Boot.ExecStarted {
		bootProblem("the guest did not reach kexec -e")
	}
	for _, line := range strings.Split(bt.ConsoleLog(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), plan.SecondBootMarker) {
			rep.SecondBoot = strings.TrimSpace(line)
		}
	}
	if want := plan.SecondBootMarker + " release=" + bt.Kernel.Release; rep.SecondBoot != want {
		bootProblem("second kernel (kexec -e) did not report booting: want console line %q, got %q", want, rep.SecondBoot)
	}

	if bt.Plan.OverheadCalls > 0 {
		rows, probs := Overheads(bt)
		for _, p := range probs {
			bootProblem("%s", p)
		}
		rep.Overheads = rows
		for _, r := range rows {
			t.Logf("%s: getppid in the guest, %s (fastest rounds): %.0f ns before, %.0f ns with the recorder attached, %.0f ns after (%+.1f%%)",
				bt.Kernel.Series, r.Mode, r.Before, r.With, r.After, r.DeltaPct)
		}
	}

	exp := expect(t, bt)
	sizes, err := newCallerSizes(bt.Tools)
	if err != nil {
		t.Fatal(err)
	}
	exp.callerSizes = sizes
	if st, err := os.Stat(bt.Payloads.Vmlinuz); err == nil {
		rep.Payloads = fmt.Sprintf("vmlinuz %d bytes (sha256 %s…), kernel segment %d bytes after %d setup bytes (sha256 %s…), small initrd sha256 %s…",
			st.Size(), exp.vmlinuz[:12], len(bt.Payloads.KernelSegment), st.Size()-int64(len(bt.Payloads.KernelSegment)), exp.kernelSeg[:12], exp.initrd[:12])
	}
	// Every planned cell must have run.
	for _, mode := range bt.Modes {
		for _, s := range append(slices.Clone(plan.PerMode), plan.Disabled) {
			if bt.Plan.Runs(mode, s) {
				rep.Cells[cellKey(mode, s)] = &cell{}
			}
		}
	}
	// ExecLoad runs once, in the first mode whose load was recorded.
	if !slices.ContainsFunc(bt.Results, func(r plan.Result) bool { return r.Scenario == plan.ExecLoad }) {
		bootProblem("the load for kexec -e did not run")
	}
	// The payload identities each mode saw per scenario: they must agree.
	seen := map[string]map[string]string{} // scenario -> mode -> signature
	for _, r := range bt.Results {
		c := rep.Cells[cellKey(r.Mode, r.Scenario)]
		if c == nil {
			c = &cell{}
			rep.Cells[cellKey(r.Mode, r.Scenario)] = c
		}
		c.Ran = true
		c.Seconds = r.Seconds
		problem := func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			if !slices.Contains(c.Problems, msg) {
				c.Problems = append(c.Problems, msg)
			}
			t.Errorf("%s/%s/%s: %s", bt.Kernel.Series, r.Mode, r.Scenario, msg)
		}
		checkGuestSide(r, exp.noFileLoad, problem)
		sig := checkCapture(bt, r, exp, kexecrec, c, problem)
		if c.ReadBack != "" {
			t.Logf("%s/%s/%s: %s", bt.Kernel.Series, r.Mode, r.Scenario, c.ReadBack)
		}
		if c.EntryCopy != "" {
			t.Logf("%s/%s/%s: %s", bt.Kernel.Series, r.Mode, r.Scenario, c.EntryCopy)
		}
		if sig != "" {
			if seen[r.Scenario] == nil {
				seen[r.Scenario] = map[string]string{}
			}
			seen[r.Scenario][r.Mode] = sig
		}
	}
	for key, c := range rep.Cells {
		if !c.Ran {
			c.Problems = append(c.Problems, "did not run")
			t.Errorf("%s/%s: did not run (guest stopped early?)", bt.Kernel.Series, key)
		}
	}
	for scenario, byMode := range seen {
		var ref, refMode string
		for _, mode := range bt.Modes {
			sig, ok := byMode[mode]
			if !ok {
				continue
			}
			if refMode == "" {
				ref, refMode = sig, mode
				continue
			}
			if sig != ref {
				c := rep.Cells[cellKey(mode, scenario)]
				msg := fmt.Sprintf("payloads differ from mode %s: %s vs %s", refMode, sig, ref)
				c.Problems = append(c.Problems, msg)
				t.Errorf("%s/%s/%s: %s", bt.Kernel.Series, mode, scenario, msg)
			}
		}
	}
	checkRaceCaught(t, bt, rep)
	return rep
}

// checkRaceCaught: the race must be caught in at least one of the kernel's
// modes. Whether the rewriting thread wins a try is the guest scheduler's
// doing (one CPU: it runs only when the loading thread is preempted in the
// copy), not the recorder's; every try of every mode is checked for
// consistent verdicts by checkRace, and a kernel where no try of any mode
// raced proves nothing about the read-back.
func checkRaceCaught(t *testing.T, bt *Boot, rep *kernelReport) {
	ran, caught := 0, 0
	for _, mode := range rep.Modes {
		if c := rep.Cells[cellKey(mode, plan.Race)]; c != nil {
			ran++
			caught += c.RaceCaught
		}
	}
	if ran > 0 && caught == 0 {
		msg := fmt.Sprintf("race not caught in any try of %d modes x %d tries", ran, plan.RaceTries)
		rep.BootProblems = append(rep.BootProblems, msg)
		t.Errorf("%s: %s", bt.Kernel.Series, msg)
	}
}

// checkGuestSide checks what kexec-tools and the kernel answered, which
// holds with or without a recorder.
func checkGuestSide(r plan.Result, noFileLoad bool, problem func(string, ...any)) {
	for _, e := range r.Errors {
		problem("guest: %s", e)
	}
	cmdOK := func(i int) {
		if i >= len(r.Commands) {
			problem("command %d did not run", i)
			return
		}
		if c := r.Commands[i]; c.Exit != 0 {
			problem("%s: exit %d: %s", strings.Join(c.Argv, " "), c.Exit, testenv.LastLine(c.Output))
		}
	}
	cmdFails := func(i int, msg string) {
		if i >= len(r.Commands) {
			problem("command %d did not run", i)
			return
		}
		if c := r.Commands[i]; c.Exit == 0 || !strings.Contains(c.Output, msg) {
			problem("%s: exit %d, output %q; want a failure saying %q", strings.Join(c.Argv, " "), c.Exit, testenv.LastLine(c.Output), msg)
		}
	}
	state := func(name, got, want string) {
		if got != want {
			problem("%s is %q after the scenario, want %q", name, got, want)
		}
	}
	const notPermitted = "Operation not permitted"
	switch {
	case noFileLoad && r.Scenario == plan.FileLoad:
		cmdFails(0, "")
		return
	case noFileLoad && r.Scenario == plan.BadFlags:
		if len(r.Triggers) != 2 || r.Triggers[0].Errno != "EINVAL" || r.Triggers[1].Errno != "ENOSYS" {
			problem("triggers answered %+v, want EINVAL, then ENOSYS (no KEXEC_FILE)", r.Triggers)
		}
		return
	case noFileLoad && r.Scenario == plan.Disabled:
		cmdFails(0, notPermitted)
		cmdFails(1, "")
		state("kexec_load_disabled", r.LoadDisabled, "1")
		return
	}
	switch r.Scenario {
	case plan.Load, plan.FileLoad, plan.ExecLoad:
		cmdOK(0)
		state("kexec_loaded", r.KexecLoaded, "1")
	case plan.Crash:
		cmdOK(0)
		state("kexec_crash_loaded", r.CrashLoaded, "1")
	case plan.Unload:
		cmdOK(0)
		state("kexec_loaded", r.KexecLoaded, "0")
	case plan.NoPerm:
		cmdFails(0, notPermitted)
	case plan.BadFlags:
		if len(r.Triggers) != 2 || r.Triggers[0].Errno != "EINVAL" || r.Triggers[1].Errno != "EINVAL" {
			problem("triggers answered %+v, want EINVAL twice", r.Triggers)
		}
	case plan.Race:
		if len(r.Triggers) != plan.RaceTries {
			problem("race: %d tries answered, want %d", len(r.Triggers), plan.RaceTries)
		}
		for i, tr := range r.Triggers {
			if tr.Ret != 0 {
				problem("race try %d: kexec_load returned %d (%s), want 0", i, tr.Ret, tr.Errno)
			}
		}
		state("kexec_loaded", r.KexecLoaded, "0") // unloaded after the recorder stopped
	case plan.Disabled:
		cmdFails(0, notPermitted)
		cmdFails(1, notPermitted)
		state("kexec_load_disabled", r.LoadDisabled, "1")
	case plan.AArch32:
		cmdOK(0)
		cmdOK(1)
		trs, err := triggerResults(r)
		if err != nil {
			problem("%v", err)
			return
		}
		fileRet := int64(eperm)
		if noFileLoad {
			fileRet = enosys
		}
		for i, want := range []struct {
			nr  int
			ret int64
		}{{nrLoadAArch32, eperm}, {nrFileAArch32, fileRet}} {
			if tr := trs[i]; tr.Nr != want.nr || tr.Ret != want.ret || !tr.CapDropped {
				problem("32-bit trigger call %d: syscall %d returned %d (CAP_SYS_BOOT dropped: %v), want syscall %d returning %d",
					i, tr.Nr, tr.Ret, tr.CapDropped, want.nr, want.ret)
			}
		}
	}
}

// triggerResults reads what the AArch32 scenario's two kexec-trigger runs
// printed: each the JSON of the call it made.
func triggerResults(r plan.Result) ([]trigger.Result, error) {
	if len(r.Commands) != 2 {
		return nil, fmt.Errorf("%d trigger commands ran, want 2", len(r.Commands))
	}
	trs := make([]trigger.Result, 2)
	for i, c := range r.Commands {
		if err := json.Unmarshal([]byte(c.Output), &trs[i]); err != nil {
			return nil, fmt.Errorf("%s: output %q: %v", strings.Join(c.Argv, " "), testenv.LastLine(c.Output), err)
		}
	}
	return trs, nil
}

// checkTriggerCall: a call of the AArch32 scenario was recorded exactly as
// the trigger made it: caller, the six arguments as the registers held them,
// the compat (16-byte entry) segment table entry by entry, each segment's
// bytes as the host computed them, and the result.
func checkTriggerCall(cc *CapCall, tr trigger.Result, w wantCall, problem func(string, ...any)) {
	if cc.Enter == nil {
		return // checkCall said so
	}
	if e := cc.Enter; e.PID != uint32(tr.PID) || e.TID != uint32(tr.TID) || e.Args != tr.Args {
		problem("entry pid %d tid %d args %#x, the trigger made it from pid %d tid %d with %#x", e.PID, e.TID, e.Args, tr.PID, tr.TID, tr.Args)
	}
	if cc.Exit != nil && cc.Exit.Ret != tr.Ret {
		problem("returned %d, the trigger saw %d", cc.Exit.Ret, tr.Ret)
	}
	if !w.load {
		return
	}
	s := cc.Segments
	if s == nil {
		return // checkCall said so
	}
	if s.EntrySize != 16 || s.NrPassed != uint64(len(tr.Segments)) || int(s.NrCopied) != len(tr.Segments) || len(s.Segs) != len(tr.Segments) {
		problem("segment table: entry size %d, %d passed, %d copied, %d entries; want 16-byte compat entries, %d of each",
			s.EntrySize, s.NrPassed, s.NrCopied, len(s.Segs), len(tr.Segments))
		return
	}
	for i, ts := range tr.Segments {
		if got, want := s.Segs[i], (layout.Segment{Buf: ts.Buf, BufSz: ts.BufSz, Mem: ts.Mem, MemSz: ts.MemSz}); got != want {
			problem("segment %d recorded as %+v, the trigger passed %+v", i, got, want)
		}
		if i >= len(w.payloads) || ts.SHA256 != w.payloads[i].sha {
			problem("segment %d: the trigger's buffer sha256 %s is not the pattern the host computed", i, ts.SHA256)
			continue
		}
		found := false
		for _, p := range cc.Payloads {
			if p.Kind == layout.KindSegment && int(p.Index) == i {
				found = p.Complete && p.SHA256 == ts.SHA256
			}
		}
		if !found {
			problem("segment %d: no complete payload with the trigger's sha256 %s", i, ts.SHA256[:16])
		}
	}
}

func hookOf(mode string) uint32 {
	switch mode {
	case "fentry":
		return layout.HookFentry
	case "kprobe":
		return layout.HookKprobe
	case "raw":
		return layout.HookRawSyscall
	}
	return 0
}

// wantAttach is the attach mode and file hook a cell's capture header must
// state: the lsm mode records syscalls with fentry where the kernel's config
// offers it (else raw) and reads kexec_file_load's files through the LSM
// hook; every other mode reads them through fentry where offered, else a
// kprobe (the recorder's order: fentry, kprobe, lsm).
func wantAttach(mode, config string) (attach, fileHook string) {
	offered, _ := ExpectedModes(config)
	fentry := slices.Contains(offered, "fentry")
	fileHook = "kprobe"
	if fentry {
		fileHook = "fentry"
	}
	if mode != "lsm" {
		return mode, fileHook
	}
	if fentry {
		return "fentry", "lsm"
	}
	return "raw", "lsm"
}

// checkFentryNotes: where the kernel BTF names an fentry target more than
// once, a capture recorded with fentry has one info note per such target
// naming the BTF id the bed read independently (FentryResolutions); where
// it does not, or without fentry, there is no such note.
func checkFentryNotes(notes []layout.Note, attach string, ids map[string]btf.TypeID, problem func(string, ...any)) {
	want := map[string]btf.TypeID{}
	if attach == "fentry" {
		want = ids
	}
	seen := map[string]bool{}
	for _, n := range notes {
		name, ok := strings.CutPrefix(n.Message, "fentry ")
		if !ok || !strings.Contains(n.Message, ": the kernel BTF names it") {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		id, expected := want[name]
		switch {
		case !expected:
			problem("unexpected fentry resolution note: %s", n.Message)
		case n.Level != "info" || !strings.Contains(n.Message, fmt.Sprintf("attached to BTF id %d (", id)):
			problem("fentry resolution note %s %q, want info naming BTF id %d", n.Level, n.Message, id)
		}
		seen[name] = true
	}
	for name, id := range want {
		if !seen[name] {
			problem("no info note on the fentry resolution of %s (BTF id %d)", name, id)
		}
	}
}

// checkCapture checks one scenario's capture against what was done and
// returns a signature of its calls and payload hashes (for comparing modes).
func checkCapture(bt *Boot, r plan.Result, exp expectations, kexecrec string, c *cell, problem func(string, ...any)) string {
	if rec := r.Recorder; rec == nil {
		problem("not recorded")
		return ""
	} else if rec.StoppedBy == "exited-early" || rec.StoppedBy == "not-ready" || rec.StoppedBy == "start-failed" {
		return "" // nothing was recorded; the guest's error says why
	} else if rec.StoppedBy != "count" || rec.Exit != 0 {
		problem("recorder stopped by %s with exit %d: %s", rec.StoppedBy, rec.Exit, testenv.LastLine(rec.Stderr))
	}
	path, ok := bt.Captures[r.Capture]
	if !ok || r.Capture == "" {
		problem("capture %q did not come back", r.Capture)
		return ""
	}
	if st, err := os.Stat(path); err == nil {
		c.Bytes = st.Size()
	}
	capt, err := ReadCapture(path)
	if err != nil {
		problem("decode: %v", err)
		return ""
	}
	attach, fileHook := wantAttach(r.Mode, bt.Kernel.Config)
	if capt.Header.AttachMode != attach {
		problem("header attach mode %q, want %q", capt.Header.AttachMode, attach)
	}
	if got := capt.Header.Options["file_hook"]; got != fileHook {
		problem("header file_hook %q, want %q", got, fileHook)
	}
	checkFentryNotes(capt.Notes, attach, bt.FentryIDs, problem)
	if !capt.Status.Clean || !capt.Status.ChainOK || len(capt.Status.Damage) > 0 {
		problem("capture not clean: clean=%v chain=%v damage=%v", capt.Status.Clean, capt.Status.ChainOK, capt.Status.Damage)
	}
	wants := exp.wants(r.Scenario)
	var cut *timeCut
	var pcut *policyCut
	if r.Scenario == plan.NoPerm && len(capt.Calls) == 1 && len(wants) == 1 {
		cut = timeCutCall(capt, capt.Calls[0])
		wants[0].timeCut = cut != nil
		if pcut = policyCutCall(capt, capt.Calls[0]); pcut != nil {
			wants[0].policyCut = pcut.snaplen
		}
	}
	checkPolicyCounters(capt.Stats, pcut, problem)
	for _, name := range layout.CounterNames {
		if !strings.HasSuffix(name, "_dropped") {
			continue
		}
		// What the time limit cut is counted as dropped, exactly as
		// BPF's drop_rest counts it, and nothing else may be.
		want := uint64(0)
		if cut != nil && name == "pieces_dropped" {
			want = cut.pieces
		}
		if cut != nil && name == "piece_bytes_dropped" {
			want = cut.bytes
		}
		if capt.Stats[name] != want {
			problem("counter %s = %d, want %d", name, capt.Stats[name], want)
		}
	}
	c.Calls = len(capt.Calls)
	c.Caller = callerFacts(capt.Calls)
	callers, err := exp.callerSizes.callers(r, bt.Plan.Kexec)
	if err != nil {
		problem("callers: %v", err)
	}
	if len(capt.Calls) != len(wants) {
		problem("%d calls recorded, want %d", len(capt.Calls), len(wants))
	}
	var trs []trigger.Result
	if r.Scenario == plan.AArch32 {
		trs, _ = triggerResults(r) // checkGuestSide reports an error
	}
	var sig []string
	for i, cc := range capt.Calls {
		if i >= len(wants) {
			sig = append(sig, callSignature(cc, wantCall{}))
			continue
		}
		w := wants[i]
		sig = append(sig, callSignature(cc, w))
		callProblem := func(format string, args ...any) {
			problem("call %d: "+format, append([]any{i}, args...)...)
		}
		checkCall(cc, capt.Blobs, w, hookOf(attach), callProblem)
		if i < len(trs) {
			checkTriggerCall(cc, trs[i], w, callProblem)
		}
		if i < len(callers) {
			checkCaller(cc, callers[i], callProblem)
		}
	}
	if r.Scenario == plan.Race {
		c.ReadBack, c.RaceCaught = checkRace(capt, problem)
	}
	if r.Scenario == plan.Load || r.Scenario == plan.Crash || r.Scenario == plan.FileLoad {
		c.ReadBack = readBackCost(capt)
	}
	if r.Scenario == plan.NoPerm && len(capt.Calls) == 1 && capt.Calls[0].Exit != nil {
		var captured uint64
		for _, p := range capt.Calls[0].Payloads {
			captured += p.Captured
		}
		ns := capt.Calls[0].Exit.DurationNS
		note := ""
		if cut != nil {
			note = cut.note
		}
		if pcut != nil {
			note += pcut.note
		}
		c.EntryCopy = fmt.Sprintf("refused call: %.1f MB of payloads copied at entry, %.1f ms from entry to exit (%.0f MB/s)%s",
			float64(captured)/1e6, float64(ns)/1e6, float64(captured)/(float64(ns)/1e9)/1e6, note)
	}
	out, err := exec.Command(kexecrec, "verify", path).CombinedOutput()
	if err != nil {
		problem("kexecrec verify: %v: %s", err, testenv.LastLine(string(out)))
	}
	checkShow(kexecrec, path, wants, callers, problem)
	return strings.Join(sig, " | ")
}

// timeCut is what the unprivileged hard time limit took from a call.
type timeCut struct {
	bytes, pieces uint64 // dropped, as BPF's drop_rest counts them
	note          string
}

// timeCutCall decides whether a call was cut by the unprivileged hard time
// limit, the one bound in the recorder that depends on the machine's speed
// (a guest under TCG on a loaded host copies 5x slower than on an idle
// one), and returns nil when it was not. It was when:
//   - the call lasted at least the limit the capture header states (less
//     1 ms: the ENTER record is stamped a little after the budget starts);
//   - the payloads, in segment order, have the one shape the hook can
//     produce: it checks the limit before each piece, so complete payloads,
//     then at most one cut on a piece boundary, then payloads cut at 0,
//     each flagged loop-limit and nothing else, missing only its tail.
//
// Every other incomplete payload stays a failure for checkCall.
func timeCutCall(capt *Capture, cc *CapCall) *timeCut {
	limit, err := time.ParseDuration(capt.Header.Options["time_limit_unprivileged"])
	if err != nil || cc.Exit == nil || time.Duration(cc.Exit.DurationNS) < limit-time.Millisecond {
		return nil
	}
	ps := slices.Clone(cc.Payloads)
	slices.SortFunc(ps, func(a, b layout.Payload) int { return cmp.Compare(a.Index, b.Index) })
	var c timeCut
	cutSeen := false
	for _, p := range ps {
		if p.Complete && (!cutSeen || p.Total == 0) {
			continue
		}
		if !cutPrefix(p) || p.Captured%layout.PieceMax != 0 || cutSeen && p.Captured != 0 {
			return nil
		}
		cutSeen = true
		rest := p.Total - p.Captured
		c.bytes += rest
		c.pieces += (rest + layout.PieceMax - 1) / layout.PieceMax
	}
	if !cutSeen {
		return nil
	}
	c.note = fmt.Sprintf("; the unprivileged time limit (%v) cut %d payload bytes, flagged loop-limit", limit, c.bytes)
	return &c
}

// policyCut is what the unprivileged policy's per-payload snaplen took
// from a call.
type policyCut struct {
	snaplen      uint64
	bytes, calls uint64 // left out, as BPF counts them (policy_bytes, policy_calls)
	note         string
}

// policyCutCall decides whether a call was cut by the unprivileged policy's
// snaplen, and returns nil when it was not. It was when the kernel refused
// it with EPERM, the capture header states a snaplen S for such callers,
// at least one payload says policy, and every payload holds exactly its
// first min(S, length) bytes: complete when no longer than S, otherwise S
// bytes flagged policy and nothing else, missing only its tail. The other
// bounds of the policy (the buckets, the ring share) leave less and are
// not expected from one call in a fresh recorder; with them, or any other
// shape, checkCall reports the payloads incomplete.
func policyCutCall(capt *Capture, cc *CapCall) *policyCut {
	snaplen, err := strconv.ParseUint(capt.Header.Options["unprivileged_snaplen"], 10, 64)
	if err != nil || snaplen == 0 || cc.Exit == nil || cc.Exit.Ret != eperm {
		return nil
	}
	c := policyCut{snaplen: snaplen}
	for _, p := range cc.Payloads {
		switch {
		case p.Total <= snaplen && p.Complete && len(p.Reasons) == 0:
		case policyPrefix(p, snaplen):
			c.bytes += p.Total - snaplen
		default:
			return nil
		}
	}
	if c.bytes == 0 {
		return nil
	}
	c.calls = 1
	c.note = fmt.Sprintf("; the unprivileged policy kept the first %d bytes of each payload (%d bytes left out, flagged policy)", snaplen, c.bytes)
	return &c
}

// policyPrefix: the payload holds exactly its first snaplen bytes, the rest
// missing, flagged policy only.
func policyPrefix(p layout.Payload, snaplen uint64) bool {
	return !p.Complete && slices.Equal(p.Reasons, []string{"policy"}) && p.Captured == snaplen && p.Total > snaplen &&
		slices.Equal(p.Missing, []layout.Range{{Off: snaplen, Len: p.Total - snaplen}})
}

// checkPolicyCounters: the policy counters say exactly what policyCutCall
// found cut (nothing, when it found no cut), and nothing by the buckets or
// the ring share. Captures without the policy's counters are not checked.
func checkPolicyCounters(stats map[string]uint64, pcut *policyCut, problem func(string, ...any)) {
	want := map[string]uint64{"policy_calls": 0, "policy_bytes": 0, "policy_rate_bytes": 0, "policy_total_rate_bytes": 0, "policy_ring_bytes": 0}
	if pcut != nil {
		want["policy_calls"], want["policy_bytes"] = pcut.calls, pcut.bytes
	}
	for _, name := range layout.CounterNames {
		if w, ok := want[name]; ok && stats[name] != w {
			problem("counter %s = %d, want %d", name, stats[name], w)
		}
	}
}

func checkCall(cc *CapCall, blobs map[string][]byte, w wantCall, hook uint32, problem func(string, ...any)) {
	if cc.Enter == nil {
		problem("no ENTER record")
		return
	}
	e := cc.Enter
	if e.SyscallNr != w.nr || e.ABI != w.abi {
		problem("syscall %d abi %d, want %d abi %d", e.SyscallNr, e.ABI, w.nr, w.abi)
	}
	if e.Hook != hook {
		problem("ENTER hook %d, want %d", e.Hook, hook)
	}
	if e.Comm != w.comm {
		problem("comm %q, want %q", e.Comm, w.comm)
	}
	if e.PID == 0 || e.PID == 1 {
		problem("caller pid %d", e.PID)
	}
	if got := e.Args[w.flagsArg] & w.flagsMask; got != w.flags {
		problem("flags argument %#x (masked %#x), want %#x", e.Args[w.flagsArg], got, w.flags)
	}
	if w.nrSegs != nil && e.Args[1] != *w.nrSegs {
		problem("nr_segments argument %d, want %d", e.Args[1], *w.nrSegs)
	}
	if cc.Process == nil {
		problem("no PROCESS record")
	}
	if cc.Exit == nil {
		problem("no EXIT record (call unfinished)")
	} else {
		if cc.Exit.Ret != w.ret {
			problem("returned %d, want %d", cc.Exit.Ret, w.ret)
		}
		if cc.Exit.SyscallNr != w.nr {
			problem("EXIT syscall %d, want %d", cc.Exit.SyscallNr, w.nr)
		}
	}
	if w.load && cc.Segments == nil {
		problem("no SEGMENTS record")
	}
	if cc.Segments != nil {
		if cc.Segments.NrPassed != e.Args[1] {
			problem("segments: %d passed, argument says %d", cc.Segments.NrPassed, e.Args[1])
		}
		entryCopies := 0
		for _, p := range cc.Payloads {
			if p.Kind == layout.KindSegment {
				entryCopies++
			}
		}
		if int(cc.Segments.NrCopied) != entryCopies && w.load {
			problem("%d segments but %d entry payloads", cc.Segments.NrCopied, entryCopies)
		}
		for _, p := range cc.Payloads {
			if p.Kind == layout.KindSegment && int(p.Index) < len(cc.Segments.Segs) && p.Total != cc.Segments.Segs[p.Index].BufSz {
				problem("segment %d payload total %d, bufsz %d", p.Index, p.Total, cc.Segments.Segs[p.Index].BufSz)
			}
		}
	}
	for _, p := range cc.Payloads {
		if w.timeCut && cutPrefix(p) || w.policyCut > 0 && policyPrefix(p, w.policyCut) {
			continue
		}
		if !p.Complete || p.Captured != p.Total || len(p.Missing) > 0 {
			problem("payload kind %d index %d incomplete: %d of %d, reasons %v", p.Kind, p.Index, p.Captured, p.Total, p.Reasons)
		}
	}
	if w.noPayload && len(cc.Payloads) > 0 {
		problem("%d payloads, want none", len(cc.Payloads))
	}
	for _, wp := range w.payloads {
		found := false
		for _, p := range cc.Payloads {
			if p.Kind != wp.kind || (wp.source != 0 && p.Source != wp.source) {
				continue
			}
			if p.SHA256 == wp.sha && p.Complete {
				found = true
			}
			// Cut by the time limit: the bytes captured must be the
			// start of the payload, and its length the whole one's.
			if w.timeCut && wp.data != nil && cutPrefix(p) && p.Total == uint64(len(wp.data)) && p.SHA256 == Sha256Hex(wp.data[:p.Captured]) {
				found = true
			}
			// Cut by the policy: the first snaplen bytes, exactly.
			if w.policyCut > 0 && wp.data != nil && policyPrefix(p, w.policyCut) && p.Total == uint64(len(wp.data)) &&
				p.SHA256 == Sha256Hex(wp.data[:w.policyCut]) {
				found = true
			}
		}
		if !found {
			problem("no complete %s payload with sha256 %s", wp.what, wp.sha[:16])
		}
	}
	if w.dtbAppend != "" && !w.timeCut {
		if msg := dtbProblem(cc, blobs, w.dtbAppend, w.dtbInitrd); msg != "" {
			problem("%s", msg)
		}
	}
	checkReadBack(cc, blobs, w, problem)
	if !w.load && w.ret == 0 {
		kinds := map[uint32]bool{}
		for _, f := range cc.Files {
			kinds[f.Kind] = true
		}
		if !kinds[layout.KindKernel] || !kinds[layout.KindInitrd] {
			problem("FILE records for kernel and initrd missing: %d records", len(cc.Files))
		}
	}
}

// cutPrefix: the payload ends early, flagged loop-limit only, and holds
// exactly its first Captured bytes.
func cutPrefix(p layout.Payload) bool {
	return !p.Complete && slices.Equal(p.Reasons, []string{"loop-limit"}) && p.Captured < p.Total &&
		slices.Equal(p.Missing, []layout.Range{{Off: p.Captured, Len: p.Total - p.Captured}})
}

// callSignature names a call by what must be identical in every mode: the
// syscall, its result, and every payload's kind, index, source and length,
// plus the hashes of the payloads whose bytes are known in advance.
// kexec-tools puts a fresh random seed (setup_data type 9, 48 bytes) in
// every kexec_load, so that segment and purgatory (which holds its digest)
// differ between any two runs and are compared by length only.
func callSignature(cc *CapCall, w wantCall) string {
	var parts []string
	if cc.Enter != nil {
		parts = append(parts, fmt.Sprintf("nr=%d", cc.Enter.SyscallNr))
	}
	if cc.Exit != nil {
		parts = append(parts, fmt.Sprintf("ret=%d", cc.Exit.Ret))
	}
	var ps []string
	for _, p := range cc.Payloads {
		ps = append(ps, fmt.Sprintf("%d.%d.%d:%d", p.Kind, p.Index, p.Source, p.Total))
	}
	for _, wp := range w.payloads {
		ps = append(ps, wp.what+"="+wp.sha[:12])
	}
	sort.Strings(ps)
	return strings.Join(append(parts, ps...), ",")
}

// checkShow decodes the capture with `kexecrec show --format json` and
// compares the calls it lists with what the raw decode found.
func checkShow(bin, path string, wants []wantCall, callers []callerWant, problem func(string, ...any)) {
	cmd := exec.Command(bin, "show", "--format", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		problem("kexecrec show --format json: %v", err)
		return
	}
	// A clean capture reads without a word on stderr, whatever its calls
	// returned (ENOSYS from a kernel without KEXEC_FILE included); a call
	// cut by the time limit is announced by its dropped counters.
	if stderr.Len() > 0 && !slices.ContainsFunc(wants, func(w wantCall) bool { return w.timeCut }) {
		problem("kexecrec show --format json wrote on stderr: %s", testenv.LastLine(stderr.String()))
	}
	calls, err := showCalls(out)
	if err != nil {
		problem("kexecrec show --format json: %v", err)
		return
	}
	if len(calls) != len(wants) {
		problem("show lists %d calls, want %d", len(calls), len(wants))
		return
	}
	for i, c := range calls {
		if c.SyscallNr != wants[i].nr || c.Ret == nil || *c.Ret != wants[i].ret {
			problem("show call %d: syscall %d ret %v, want %d ret %d", i, c.SyscallNr, c.Ret, wants[i].nr, wants[i].ret)
		}
		if want := showABINames[wants[i].abi]; c.ABI != want {
			problem("show call %d: abi %q, want %q", i, c.ABI, want)
		}
		if i < len(callers) {
			checkShowCaller(i, c.Caller, callers[i], problem)
		}
		// A call cut by the time limit or the policy lacks bytes the
		// digest covers; checkCall has checked what it holds.
		if p := c.Purgatory; wants[i].purgatory && !wants[i].timeCut && wants[i].policyCut == 0 && (p == nil || !p.Found || !p.Match || !p.EntryInPurgatory) {
			problem("show call %d: purgatory digest not confirmed over the captured segments: %+v", i, p)
		}
		// arm64: the purgatory jumps to the start of the Image segment.
		if p := c.Purgatory; wants[i].purgatory && wants[i].abi == layout.ABIARM64 && !wants[i].timeCut && wants[i].policyCut == 0 &&
			(p == nil || p.Arm64Jump == nil || !p.Arm64Jump.IntoImage || p.Arm64Jump.KernelSegment != 0) {
			problem("show call %d: arm64 purgatory does not jump to the Image in segment 0: %+v", i, p)
		}
		checkShowLoaded(i, c, wants[i], problem)
	}
}

type showCall struct {
	SyscallNr uint32     `json:"syscall_nr"`
	ABI       string     `json:"abi"`
	Ret       *int64     `json:"ret"`
	Outcome   string     `json:"outcome"`
	Caller    showCaller `json:"caller"`
	Purgatory *struct {
		Found            bool   `json:"found"`
		Match            bool   `json:"match"`
		EntryInPurgatory bool   `json:"entry_in_purgatory"`
		Detail           string `json:"detail"`
		Arm64Jump        *struct {
			IntoImage     bool `json:"into_image"`
			KernelSegment int  `json:"kernel_segment"`
		} `json:"arm64_jump"`
	} `json:"purgatory"`
	Segments []struct {
		Loaded *showLoaded `json:"loaded"`
	} `json:"segments"`
	LoadedSegments []showLoaded `json:"loaded_segments"`
}

// showABINames are the ABI names `show --format json` must give the
// guests' calls.
var showABINames = map[uint32]string{layout.ABIX64: "x86_64", layout.ABIARM64: "arm64", layout.ABIAArch32: "aarch32"}

// showCalls accepts what `show --format json` prints (an array with one
// object per file, each with a "calls" array), NDJSON call objects, or any
// nesting of these.
func showCalls(out []byte) ([]showCall, error) {
	var calls []showCall
	var walk func(v json.RawMessage) error
	walk = func(v json.RawMessage) error {
		v = bytes.TrimSpace(v)
		if len(v) == 0 {
			return nil
		}
		switch v[0] {
		case '[':
			var elems []json.RawMessage
			if err := json.Unmarshal(v, &elems); err != nil {
				return err
			}
			for _, e := range elems {
				if err := walk(e); err != nil {
					return err
				}
			}
		case '{':
			var obj struct {
				Calls   json.RawMessage `json:"calls"`
				Outcome *string         `json:"outcome"`
			}
			if err := json.Unmarshal(v, &obj); err != nil {
				return err
			}
			if obj.Calls != nil {
				return walk(obj.Calls)
			}
			if obj.Outcome != nil {
				var c showCall
				if err := json.Unmarshal(v, &c); err != nil {
					return err
				}
				calls = append(calls, c)
			}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if err := walk(v); err != nil {
			return nil, err
		}
	}
	return calls, nil
}

// loadAverage is the host's 1-minute load average, "?" when unknown: the
// bed's times depend on what else the host ran.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// writeResults writes the kernel x mode x scenario table of this run.
func writeResults(path string, reps []*kernelReport, total time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# qemu test bed results\n\n")
	fmt.Fprintf(&b, "Generated by the qemu bed, `go test ./vmtest -run TestVM` (-update-results writes this file; every run writes the same table to $KEXECREC_ARTIFACTS/vmtest-RESULTS.md), on %s "+
		"(qemu TCG, -smp %d, 1 GiB for amd64 and 2 GiB for arm64 guests, kernels booted in parallel: %v; one boot per kernel runs every mode and scenario) "+
		"on a %d-core host (load average %s at the end). Total wall time including building: %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), *flagSMP, *flagParallel, runtime.NumCPU(), loadAverage(), total.Round(time.Second))
	scen := append(append(slices.Clone(plan.PerMode), plan.ExecLoad), plan.Disabled)
	writeCoverage(&b, reps, scen)
	for _, rep := range reps {
		ga := guestArches[rep.Arch]
		fmt.Fprintf(&b, "## Debian %s, %s: %s (%s)\n\n", strings.TrimSuffix(rep.Series, "-"+rep.Arch), rep.Arch, rep.Package, rep.Release)
		fmt.Fprintf(&b, "Machine: `%s %s`. Payloads: %s.\n\n", ga.Qemu, strings.Join(ga.Machine, " "), rep.Payloads)
		fmt.Fprintf(&b, "Kernel boot to the agent: %.1fs (guest uptime). Boot, %d scenarios and kexec -e: %s. ", rep.BootSeconds, len(rep.Results), rep.Elapsed.Round(time.Second))
		if rep.SecondBoot != "" {
			fmt.Fprintf(&b, "Second kernel after `kexec -e`: `%s`.\n\n", rep.SecondBoot)
		} else {
			fmt.Fprintf(&b, "Second kernel after `kexec -e`: **not seen**.\n\n")
		}
		fmt.Fprintf(&b, "| kernel | arch | mode | %s |\n|---|---|---|%s\n", strings.Join(scen, " | "), strings.Repeat("---|", len(scen)))
		// Failures are numbered by their text, so that one cause shared by
		// many cells (a mode that cannot attach) is listed once.
		var notes []string
		noteCells := map[string][]string{}
		noteNo := func(text, where string) int {
			if _, ok := noteCells[text]; !ok {
				notes = append(notes, text)
			}
			noteCells[text] = append(noteCells[text], where)
			return slices.Index(notes, text) + 1
		}
		for _, mode := range rep.Modes {
			row := []string{strings.TrimSuffix(rep.Series, "-"+rep.Arch), rep.Arch, mode}
			for _, s := range scen {
				c := rep.Cells[cellKey(mode, s)]
				switch {
				case c == nil:
					row = append(row, "-")
				case len(c.Problems) > 0:
					n := noteNo(shorten(strings.Join(c.Problems, "; "), 400), mode+"/"+s)
					row = append(row, fmt.Sprintf("**FAIL** [%d]", n))
				default:
					row = append(row, fmt.Sprintf("ok: %d call(s), %s (%.1fs)", c.Calls, sizeString(c.Bytes), c.Seconds))
				}
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
		b.WriteString("\n")
		b.WriteString("Caller of each cell's calls, read by BPF at syscall entry (exe, argv count, cwd, cgroup and tty when read, ancestry from init to the caller):\n\n")
		for _, mode := range rep.Modes {
			for _, s := range scen {
				if c := rep.Cells[cellKey(mode, s)]; c != nil && c.Caller != "" {
					fmt.Fprintf(&b, "- %s/%s: %s\n", mode, s, c.Caller)
				}
			}
		}
		b.WriteString("\n")
		if len(rep.Overheads) > 0 {
			o := rep.Overheads[0]
			fmt.Fprintf(&b, "getppid in the guest (ns per call, fastest of %d rounds of %d calls; the recorder attached and idle, "+
				"rounds before it started and after it stopped as the baseline; host time, with the other kernel's guest "+
				"on the same host, so a few percent either way is noise: BENCHMARKS.md quotes BenchmarkGuestGetppid, "+
				"which runs one guest at a time under qemu -icount, where the guest clock counts instructions):\n\n", o.Rounds, o.CallsPerRound)
			b.WriteString("| mode | before | recorder attached | after | attached vs baseline |\n|---|---|---|---|---|\n")
			for _, r := range rep.Overheads {
				fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %+.1f%% |\n", r.Mode, r.Before, r.With, r.After, r.DeltaPct)
			}
			b.WriteString("\n")
		}
		copies := 0
		for _, mode := range rep.Modes {
			if c := rep.Cells[cellKey(mode, plan.NoPerm)]; c != nil && c.EntryCopy != "" {
				fmt.Fprintf(&b, "- %s, noperm: %s.\n", mode, c.EntryCopy)
				copies++
			}
		}
		if copies > 0 {
			b.WriteString("\n")
		}
		if rep.BootArgs != "" {
			fmt.Fprintf(&b, "Booted with `%s`: the lsm mode records syscalls with fentry (raw where the kernel has no fentry) "+
				"and kexec_file_load's files through the BPF-LSM kernel_post_read_file hook (`--attach lsm`).\n\n", rep.BootArgs)
		}
		if len(rep.FentryIDs) > 0 {
			var ids []string
			for name, id := range rep.FentryIDs {
				ids = append(ids, fmt.Sprintf("%s = BTF id %d", name, id))
			}
			sort.Strings(ids)
			fmt.Fprintf(&b, "fentry: this kernel's BTF names each of these wrappers twice (the real one and the weak COND_SYSCALL stub, "+
				"which cilium/ebpf refuses to choose between by name, cilium/ebpf#894); kexecrec resolves them by prototype "+
				"and each fentry capture's info notes name the ids, checked against the bed's own reading: %s.\n\n", strings.Join(ids, "; "))
		}
		for _, p := range rep.BootProblems {
			noteNo(p, "boot")
		}
		if len(notes) > 0 {
			b.WriteString("Failures:\n\n")
			for i, n := range notes {
				fmt.Fprintf(&b, "%d. %s: %s\n", i+1, strings.Join(noteCells[n], ", "), n)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(resultsLegend)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeCoverage writes one row per {kernel, arch, mode} and one column per
// scenario: every {kernel, arch, mode, scenario} cell this run covered, with
// the file hook the mode read kexec_file_load's files through.
func writeCoverage(b *strings.Builder, reps []*kernelReport, scen []string) {
	b.WriteString("## Kernel coverage\n\n")
	b.WriteString("Every {kernel, arch, mode, scenario} cell of this run: ok (all its checks passed), FAIL (see the kernel's section) " +
		"or - (not run: execload runs once per kernel, in its first mode; the arm64 guest runs every scenario but load and aarch32 in its first mode only, and no race: kexecrec reads staged segments back on x86-64 only; aarch32 runs on the arm64 guest only).\n\n")
	fmt.Fprintf(b, "| kernel | arch | mode | syscall hook | file hook | %s |\n|---|---|---|---|---|%s\n",
		strings.Join(scen, " | "), strings.Repeat("---|", len(scen)))
	for _, rep := range reps {
		for _, mode := range rep.Modes {
			attach, fileHook := wantAttach(mode, rep.Config)
			row := []string{strings.TrimSuffix(rep.Series, "-"+rep.Arch), rep.Arch, mode, attach, fileHook}
			for _, s := range scen {
				c := rep.Cells[cellKey(mode, s)]
				switch {
				case c == nil:
					row = append(row, "-")
				case len(c.Problems) > 0:
					row = append(row, "**FAIL**")
				default:
					row = append(row, "ok")
				}
			}
			fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	b.WriteString("\n")
}

const resultsLegend = `## What each cell checks

Guest side (always): kexec-tools' exit status and message, the kernel's answer to the agent's own calls,
/sys/kernel/kexec_loaded, kexec_crash_loaded and kernel.kexec_load_disabled after the scenario.

Recorded (each mode): the recorder attached before the scenario and stopped by itself on --count; the
capture decodes (format + bpf/layout, no replay code), is clean (trailer, chain), has no dropped counters;
the calls, their syscall numbers, hooks, callers (comm), flags, nr_segments and return values are the
expected ones; every payload is complete and its stored blob re-hashes to its recorded SHA-256 (two
exceptions, both for noperm's refused call, made without CAP_SYS_BOOT. The unprivileged policy keeps the
first --unprivileged-snaplen bytes, 64 KiB, of each payload: each payload must then hold exactly its first
min(64 KiB, length) bytes, a longer one flagged policy and nothing else, the kernel and initrd segments
re-hashing to the SHA-256 of that prefix of the files, the policy counters saying exactly that (policy_calls
1, policy_bytes the bytes left out, nothing cut by the rates or the ring share; every other call: all 0), and
the purgatory digest is not checked. The call also copies at entry under the unprivileged time limit, 100 ms, which a slow
guest can reach; its payloads may then end flagged loop-limit and nothing else, only if the call lasted
the limit its capture header states, in the one shape the hook produces (complete payloads, one cut on a
256 KiB piece boundary, then payloads cut at 0), each holding an exact prefix of the expected bytes, with
the dropped counters equal to what was cut; the lines under the table give each refused call's copy time); the
kernel segment equals vmlinuz after its (setup_sects+1)*512 setup bytes (arm64: the whole vmlinuz, which
Debian ships as an uncompressed Image and kexec-tools loads as it is), the initrd segment equals the
initrd file, on arm64 one segment is a flattened device tree (the dtb qemu dumped for the machine, passed
with --dtb) holding "bootargs" and the --append string with its NUL, kexec_file_load's kernel and initrd (as the kernel read them) equal the files, the command line
equals --append plus its NUL; for every kexec-tools kexec_load on x86, ` + "`kexecrec show`" + ` finds the purgatory and the
SHA-256 digest purgatory checks at boot, recomputed over the captured segments, matches (arm64's purgatory
is not identified yet); all modes saw the same calls, results and payload lengths and the same bytes
for every payload known in advance (kexec-tools puts a fresh random seed, setup_data type 9, in a 48-byte
segment of every kexec_load, so that segment and purgatory, which holds the digest over all segments,
differ between any two loads and are compared by length); ` + "`kexecrec verify`" + ` passes and
` + "`kexecrec show --format json`" + ` lists the same calls and return values (when those commands are live).

Caller (each call, each mode): exactly one CALLER and one ARGS record (argv; no environment without
--env); the kernel read the executable at entry, its path is the one the agent ran (` + "`/usr/sbin/kexec`" + `, or
` + "`/init`" + ` for the agent's own badflags calls), not cut or deleted, its inode is non-zero, its size is the size
of the binary the bed copied into the initramfs and its mtime the archive's (0); argv is complete, uncut and
equal to the command the agent ran; cwd is ` + "`/`" + `; the cgroup v2 path is ` + "`/`" + ` (nothing in the guest makes
cgroups); no tty (the agent has no controlling terminal); the pid-namespace pid and tid equal the ENTER
record's (level 0); the first ancestor is the agent (comm init, exe /init, the ENTER record's parent pid), every link a
started root process no younger than its child, and the chain ends at pid 1 flagged init, with no "more
ancestors" flag; ` + "`kexecrec show --format json`" + ` gives kernel-entry as the source of exe, argv, cwd, cgroup_path,
ns_pid and ancestors and prints the same exe, argv, cwd, exe inode and size, and ancestry.

Scenarios: load = ` + "`kexec -l --kexec-syscall`" + `; fileload = ` + "`kexec -l --kexec-file-syscall`" + `;
crash = ` + "`kexec -p --kexec-syscall`" + ` (crashkernel=192M); unload = ` + "`kexec -u`" + `; noperm = kexec -l without
CAP_SYS_BOOT (EPERM); badflags = kexec_load and kexec_file_load with an unknown flag bit (EINVAL);
race = 16 kexec_loads while a second thread rewrites the kernel segment's buffer (the read-back must
catch one: entry copy and staged bytes differ; x86 only); aarch32 (arm64 only) = cmd/kexec-trigger built for
32-bit ARM, run as an AArch32 task, making a kexec_load (syscall 347, three segments in 16-byte compat
entries, KEXEC_ARCH_ARM) and a kexec_file_load (syscall 401) without CAP_SYS_BOOT (EPERM; the
kexec_file_load ENOSYS without KEXEC_FILE): each call recorded with abi aarch32 (` + "`show`" + ` too), its six
arguments, pid and tid exactly as the trigger passed them, the segment table entry by entry, and each
segment's bytes equal to the pattern the bed computes; execload = the load later started with ` + "`kexec -e`" + ` (once per kernel); disabled = kexec -l and kexec -s -l after
kernel.kexec_load_disabled=1 (EPERM). arm64 loads add ` + "`--dtb`" + `. Debian's arm64 kernels have no KEXEC_FILE:
there fileload is kexec-tools' kexec_file_load answered ENOSYS (kexec-tools then gives up), badflags'
kexec_file_load and disabled's kexec -s answer ENOSYS too, and each such call is recorded as it was made, with
its ENOSYS.

Modes: fentry, kprobe and raw are the syscall hooks of ` + "`--attach`" + `; every cell's capture header states that
mode and the file hook kexec_file_load's files came through (` + "`file_hook`" + `: fentry where the kernel offers it,
else kprobe); lsm = ` + "`--attach lsm`" + ` on the kernel booted with lsm=...,bpf: syscalls through fentry (raw
without it) and the files through the BPF-LSM kernel_post_read_file hook, header file_hook lsm, its files
byte for byte those of the other modes. Where the kernel's BTF names an fentry target twice, every capture
recorded with fentry holds one info note per such target naming the BTF id kexecrec attached to, equal to the
id of the wrapper whose parameter is named regs in the kernel's own BTF as the bed reads it.
`

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + " ..."
	}
	return s
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// updateSamples copies a few real captures for the reader tests: a
// kexec_load by kexec-tools (real segments, purgatory, RNG seed), a
// kexec_file_load (FILE records, kernel-read payloads) and the two EINVAL
// calls (small). Only captures whose checks passed in this run are copied.
func updateSamples(dir string, reps []*kernelReport) error {
	picks := []struct{ series, mode, scenario, name string }{
		{"6.1", "kprobe", plan.Load, "real-6.1-kprobe-kexec_load.zst"},
		{"6.1", "raw", plan.FileLoad, "real-6.1-raw-kexec_file_load.zst"},
		{"6.1", "fentry", plan.BadFlags, "real-6.1-fentry-einval.zst"},
		{"6.1", "lsm", plan.FileLoad, "real-6.1-lsm-kexec_file_load.zst"},
		{"6.12", "fentry", plan.BadFlags, "real-6.12-fentry-einval.zst"},
		{"6.12", "fentry", plan.Race, "real-6.12-fentry-race.zst"},
		{"6.12-arm64", "fentry", plan.Load, "real-6.12-arm64-fentry-kexec_load.zst"},
	}
	var only []string
	if *flagSamples != "" {
		only = strings.Split(*flagSamples, ",")
	}
	for _, p := range picks {
		if only != nil && !slices.Contains(only, p.name) {
			continue
		}
		for _, rep := range reps {
			if rep.Series != p.series {
				continue
			}
			c := rep.Cells[cellKey(p.mode, p.scenario)]
			src, ok := rep.Captures[plan.CaptureName(p.series, p.mode, p.scenario)]
			if c == nil || len(c.Problems) > 0 || !ok {
				return fmt.Errorf("%s/%s/%s did not pass in this run: sample not updated", p.series, p.mode, p.scenario)
			}
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, p.name), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
