// Package plan is the contract between the host side of the qemu test bed
// (vmtest) and the guest agent (vmtest/guest): what the
// host asks the guest to do (Plan, written into the initramfs as JSON) and
// what the guest reports back (Result, written to the results disk).
// Both sides are built from this one package so they cannot drift apart.
package plan

import (
	"slices"
	"time"
)

// Paths and markers shared by host and guest.
const (
	// Path of the plan inside the initramfs.
	Path = "/vmtest/plan.json"
	// BootArg is the kernel command line key that tells the agent which boot
	// it is in: "first" (run the plan), "second" (booted by kexec -e).
	BootArg = "kexecrec.vmtest"
	// SecondBootMarker is printed on the console by the agent when it runs
	// in the kernel started by `kexec -e`; the host looks for it in the log.
	SecondBootMarker = "KEXECREC-VMTEST-SECOND-BOOT-OK"
	// DoneMarker is printed when the first boot finished its scenarios.
	DoneMarker = "KEXECREC-VMTEST-SCENARIOS-DONE"

	// Names of the entries the agent appends to the results disk (a tar
	// stream written straight onto the raw block device).
	BootEntry     = "boot.json"
	ResultsDir    = "results/"
	OverheadDir   = "overhead/"
	CapturesDir   = "captures/"
	RecorderLogFn = "recorder.log"
)

// Scenario names, in the order the agent runs them within one mode.
const (
	Load     = "load"     // kexec -l -c: kexec_load of vmlinuz + small initrd + cmdline
	FileLoad = "fileload" // kexec -s -l: kexec_file_load of the same
	Crash    = "crash"    // kexec -p -c: crash kernel via kexec_load
	Unload   = "unload"   // kexec -u: kexec_load with nr_segments 0
	NoPerm   = "noperm"   // kexec -l -c without CAP_SYS_BOOT: EPERM
	BadFlags = "badflags" // agent's own kexec_load and kexec_file_load with unknown flag bits: EINVAL
	ExecLoad = "execload" // kexec -l -c of the kernel later started with kexec -e (once, first mode)
	Disabled = "disabled" // kernel.kexec_load_disabled=1, then kexec -l -c and kexec -s -l: EPERM (last: one way)
	Race     = "race"     // agent's kexec_load while another thread rewrites the segment buffer (RaceTries calls)
	AArch32  = "aarch32"  // the 32-bit ARM kexec-trigger (Plan.Trigger32): kexec_load without CAP_SYS_BOOT, then kexec_file_load
)

// PerMode are the scenarios run in every mode before ExecLoad.
var PerMode = []string{Load, FileLoad, Crash, Unload, NoPerm, BadFlags, AArch32, Race}

// Calls is how many kexec syscalls each scenario makes (the recorder's --count).
var Calls = map[string]int{
	Load: 1, FileLoad: 1, Crash: 1, Unload: 1, NoPerm: 1, BadFlags: 2, ExecLoad: 1, Disabled: 2, Race: RaceTries, AArch32: 2,
}

// The AArch32 scenario: cmd/kexec-trigger built for 32-bit ARM runs as an
// AArch32 (compat) task on the arm64 guest and makes, with CAP_SYS_BOOT
// dropped, a kexec_load (syscall 347, compat segment entries) of segments
// of AArch32Sizes bytes filled by trigger.Pattern from AArch32Seed, with
// AArch32Flags, which the kernel refuses with EPERM; then a kexec_file_load
// (syscall 401) of the vmlinuz and the small initrd with AArch32Cmdline,
// refused with EPERM (ENOSYS without KEXEC_FILE). Each segment stays within
// the unprivileged snaplen (64 KiB), so every payload is captured whole.
var AArch32Sizes = []int{777, 4096, 65536}

const (
	AArch32Seed    = 32
	AArch32Flags   = 0x280000 // KEXEC_ARCH_ARM
	AArch32Cmdline = "kexecrec aarch32"
)

