// Command guest is the /init of the qemu test bed's initramfs (built static,
// CGO off). In the first boot it mounts the pseudo file systems, loads the
// virtio modules, runs every scenario of the plan under `kexecrec record`
// in every attach mode, appends each capture and result to a tar stream
// written straight onto the results disk, and finally runs `kexec -e` into
// the kernel it loaded. In the second boot (started by kexec -e, with
// kexecrec.vmtest=second on its command line) it prints a marker line on
// the console and powers off.
//
// It is also its own helper: `init dropcap PROG ARGS...` execs PROG without
// CAP_SYS_BOOT, `init trigger badflags PLAN` issues kexec calls with unknown
// flag bits and prints what the kernel answered as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/vmtest/plan"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(helper(os.Args[1:]))
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "vmtest guest agent: runs as /init of the test bed's initramfs (or: dropcap|trigger)")
		os.Exit(2)
	}
	mountAll()
	cmdline, _ := os.ReadFile("/proc/cmdline")
	if bootArg(string(cmdline)) == "second" {
		secondBoot()
	}
	firstBoot(strings.TrimSpace(string(cmdline)))
	powerOff()
}

func logf(format string, args ...any) {
	fmt.Printf("vmtest: "+format+"\n", args...)
}

// bootArg returns the value of plan.BootArg on the kernel command line.
func bootArg(cmdline string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, plan.BootArg+"="); ok {
			return v
		}
	}
	return ""
}

// mountAll mounts what kexec-tools (/proc/iomem, /sys/firmware/memmap,
// /sys/kernel/kexec_*) and the recorder (bpffs, tracefs, debugfs, BTF in
// /sys) need. Errors are printed, not fatal: a missing mount shows up as a
// scenario failure with a clearer cause.
func mountAll() {
	mounts := []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"debugfs", "/sys/kernel/debug", "debugfs"},
		{"tracefs", "/sys/kernel/tracing", "tracefs"},
		{"bpf", "/sys/fs/bpf", "bpf"},
	}
	for _, m := range mounts {
		_ = os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil && err != unix.EBUSY {
			logf("mount %s on %s: %v", m.fstype, m.dst, err)
		}
	}
}

func secondBoot() {
	release := uname()
	// One line the host greps for; it names the kernel that is running.
	fmt.Printf("%s release=%s\n", plan.SecondBootMarker, release)
	powerOff()
}

func powerOff() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		logf("power off: %v", err)
	}
	// PID 1 must not return; the kernel panics (panic=-1 ends qemu) if it does.
	for {
		time.Sleep(time.Hour)
	}
}

func uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	var up float64
	fmt.Sscanf(string(b), "%f", &up)
	return up
}

// waitForCRNG blocks until the kernel's random pool is initialized.
// kexec-tools adds its RNG-seed setup_data segment to a kexec_load only
// when getrandom(GRND_NONBLOCK) succeeds, so on a slow (TCG, loaded host)
// boot the first scenario would otherwise load one segment fewer than the
// same scenario in later modes, and the modes would not compare.
func waitForCRNG() {
	start := time.Now()
	var b [1]byte
	for {
		_, err := unix.Getrandom(b[:], 0)
		if err != unix.EINTR {
			break
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		logf("waited %.1fs for the kernel's random pool", d.Seconds())
	}
}

func firstBoot(cmdline string) {
	boot := plan.Boot{Release: uname(), Cmdline: cmdline, UptimeAtStart: uptime()}
	logf("first boot: kernel %s, up %.1fs", boot.Release, boot.UptimeAtStart)
	var p plan.Plan
	b, err := os.ReadFile(plan.Path)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		logf("FATAL: plan: %v", err)
		return
	}
	for _, m := range p.Modules {
		if err := insmod(m); err != nil {
			boot.Errors = append(boot.Errors, err.Error())
			logf("%v", err)
			continue
		}
		boot.Modules = append(boot.Modules, m)
	}
	out, err := openOutDisk(p.OutDevice, 20*time.Second)
	if err != nil {
		logf("FATAL: results disk: %v", err)
		return
	}
	defer out.Close()
	waitForCRNG()
	a := &agent{p: p, out: out, boot: &boot}
	a.writeBoot()
	waitCRNG(time.Minute)
	a.run()
	boot.UptimeAtEnd = uptime()
	a.writeBoot()
	logf("%s: %d scenarios in %.1fs", plan.DoneMarker, boot.Scenarios, boot.UptimeAtEnd-boot.UptimeAtStart)
	if p.Exec && a.execLoaded {
		boot.ExecStarted = true
		a.writeBoot()
		if err := out.Close(); err != nil {
			logf("results disk: %v", err)
		}
		unix.Sync()
		logf("kexec -e into the loaded kernel")
		c := a.command(120*time.Second, p.Kexec, "-e")
		// Only reached when kexec -e failed.
		logf("kexec -e returned: exit %d: %s", c.Exit, c.Output)
	}
}

// insmod loads one module with finit_module (the host decompressed it).
func insmod(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("insmod %s: %v", path, err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("insmod %s: %v", path, err)
	}
	return nil
}

// waitCRNG waits (at most max) until the kernel's random generator is
// ready. kexec-tools adds a 48-byte RNG seed segment to every kexec_load
// only when getrandom(GRND_NONBLOCK) succeeds, so on a guest booted slowly
// (TCG on a loaded host) the first scenarios would pass one segment fewer
// than the later ones, and the modes' calls would not compare. A blocking
// getrandom makes the kernel generate the entropy it waits for.
func waitCRNG(max time.Duration) {
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := unix.Getrandom(b[:], 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			logf("getrandom: %v", err)
			return
		}
		logf("random generator ready after %.1fs", time.Since(start).Seconds())
	case <-time.After(max):
		logf("random generator not ready after %v: the first loads may lack kexec-tools' RNG seed segment", max)
	}
}
