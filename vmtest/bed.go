// Package vmtest is the real-kernel test bed: it boots Debian's kexec-enabled
// kernels under qemu TCG with an initramfs holding the kexecrec binary,
// Debian's kexec-tools and a guest agent (guest/) as /init, records real
// kexec_load and kexec_file_load calls in every attach mode, and brings the
// captures back on a raw virtio disk for the host to check (vmtest_test.go).
package vmtest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// Guest paths.
const (
	guestKexec      = "/usr/sbin/kexec"
	guestKexecrec   = "/usr/bin/kexecrec"
	guestTrigger32  = "/usr/bin/kexec-trigger32"
	guestVmlinuz    = "/payload/vmlinuz"
	guestDtb        = "/payload/machine.dtb"
	guestInitrd     = "/payload/initrd.small"
	guestExecInitrd = "/payload/initrd.exec"
	guestOutDevice  = "/dev/vda"
	guestOutDir     = "/out"
)

// noJitterRNG skips the jitter entropy RNG's start-up self test (built into
// Debian's 6.12 kernels): under TCG on a loaded host it measures timing
// jitter for minutes, a soft lockup that panics the first boot
// (softlockup_panic) or stalls the kernel started by kexec -e.
const noJitterRNG = "initcall_blacklist=jent_mod_init"

// Bed is what is shared by the boots of one test run.
type Bed struct {
	WorkDir  string // scratch space of this run
	Kexecrec string // static kexecrec for this host (host-side show, verify; also the amd64 guests')
	// Guests are the programs of each guest architecture (GOARCH).
	Guests map[string]*GuestTools
	// SMP is the guest CPU count the boots are prepared for.
	SMP int
}

// Boot is one kernel's run: inputs, and what came back.
type Boot struct {
	Kernel   testenv.Kernel
	Dir      string
	Modes    []string
	Modules  []module
	Plan     plan.Plan
	Payloads Payloads
	Tools    *GuestTools
	// Smp is the guest CPU count (qemu -smp; 0 means 1).
	Smp int
	// QemuArgs are added to qemu's command line (the benchmark's -icount).
	QemuArgs []string
	// BootArgs are added to the first kernel's command line (lsm=...,bpf
	// where the lsm mode runs).
	BootArgs string
	// FentryIDs are the BTF ids kexecrec must name in its info notes when
	// it resolves an ambiguous fentry target (FentryResolutions).
	FentryIDs map[string]btf.TypeID

	Console   string // console log path
	Disk      string // results disk image
	Elapsed   time.Duration
	QemuErr   error
	Boot      *plan.Boot
	Results   []plan.Result
	Overheads []plan.Overhead
	Captures  map[string]string // capture name -> host path
}

// Payloads are the host copies of what the guest loads, with the bytes the
// recorder must report for them.
type Payloads struct {
	Vmlinuz, Initrd, ExecInitrd string
	// KernelSegment is what kexec-tools passes as the kernel segment: on
	// x86 vmlinuz after its (setup_sects+1)*512 setup bytes (a bzImage),
	// on arm64 the whole file (Debian's arm64 vmlinuz is an uncompressed
	// Image, which kexec-tools loads as it is).
	KernelSegment []byte
	// Dtb (arm64) is the machine's device tree passed with --dtb.
	Dtb        string
	Append     string
	ExecAppend string
}

// BuildStatic builds a Go main package as a static binary (CGO off) for
// goarch.
func BuildStatic(goTool, pkg, out, goarch string) error {
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if goarch == "arm" {
		cmd.Env = append(cmd.Env, "GOARM=7") // ARMv7, which AArch32 at EL0 runs
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// SharedLibs returns the shared libraries and the dynamic loader a binary
// needs, as ldd resolves them on this host.
func SharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0]) // the loader, e.g. /lib64/ld-linux-x86-64.so.2
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s: no libraries found (static?)", bin)
	}
	return libs, nil
}