// The race: RaceTries kexec_loads of two segments, a purgatory at
// RacePurgatoryMem (the entry point) whose digest covers the kernel
// segment's RACED bytes, and a RaceSize-byte kernel segment at RaceMem
// whose buffer holds the OFFERED bytes (RaceByte(i, false)) when the call
// starts. A second thread of the caller, after a delay that grows with
// each try (RaceDelay), rewrites the buffer's last page, the only one where
// the raced bytes (RaceByte(i, true)) differ, until the call returns. A try
// whose rewrite falls between the recorder's entry copy and the kernel's
// copy stages bytes the entry copy does not show: the read-back must say
// DIFFERENT, and its bytes are what purgatory's digest covers.
const (
	RaceTries        = 16
	RaceSize         = 1 << 20
	RaceMem          = 0x2000000
	RacePurgatoryMem = 0x1000000
)

// RaceByte is byte i of the race's kernel segment, offered or raced.
func RaceByte(i int, raced bool) byte {
	b := byte(i*13 + i>>12)
	if raced && i >= RaceSize-4096 {
		b ^= 0xa5
	}
	return b
}

// RaceDelay is how long the rewriting thread waits in try n: a grid of
// 0.75 ms steps, since where the window between the two copies falls
// depends on the kernel, the attach mode and the emulation's speed.
func RaceDelay(n int) time.Duration {
	return time.Duration(n) * 750 * time.Microsecond
}

// Bad flag values for BadFlags: an unknown bit on top of the arch field
// (Plan.LoadArchFlag; BadLoadFlags is x86_64's) for kexec_load, and an
// unknown bit for kexec_file_load.
const (
	BadFlagBit       = 0x100
	BadLoadFlags     = 0x3e0000 | BadFlagBit
	BadFileLoadFlags = 0x100
	// BadFlagsSegment is the size of the one segment BadFlags passes; its
	// bytes are BadFlagsPattern(i).
	BadFlagsSegment = 4096
	BadFlagsMem     = 0x1000000
	BadFlagsCmdline = "kexecrec badflags\x00"
)

// BadFlagsByte is byte i of the BadFlags segment (a recognisable pattern).
func BadFlagsByte(i int) byte { return byte(i*7 + i/256) }

// Plan is what the host asks of one boot.
type Plan struct {
	Series  string   `json:"series"`  // "6.1", "6.12": prefix of capture names
	Release string   `json:"release"` // uname -r expected in the guest
	Modes   []string `json:"modes"`   // attach modes to record in
	Modules []string `json:"modules"` // guest paths of .ko files, dependencies first

	Kexec    string `json:"kexec"`    // Debian's /usr/sbin/kexec
	Kexecrec string `json:"kexecrec"` // the static kexecrec binary

	Vmlinuz string `json:"vmlinuz"`       // kernel payload (the booted vmlinuz)
	Initrd  string `json:"initrd"`        // small initrd payload
	Append  string `json:"append"`        // command line given to loads
	Dtb     string `json:"dtb,omitempty"` // device tree passed with --dtb (arm64)
	// Trigger32 is cmd/kexec-trigger built for the guest's 32-bit
	// (compat) ABI, for the AArch32 scenario ("" where there is none).
	Trigger32 string `json:"trigger32,omitempty"`
	// LoadArchFlag is the KEXEC_ARCH_* value of kexec_load's flags on the
	// guest's architecture (0x3e0000 x86_64, 0xb70000 arm64).
	LoadArchFlag uint64 `json:"load_arch_flag"`
	ExecInitrd   string `json:"exec_initrd"` // initrd for the kernel started by kexec -e (this agent as /init)
	ExecAppend   string `json:"exec_append"` // its command line (BootArg=second)

	OutDevice string `json:"out_device"` // results disk, e.g. /dev/vda
	OutDir    string `json:"out_dir"`    // where captures are written before being copied to the disk

	// Seconds to wait for the recorder to report it is attached, and for
	// it to stop by itself after the scenario (then SIGINT, then SIGKILL).
	ReadyTimeout int `json:"ready_timeout"`
	StopTimeout  int `json:"stop_timeout"`
	// Exec: run kexec -e at the end (false only for debugging the bed).
	Exec bool `json:"exec"`
	// FirstModeOnly are scenarios (of PerMode, and Disabled) run only in
	// the first mode instead of in every mode: a slow guest (arm64 under
	// TCG) loads in every mode and runs the rest once.
	FirstModeOnly []string `json:"first_mode_only,omitempty"`
	// Skip are scenarios not run at all on this guest (the race needs the
	// read-back, which the recorder does only on x86-64).
	Skip []string `json:"skip,omitempty"`
	// RingBuf, when set, is the recorder's --ringbuf-size.
	RingBuf string `json:"ringbuf,omitempty"`

	// Before the scenarios, time getppid (a syscall kexecrec does not
	// record) in OverheadRounds rounds of OverheadCalls calls, with no
	// recorder, then with the recorder attached in each mode, then with
	// none again (0: no measurement).
	OverheadCalls  int `json:"overhead_calls"`
	OverheadRounds int `json:"overhead_rounds"`
	// OnlyOverhead: measure, then power off: no scenarios, no kexec -e.
	OnlyOverhead bool `json:"only_overhead"`
}

