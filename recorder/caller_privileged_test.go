package recorder

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

// The caller as BPF reads it at syscall entry (bpf/caller.h), checked
// against callers that are separate processes and exit right after their
// call: the kernel's view must be complete without /proc.

func (c *rawCall) addCaller(b []byte, bo binary.ByteOrder) error {
	if layout.RecordType(b, bo) == layout.RecCaller {
		k, err := layout.ParseCaller(b, bo)
		if err != nil {
			return err
		}
		c.caller = &k
		return nil
	}
	a, err := layout.ParseArgs(b, bo)
	if err != nil {
		return err
	}
	a.Data = bytes.Clone(a.Data) // the ring buffer is reused
	if c.args == nil {
		c.args = map[uint32]*layout.Args{}
	}
	c.args[a.Kind] = &a
	return nil
}

// kexecTrigger builds cmd/kexec-trigger into the test's temporary
// directory (the build cache makes every build after the first quick).
func kexecTrigger(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kexec-trigger")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kexecrec/kexecrec/cmd/kexec-trigger").CombinedOutput()
	if err != nil {
		t.Fatalf("go build kexec-trigger: %v\n%s", err, out)
	}
	return bin
}

// runTrigger runs cmd (a kexec-trigger), which makes one kexec_load with
// CAP_SYS_BOOT dropped and exits, and returns its call once complete.
func runTrigger(t *testing.T, c *rawCollector, cmd *exec.Cmd) *rawCall {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd.Args[0], err)
	}
	var res struct {
		TID int    `json:"tid"`
		Ret int64  `json:"ret"`
		Err string `json:"errno_name"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("trigger output %q: %v", out, err)
	}
	if res.Ret != -int64(syscall.ENOSYS) && res.Ret != -int64(syscall.EPERM) {
		t.Fatalf("trigger got ret %d, want ENOSYS or EPERM (CAP_SYS_BOOT is dropped)", res.Ret)
	}
	// The trigger's pid is its tid in our namespace only without a pid
	// namespace of its own: look the call up by the pid we started.
	return c.waitPID(t, cmd.Process.Pid)
}

// waitPID waits for the complete call of process pid (the deadline only
// stops a broken run from hanging).
func (c *rawCollector) waitPID(t *testing.T, pid int) *rawCall {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			t.Fatalf("reading records: %v", c.err)
		}
		var found *rawCall
		for _, call := range c.calls {
			if call.enter != nil && call.enter.PID == uint32(pid) && call.exit != nil {
				found = call
			}
		}
		c.mu.Unlock()
		if found != nil {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no complete call from pid %d within the deadline", pid)
	return nil
}

// argvBytes is argv as the kernel keeps it (/proc/PID/cmdline).
func argvBytes(args []string) []byte {
	return []byte(strings.Join(args, "\x00") + "\x00")
}

func commOf(path string) string {
	b := filepath.Base(path)
	if len(b) > layout.CommLen-1 {
		b = b[:layout.CommLen-1]
	}
	return b
}

// checkKernelCaller checks what every call from a trigger started by this
// test must carry from the kernel: executable, argv and ancestry.
func checkKernelCaller(t *testing.T, call *rawCall, bin string, args []string, cwd string) {
	t.Helper()
	k := call.caller
	if k == nil {
		t.Fatalf("call %d: no CALLER record", call.enter.CallID)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if k.Flags&layout.CFExe == 0 || k.Exe != bin || k.ExeIno != sys.Ino || k.ExeSize != uint64(st.Size()) ||
		k.ExeMtimeSec != st.ModTime().Unix() || unix.Mkdev(k.ExeDev>>20, k.ExeDev&0xfffff) != sys.Dev {
		t.Errorf("exe: flags %#x %q dev %#x ino %d size %d mtime %d; want %q ino %d size %d mtime %d dev %#x",
			k.Flags, k.Exe, k.ExeDev, k.ExeIno, k.ExeSize, k.ExeMtimeSec, bin, sys.Ino, st.Size(), st.ModTime().Unix(), sys.Dev)
	}
	if cwd != "" && (k.Flags&layout.CFCwd == 0 || k.Cwd != cwd) {
		t.Errorf("cwd %q (flags %#x), want %q", k.Cwd, k.Flags, cwd)
	}
	argv := call.args[layout.ArgsArgv]
	want := argvBytes(args)
	if argv == nil || argv.ReadErr != 0 || argv.Total != uint64(len(want)) {
		t.Fatalf("argv record %+v, want %d bytes", argv, len(want))
	}
	n := min(len(want), DefaultMaxArgs)
	if !bytes.Equal(argv.Data, want[:n]) {
		t.Errorf("argv %q, want %q", argv.Data, want[:n])
	}
	// Ancestry: this test process, then its parent, up the real chain.
	if len(k.Ancestors) < 2 || int(k.Ancestors[0].PID) != os.Getpid() || int(k.Ancestors[1].PID) != os.Getppid() {
		t.Fatalf("ancestors %+v, want pid %d then %d", k.Ancestors, os.Getpid(), os.Getppid())
	}
	self, _ := os.Executable()
	if a := k.Ancestors[0]; a.Comm != commOf(self) || a.Exe != self || a.Flags&layout.AFExe == 0 ||
		a.UID != uint32(os.Getuid()) || a.EUID != uint32(os.Geteuid()) || a.StartNS == 0 {
		t.Errorf("ancestor 0 %+v, want comm %q exe %q", a, commOf(self), self)
	}
	last := k.Ancestors[len(k.Ancestors)-1]
	switch {
	case k.Flags&layout.CFAncInit != 0:
		if last.Flags&layout.AFNsInit == 0 || (last.PID != 1 && last.NsPID != 1) {
			t.Errorf("chain ends at init by its flags, but its last link is %+v", last)
		}
	case k.Flags&layout.CFAncMore != 0:
		if len(k.Ancestors) != layout.MaxAncestors {
			t.Errorf("chain cut with %d links", len(k.Ancestors))
		}
	default:
		t.Errorf("chain of %d links neither reaches an init nor is cut: %+v", len(k.Ancestors), k.Ancestors)
	}
	for i := 1; i < len(k.Ancestors); i++ {
		if k.Ancestors[i].StartNS > k.Ancestors[i-1].StartNS {
			t.Errorf("ancestor %d started after its child: %+v", i, k.Ancestors)
		}
	}
}

// Twenty calls from processes that exit right after their call: every one
// has its executable, argv and ancestry from the kernel.
func TestPrivilegedCallerAtEntry(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	bin := kexecTrigger(t)
	cwd := t.TempDir()
	for i := range 20 {
		cmd := exec.Command(bin, "-sizes", "100", "-seed", fmt.Sprint(i+1), "-note", fmt.Sprintf("call %d", i))
		cmd.Dir = cwd
		call := runTrigger(t, c, cmd)
		checkKernelCaller(t, call, bin, cmd.Args, cwd)
		if call.caller.Flags&layout.CFCgroup == 0 || call.caller.Cgroup == "" {
			t.Errorf("call %d: no cgroup path (flags %#x)", i, call.caller.Flags)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// argv longer than the bound is cut at it and says its real length; with
// --env the environment comes along under the same bound.
func TestPrivilegedCallerArgvBound(t *testing.T) {
	src := attachRaw(t, AttachConfig{MaxArgs: 5000, Env: true})
	c := newRawCollector(src)
	c.start()
	bin := kexecTrigger(t)
	cmd := exec.Command(bin, "-sizes", "100", "-note", strings.Repeat("x", 9000))
	cmd.Env = append(os.Environ(), "KEXECREC_TEST_ENV=42")
	call := runTrigger(t, c, cmd)
	want := argvBytes(cmd.Args)
	argv := call.args[layout.ArgsArgv]
	if argv == nil || argv.Total != uint64(len(want)) || len(argv.Data) != 5000 || !argv.Truncated() ||
		!bytes.Equal(argv.Data, want[:5000]) {
		t.Fatalf("argv: %d of %d bytes (truncated %v), want 5000 of %d", len(argv.Data), argv.Total, argv.Truncated(), len(want))
	}
	env := call.args[layout.ArgsEnv]
	if env == nil || env.ReadErr != 0 || !bytes.Contains(env.Data, []byte("\x00KEXECREC_TEST_ENV=42\x00")) &&
		!bytes.HasSuffix(env.Data, []byte("\x00KEXECREC_TEST_ENV=42\x00")) {
		t.Errorf("environment record %+v lacks KEXECREC_TEST_ENV=42", env)
	}
}

// cgroup2Root is where the unified hierarchy is mounted ("" when nowhere).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && fields[3] == "/" {
				return fields[4]
			}
		}
	}
	return ""
}

// A caller in its own pid and mount namespace, started in a cgroup of its
// own: the kernel names its namespace pid (1: it is the namespace's init)
// and its cgroup v2 path.
func TestPrivilegedCallerNamespaces(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	bin := kexecTrigger(t)
	root := cgroup2Root(t)
	if root == "" {
		testenv.Skip(t, "no cgroup2 hierarchy mounted")
	}
	name := fmt.Sprintf("kexecrec-test-%d", os.Getpid())
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	var ourCgroup string
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		ourCgroup = CgroupPath(string(b))
	}

	cmd := exec.Command(bin, "-sizes", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	call := runTrigger(t, c, cmd)
	k := call.caller
	if k == nil {
		t.Fatal("no CALLER record")
	}
	// Our own cgroup is relative to the root when we are not in a cgroup
	// namespace, which the kernel walk does not see either.
	wantCg := "/" + name
	if k.Flags&layout.CFCgroup == 0 || k.Cgroup != wantCg {
		t.Errorf("cgroup %q (flags %#x), want %q (ours: %q)", k.Cgroup, k.Flags, wantCg, ourCgroup)
	}
	if k.Flags&layout.CFNsPID == 0 || k.NsPID != 1 || k.NsTID != 1 || k.NsLevel < 1 || call.enter.PID == 1 {
		t.Errorf("namespace ids: pid %d tid %d level %d (flags %#x), global pid %d", k.NsPID, k.NsTID, k.NsLevel, k.Flags, call.enter.PID)
	}
	if call.enter.PidNS == 0 || call.enter.MntNS == 0 {
		t.Errorf("entry names pid ns %d mnt ns %d", call.enter.PidNS, call.enter.MntNS)
	}
	self, _ := os.Readlink("/proc/self/ns/pid")
	if strings.Contains(self, fmt.Sprintf("[%d]", call.enter.PidNS)) {
		t.Errorf("the caller's pid namespace %d is ours (%s)", call.enter.PidNS, self)
	}
	if len(k.Ancestors) == 0 || int(k.Ancestors[0].PID) != os.Getpid() {
		t.Errorf("ancestors %+v, want this test (pid %d) first", k.Ancestors, os.Getpid())
	}
}

// A caller whose executable was deleted after exec is still named, with
// the kernel's mark that it is.
func TestPrivilegedCallerDeletedExe(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	orig := kexecTrigger(t)
	bin := filepath.Join(t.TempDir(), "kx-deleted")
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-sizes", "100", "-wait-stdin")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once exec is done the process runs the file: delete it, then let
	// the call go.
	for range 500 {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); exe == bin {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); exe != bin+" (deleted)" {
		t.Fatalf("/proc says exe %q, want %q", exe, bin+" (deleted)")
	}
	in.Write([]byte("\n"))
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	call := c.waitPID(t, cmd.Process.Pid)
	k := call.caller
	if k == nil || k.Exe != bin || k.Flags&layout.CFExe == 0 || k.Flags&layout.CFExeDeleted == 0 || k.ExeSize != uint64(len(data)) {
		t.Fatalf("caller %+v: want exe %q marked deleted", k, bin)
	}
}

// A caller with a controlling terminal (a pty of its own session): the
// kernel names it as the kernel does ("pts" and the index) with its device
// numbers.
func TestPrivilegedCallerTTY(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	bin := kexecTrigger(t)
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Skip(t, "no /dev/ptmx: "+err.Error())
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pts.Close()
	go func() { // keep the pty's output moving
		buf := make([]byte, 4096)
		for {
			if _, err := ptmx.Read(buf); err != nil {
				return
			}
		}
	}()
	cmd := exec.Command(bin, "-sizes", "100")
	cmd.Stdin = pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	call := runTrigger(t, c, cmd)
	k := call.caller
	if k == nil || k.Flags&layout.CFTTY == 0 || k.TTY != fmt.Sprintf("pts%d", n) || k.TTYMajor != 136 || k.TTYMinor != uint32(n) {
		t.Fatalf("tty: %+v, want pts%d (136:%d)", k, n, n)
	}
}

// A caller run from a memfd (no file on any disk): named as the kernel
// names it, "/memfd:NAME (deleted)".
func TestPrivilegedCallerMemfdExe(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	data, err := os.ReadFile(kexecTrigger(t))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.MemfdCreate("kexecrec-test", 0)
	if err != nil {
		testenv.Skip(t, "memfd_create: "+err.Error())
	}
	mf := os.NewFile(uintptr(fd), "memfd")
	defer mf.Close()
	if _, err := mf.Write(data); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), "-sizes", "100")
	call := runTrigger(t, c, cmd)
	k := call.caller
	if k == nil || k.Exe != "/memfd:kexecrec-test" || k.Flags&layout.CFExeDeleted == 0 || k.ExeSize != uint64(len(data)) {
		t.Fatalf("caller %+v: want exe /memfd:kexecrec-test marked deleted", k)
	}
}