// ExpectedModes are the attach modes a kernel's configuration offers, best
// first: fentry needs direct-call ftrace and BTF, kprobe needs kprobes,
// raw syscalls only need BTF (tp_btf).
func ExpectedModes(configPath string) ([]string, error) {
	b, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	has := func(opt string) bool {
		return regexp.MustCompile(`(?m)^` + opt + `=y$`).Match(b)
	}
	var modes []string
	if has("CONFIG_DEBUG_INFO_BTF") && has("CONFIG_BPF_JIT") && has("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS") {
		modes = append(modes, "fentry")
	}
	if has("CONFIG_KPROBES") && has("CONFIG_KPROBE_EVENTS") {
		modes = append(modes, "kprobe")
	}
	if has("CONFIG_DEBUG_INFO_BTF") {
		modes = append(modes, "raw")
	}
	return modes, nil
}

// HasBPFLSM reports whether a kernel's configuration builds BPF LSM in
// (the lsm mode also needs bpf in the active list: lsm=...,bpf).
func HasBPFLSM(configPath string) (bool, error) {
	b, err := os.ReadFile(configPath)
	if err != nil {
		return false, err
	}
	return regexp.MustCompile(`(?m)^CONFIG_BPF_LSM=y$`).Match(b), nil
}

// SetupSize is the number of bytes before a bzImage's protected-mode kernel.
func SetupSize(bz []byte) (int, error) {
	if len(bz) < 0x203+4 || string(bz[0x202:0x206]) != "HdrS" {
		return 0, errors.New("not a bzImage (no HdrS)")
	}
	sects := int(bz[0x1f1])
	if sects == 0 {
		sects = 4
	}
	return (sects + 1) * 512, nil
}

// smallInitrd is the initrd the load scenarios pass: a tiny newc archive,
// so that the captures committed as samples stay small.
func smallInitrd(series string) []byte {
	var b bytes.Buffer
	w := newNewcWriter(&b)
	w.Bytes("etc/kexecrec-vmtest", 0o644, []byte("kexecrec vmtest initrd for Debian "+series+"\n"))
	if err := w.Close(); err != nil {
		panic(err) // writing to a bytes.Buffer cannot fail
	}
	return b.Bytes()
}

// Measure asks the guest to time getppid around an idle recorder in every
// mode (plan.Plan's Overhead fields); the zero value measures nothing.
type Measure struct {
	Calls, Rounds int
	Only          bool // measure only: no scenarios, no kexec -e
}