// Overhead is what getppid cost in the guest around one recorder run.
// Rounds are ns per call; the recorder runs idle (nothing calls kexec).
type Overhead struct {
	Mode   string    `json:"mode"`
	Calls  int       `json:"calls"`     // per round
	Before []float64 `json:"before_ns"` // no recorder, before it started
	With   []float64 `json:"with_ns"`   // recorder attached in Mode
	After  []float64 `json:"after_ns"`  // no recorder, after it stopped
	Errors []string  `json:"errors,omitempty"`
}

// CaptureName is the file name of a scenario's capture.
func CaptureName(series, mode, scenario string) string {
	return series + "-" + mode + "-" + scenario + ".zst"
}

// Command is one process the agent ran for a scenario.
type Command struct {
	Argv     []string `json:"argv"`
	Exit     int      `json:"exit"` // exit status; -1 when killed or not started
	Output   string   `json:"output,omitempty"`
	Seconds  float64  `json:"seconds"`
	StartErr string   `json:"start_err,omitempty"`
}

// Trigger is a kexec syscall the agent issued itself.
type Trigger struct {
	Syscall string `json:"syscall"` // "kexec_load" or "kexec_file_load"
	Nr      int    `json:"nr"`
	Flags   uint64 `json:"flags"`
	Ret     int64  `json:"ret"`   // raw return value
	Errno   string `json:"errno"` // errno name for a failure, "" on success
}

// Recorder is how the recorder run around a scenario went.
type Recorder struct {
	Argv         []string `json:"argv"`
	ReadySeconds float64  `json:"ready_seconds"` // start until it reported being attached
	Exit         int      `json:"exit"`          // exit status, -1 when killed
	StoppedBy    string   `json:"stopped_by"`    // "count" (exited by itself), "sigint", "sigkill", "start-failed", "not-ready"
	Stderr       string   `json:"stderr"`
	Seconds      float64  `json:"seconds"`
	CaptureBytes int64    `json:"capture_bytes"`
}

// Result is one scenario in one mode, as the guest saw it.
type Result struct {
	Seq          int       `json:"seq"`
	Mode         string    `json:"mode"`
	Scenario     string    `json:"scenario"`
	Capture      string    `json:"capture,omitempty"` // entry name under CapturesDir
	Commands     []Command `json:"commands,omitempty"`
	Triggers     []Trigger `json:"triggers,omitempty"`
	Recorder     *Recorder `json:"recorder,omitempty"`
	KexecLoaded  string    `json:"kexec_loaded"`       // /sys/kernel/kexec_loaded after the scenario
	CrashLoaded  string    `json:"kexec_crash_loaded"` // /sys/kernel/kexec_crash_loaded after
	LoadDisabled string    `json:"kexec_load_disabled"`
	Errors       []string  `json:"errors,omitempty"` // what went wrong in the guest
	Seconds      float64   `json:"seconds"`
}

// Boot describes the first boot as a whole.
type Boot struct {
	Release       string   `json:"release"` // uname -r
	Cmdline       string   `json:"cmdline"`
	Modules       []string `json:"modules"`         // modules loaded
	UptimeAtStart float64  `json:"uptime_at_start"` // seconds since boot when the agent started
	UptimeAtEnd   float64  `json:"uptime_at_end"`
	Scenarios     int      `json:"scenarios"`
	Errors        []string `json:"errors,omitempty"`
	ExecStarted   bool     `json:"exec_started"` // kexec -e is about to run
}

// Runs reports whether scenario s runs in mode (modes[i]) under plan p.
func (p Plan) Runs(mode, s string) bool {
	if slices.Contains(p.Skip, s) {
		return false
	}
	if len(p.Modes) > 0 && mode == p.Modes[0] {
		return true
	}
	for _, f := range p.FirstModeOnly {
		if f == s {
			return false
		}
	}
	return true
}