// Prepare writes the payloads, the plan and the initramfs of one boot.
func (bed *Bed) Prepare(k testenv.Kernel, modes []string, stopTimeout int, m Measure) (*Boot, error) {
	tools, arch := bed.Guests[k.Arch], guestArches[k.Arch]
	if tools == nil {
		return nil, fmt.Errorf("no guest programs built for %s", k.Arch)
	}
	bt := &Boot{Kernel: k, Dir: filepath.Join(bed.WorkDir, k.Series), Modes: modes, Tools: tools, Smp: bed.SMP}
	if err := os.MkdirAll(bt.Dir, 0o755); err != nil {
		return nil, err
	}
	mods, err := resolveModules(k.ModulesDir(), "virtio_pci", "virtio_blk")
	if err != nil {
		return nil, err
	}
	bt.Modules = mods

	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return nil, err
	}
	kernelSeg := vmlinuz
	if k.Arch == "amd64" {
		setup, err := SetupSize(vmlinuz)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k.Vmlinuz, err)
		}
		kernelSeg = vmlinuz[setup:]
	}
	pl := Payloads{
		Vmlinuz:       k.Vmlinuz,
		Initrd:        filepath.Join(bt.Dir, "initrd.small"),
		ExecInitrd:    filepath.Join(bt.Dir, "initrd.exec"),
		KernelSegment: kernelSeg,
		Append:        "console=" + arch.Console + " panic=-1 " + plan.BootArg + "=loaded",
		ExecAppend:    "console=" + arch.Console + " panic=-1 loglevel=4 " + noJitterRNG + " " + plan.BootArg + "=second",
	}
	if k.Arch == "arm64" {
		pl.Dtb = filepath.Join(bt.Dir, "machine.dtb")
		if err := DumpDTB(arch, bt.SMP(), pl.Dtb); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(pl.Initrd, smallInitrd(k.Series), 0o644); err != nil {
		return nil, err
	}
	// The kernel started by kexec -e boots this: the agent alone, which
	// prints the second-boot marker and powers off.
	if err := writeCpio(pl.ExecInitrd, func(w *newcWriter) {
		w.CharDev("dev/console", 5, 1)
		w.Dir("proc")
		w.Dir("sys")
		w.File("init", 0o755, tools.Agent)
	}); err != nil {
		return nil, err
	}
	bt.Payloads = pl

	p := plan.Plan{
		Series: k.Series, Release: k.Release, Modes: modes,
		Kexec: guestKexec, Kexecrec: guestKexecrec,
		Vmlinuz: guestVmlinuz, Initrd: guestInitrd, Append: pl.Append,
		ExecInitrd: guestExecInitrd, ExecAppend: pl.ExecAppend,
		OutDevice: guestOutDevice, OutDir: guestOutDir,
		ReadyTimeout: 90, StopTimeout: stopTimeout, Exec: !m.Only,
		OverheadCalls: m.Calls, OverheadRounds: m.Rounds, OnlyOverhead: m.Only,
		LoadArchFlag: arch.ArchFlag, FirstModeOnly: arch.FirstModeOnly, Skip: arch.Skip, RingBuf: arch.RingBuf,
	}
	if arch.FirstModeOnly != nil {
		// getppid rounds under TCG on a slow guest measure the emulator.
		p.OverheadCalls, p.OverheadRounds = 0, 0
		if m.Only {
			return nil, fmt.Errorf("%s guests are not measured (qemu TCG of another architecture)", k.Arch)
		}
	}
	if pl.Dtb != "" {
		p.Dtb = guestDtb
	}
	if tools.Trigger32 != "" {
		p.Trigger32 = guestTrigger32
	}
	for i, m := range mods {
		p.Modules = append(p.Modules, fmt.Sprintf("/modules/%02d-%s.ko", i, m.Name))
	}
	bt.Plan = p
	planJSON, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}

	err = writeCpio(filepath.Join(bt.Dir, "initramfs.cpio"), func(w *newcWriter) {
		w.CharDev("dev/console", 5, 1)
		for _, d := range []string{"proc", "sys", "tmp", "out"} {
			w.Dir(d)
		}
		dirs := map[string]bool{}
		for _, f := range tools.Files {
			for d := filepath.Dir(f.Guest); d != "/" && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
		for _, d := range sortedByDepth(dirs) {
			w.Dir(strings.TrimPrefix(d, "/"))
		}
		w.File("init", 0o755, tools.Agent)
		w.File(guestKexecrec, 0o755, tools.Kexecrec)
		w.File(guestKexec, 0o755, tools.Kexec)
		if tools.Trigger32 != "" {
			w.File(guestTrigger32, 0o755, tools.Trigger32)
		}
		for _, f := range tools.Files {
			w.File(f.Guest, 0o755, f.Host)
		}
		for i, m := range mods {
			w.Bytes(p.Modules[i], 0o644, m.Data)
		}
		w.File(guestVmlinuz, 0o644, pl.Vmlinuz)
		w.File(guestInitrd, 0o644, pl.Initrd)
		w.File(guestExecInitrd, 0o644, pl.ExecInitrd)
		if pl.Dtb != "" {
			w.File(guestDtb, 0o644, pl.Dtb)
		}
		w.Bytes(plan.Path, 0o644, planJSON)
	})
	if err != nil {
		return nil, err
	}
	return bt, nil
}

func writeCpio(path string, fill func(*newcWriter)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := newNewcWriter(f)
	fill(w)
	err = w.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Run boots the kernel under qemu TCG, waits for the guest to power off (or
// the timeout), and reads back what the guest wrote on the results disk.
func (bt *Boot) Run(ctx context.Context, qemu string, timeout time.Duration, smp int) error {
	bt.Console = filepath.Join(bt.Dir, "console.log")
	bt.Disk = filepath.Join(bt.Dir, "results.img")
	// A sparse, all-zero disk: whatever the agent appended is a valid tar.
	os.Remove(bt.Disk)
	disk, err := os.Create(bt.Disk)
	if err != nil {
		return err
	}
	if err := disk.Truncate(2 << 30); err != nil {
		disk.Close()
		return err
	}
	disk.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	arch := guestArches[bt.Kernel.Arch]
	if smp != bt.SMP() {
		return fmt.Errorf("boot prepared for -smp %d, run with %d (the arm64 dtb depends on it)", bt.SMP(), smp)
	}
	args := append([]string{
		"-accel", "tcg", "-m", fmt.Sprintf("%dM", arch.MemoryMB), "-smp", fmt.Sprint(smp),
		"-nodefaults", "-display", "none", "-no-reboot", "-nic", "none",
		"-serial", "file:" + bt.Console, "-monitor", "none",
		"-kernel", bt.Kernel.Vmlinuz,
		"-initrd", filepath.Join(bt.Dir, "initramfs.cpio"),
		// crashkernel= for kexec -p; panic=-1 with -no-reboot ends qemu on a
		// panic, and a soft lockup (a BPF program spinning) panics at once
		// instead of hanging until the host's timeout.
		"-append", strings.TrimSpace("console=" + arch.Console + " crashkernel=192M panic=-1 softlockup_panic=1 loglevel=4 " + noJitterRNG + " " + plan.BootArg + "=first " + bt.BootArgs),
	}, arch.Machine...)
	args = append(args, arch.DriveArgs(bt.Disk)...)
	args = append(args, bt.QemuArgs...)
	if qemu == "" {
		qemu = arch.Qemu
	}
	cmd := exec.CommandContext(ctx, qemu, args...)
	var qout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &qout, &qout
	start := time.Now()
	err = cmd.Run()
	bt.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		bt.QemuErr = fmt.Errorf("qemu timed out after %s", timeout)
	} else if err != nil {
		bt.QemuErr = fmt.Errorf("qemu: %v: %s", err, strings.TrimSpace(qout.String()))
	}
	if rerr := bt.readDisk(); rerr != nil {
		return errors.Join(bt.QemuErr, rerr)
	}
	return bt.QemuErr
}

// readDisk extracts the agent's tar stream: boot.json (last copy wins),
// results/*.json and captures/*.
func (bt *Boot) readDisk() error {
	f, err := os.Open(bt.Disk)
	if err != nil {
		return err
	}
	defer f.Close()
	bt.Captures = map[string]string{}
	capDir := filepath.Join(bt.Dir, "captures")
	if err := os.MkdirAll(capDir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("results disk: %v", err)
		}
		switch {
		case h.Name == plan.BootEntry:
			var b plan.Boot
			if err := json.NewDecoder(tr).Decode(&b); err != nil {
				return fmt.Errorf("results disk: %s: %v", h.Name, err)
			}
			bt.Boot = &b
		case strings.HasPrefix(h.Name, plan.ResultsDir):
			var r plan.Result
			if err := json.NewDecoder(tr).Decode(&r); err != nil {
				return fmt.Errorf("results disk: %s: %v", h.Name, err)
			}
			bt.Results = append(bt.Results, r)
		case strings.HasPrefix(h.Name, plan.OverheadDir):
			var o plan.Overhead
			if err := json.NewDecoder(tr).Decode(&o); err != nil {
				return fmt.Errorf("results disk: %s: %v", h.Name, err)
			}
			bt.Overheads = append(bt.Overheads, o)
		case strings.HasPrefix(h.Name, plan.CapturesDir):
			name := filepath.Base(h.Name)
			path := filepath.Join(capDir, name)
			out, err := os.Create(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("results disk: %s: %v", h.Name, err)
			}
			bt.Captures[name] = path
		}
	}
	if bt.Boot == nil {
		return errors.New("results disk: the guest wrote nothing (see the console log)")
	}
	return nil
}

// ConsoleLog returns the guest's serial console output.
func (bt *Boot) ConsoleLog() string {
	b, err := os.ReadFile(bt.Console)
	if err != nil {
		return "(no console log: " + err.Error() + ")"
	}
	return string(b)
}

// SMP is the boot's guest CPU count.
func (bt *Boot) SMP() int { return max(bt.Smp, 1) }

// sortedByDepth lists directories parents first.
func sortedByDepth(dirs map[string]bool) []string {
	var out []string
	for d := range dirs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := strings.Count(out[i], "/"), strings.Count(out[j], "/")
		if ci != cj {
			return ci < cj
		}
		return out[i] < out[j]
	})
	return out
}
