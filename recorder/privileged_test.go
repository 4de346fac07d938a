package recorder

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// The privileged tests attach the real BPF programs (raw mode: the one the
// dev/CI kernel offers), issue real kexec calls with CAP_SYS_BOOT dropped,
// and check the raw records against what was passed, byte by byte.

// pkey identifies a payload within a call.
type pkey struct{ kind, index, source uint16 }

// rawPayload re-assembles one payload from its pieces, hashing as it goes
// and zero-filling holes the way the recorder does.
type rawPayload struct {
	sum        hash.Hash
	next       uint64
	captured   uint64 // data bytes received in pieces (read-error zeros included)
	pieces     int
	readErrs   int
	holes      []hole // ranges of the read-error pieces
	outOfOrder bool
	end        *layout.PayloadEnd
}

// hole is the range of one read-error piece.
type hole struct{ off, len uint64 }

func (p *rawPayload) hex() string { return hex.EncodeToString(p.sum.Sum(nil)) }

type rawCall struct {
	enter    *layout.Enter
	segs     *layout.Segments
	payloads map[pkey]*rawPayload
	files    []layout.File
	exit     *layout.Exit
	caller   *layout.Caller          // caller_privileged_test.go
	args     map[uint32]*layout.Args // by kind; Data copied out of the ring
}

// rawCollector reads a Source and groups its records by call.
type rawCollector struct {
	src     Source
	mu      sync.Mutex
	calls   map[uint64]*rawCall
	records int
	err     error
	done    chan struct{}
}

func newRawCollector(src Source) *rawCollector {
	return &rawCollector{src: src, calls: map[uint64]*rawCall{}, done: make(chan struct{})}
}

func (c *rawCollector) start() { go c.run() }

func (c *rawCollector) run() {
	defer close(c.done)
	bo := binary.NativeEndian
	for {
		b, err := c.src.Read()
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				c.fail(err)
			}
			return
		}
		h, err := layout.ParseHeader(b, bo)
		if err != nil {
			c.fail(err)
			continue
		}
		c.mu.Lock()
		c.records++
		call := c.calls[h.CallID]
		if call == nil {
			call = &rawCall{payloads: map[pkey]*rawPayload{}}
			c.calls[h.CallID] = call
		}
		switch h.Type {
		case layout.RecEnter:
			e, err := layout.ParseEnter(b, bo)
			c.check(err)
			call.enter = &e
		case layout.RecSegments:
			s, err := layout.ParseSegments(b, bo)
			c.check(err)
			call.segs = &s
		case layout.RecPiece:
			p, err := layout.ParsePiece(b, bo)
			c.check(err)
			acc := call.payload(pkey{p.Kind, p.Index, p.Source})
			// The padding after the data is part of the stored record:
			// it must be zeros, not stale ring bytes.
			for _, pad := range b[layout.PieceSize+int(p.Len) : h.Size] {
				if pad != 0 {
					c.check(fmt.Errorf("call %d piece at %d: non-zero padding", h.CallID, p.Offset))
					break
				}
			}
			if p.Offset < acc.next {
				acc.outOfOrder = true
			} else if p.Offset > acc.next {
				acc.sum.Write(make([]byte, p.Offset-acc.next))
				acc.next = p.Offset
			}
			acc.sum.Write(p.Data)
			acc.next += uint64(len(p.Data))
			acc.captured += uint64(len(p.Data))
			acc.pieces++
			if p.ReadErr != 0 {
				// The piece keeps its length; its data must be zeros.
				acc.readErrs++
				acc.holes = append(acc.holes, hole{p.Offset, uint64(p.Len)})
				if !bytes.Equal(p.Data, make([]byte, len(p.Data))) {
					c.check(fmt.Errorf("call %d read-error piece at %d: data is not zero-filled", h.CallID, p.Offset))
				}
			}
		case layout.RecPayloadEnd:
			e, err := layout.ParsePayloadEnd(b, bo)
			c.check(err)
			call.payload(pkey{e.Kind, e.Index, e.Source}).end = &e
		case layout.RecExit:
			x, err := layout.ParseExit(b, bo)
			c.check(err)
			call.exit = &x
		case layout.RecFile:
			f, err := layout.ParseFile(b, bo)
			c.check(err)
			call.files = append(call.files, f)
		case layout.RecCaller, layout.RecArgs:
			c.check(call.addCaller(b, bo))
		}
		c.mu.Unlock()
	}
}

func (c *rawCall) payload(k pkey) *rawPayload {
	p := c.payloads[k]
	if p == nil {
		p = &rawPayload{sum: sha256.New()}
		c.payloads[k] = p
	}
	return p
}

func (c *rawCollector) check(err error) {
	if err != nil && c.err == nil {
		c.err = err
	}
}

func (c *rawCollector) fail(err error) {
	c.mu.Lock()
	c.check(err)
	c.mu.Unlock()
}

// waitCall waits until the call made by thread tid has its exit record.
// The deadline only stops a broken run from hanging; it asserts nothing
// about speed.
func (c *rawCollector) waitCall(t *testing.T, tid int) *rawCall {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			t.Fatalf("reading records: %v", c.err)
		}
		var found *rawCall
		for _, call := range c.calls {
			if call.enter != nil && call.enter.TID == uint32(tid) && call.exit != nil {
				found = call
			}
		}
		c.mu.Unlock()
		if found != nil {
			return found // its exit came last: the call is complete
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no complete call from tid %d within the deadline", tid)
	return nil
}

// findCall is waitCall without failing: nil when the call has not arrived
// complete within wait.
// loadAndWait issues kexec_load as spec says (the trigger drops
// CAP_SYS_BOOT first: nothing is loaded) and returns the call once the
// collector has seen it complete. The trigger's buffers are released when
// the test ends.
func (c *rawCollector) loadAndWait(t *testing.T, spec trigger.LoadSpec) (*trigger.Result, *rawCall) {
	t.Helper()
	res, err := trigger.KexecLoad(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Release)
	return res, c.waitCall(t, res.TID)
}

func (c *rawCollector) findCall(tid int, wait time.Duration) *rawCall {
	deadline := time.Now().Add(wait)
	for {
		c.mu.Lock()
		var found *rawCall
		for _, call := range c.calls {
			if call.enter != nil && call.enter.TID == uint32(tid) && call.exit != nil {
				found = call
			}
		}
		c.mu.Unlock()
		if found != nil || time.Now().After(deadline) {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// attachRaw attaches in raw mode, recording only this test process.
//
// The trigger drops CAP_SYS_BOOT, so for BPF every test call is an
// unprivileged one, which in production gets only a short wait for ring
// space (DefaultRingWaitUnprivileged). Tests that expect large payloads
// complete (256 MiB through a 16 MiB ring) need the privileged budget:
// unless a test sets RingWaitUnprivileged itself, it gets RingWait's value
// (or DefaultRingWait). This is for tests only; the production default stays
// small.
func attachRaw(t testing.TB, cfg AttachConfig) Source {
	t.Helper()
	testenv.Root(t)
	if cfg.RingWaitUnprivileged == 0 {
		cfg.RingWaitUnprivileged = cfg.RingWait
		if cfg.RingWaitUnprivileged == 0 {
			cfg.RingWaitUnprivileged = DefaultRingWait
		}
	}
	cfg.Mode = ModeRaw
	cfg.OnlyPID = uint32(os.Getpid())
	src, err := Attach(cfg)
	if err != nil {
		testenv.Skip(t, fmt.Sprintf("cannot attach BPF programs: %v", err))
	}
	t.Cleanup(func() { src.Close() })
	for _, w := range src.Warnings() {
		t.Logf("warning: %s", w)
	}
	if src.Mode() != ModeRaw {
		t.Fatalf("Mode() = %q, want raw", src.Mode())
	}
	return src
}

// checkErrno accepts the answers a host kernel may give a call without
// CAP_SYS_BOOT: ENOSYS (no kexec built in) or EPERM (kexec built in).
func checkErrno(t *testing.T, res *trigger.Result, x *layout.Exit) {
	t.Helper()
	if res.Ret != -int64(syscall.ENOSYS) && res.Ret != -int64(syscall.EPERM) {
		t.Fatalf("trigger got ret %d (%s), want ENOSYS or EPERM", res.Ret, res.ErrnoName)
	}
	if x.Ret != res.Ret {
		t.Errorf("recorded ret %d, the caller got %d", x.Ret, res.Ret)
	}
	if x.Hook != layout.HookRawSyscall {
		t.Errorf("exit hook %d, want raw", x.Hook)
	}
	// On a kernel without kexec raw mode knows the return in advance (and
	// has no exit to time); elsewhere it observes it at sys_exit.
	if x.Flags&layout.XFRetKnownENOSYS != 0 {
		if x.Ret != -int64(syscall.ENOSYS) || x.DurationNS != 0 {
			t.Errorf("exit known in advance: ret %d duration %d, want ENOSYS and 0", x.Ret, x.DurationNS)
		}
	} else if x.DurationNS == 0 {
		t.Errorf("observed exit without a duration: %+v", *x)
	}
}

func checkEnter(t *testing.T, res *trigger.Result, e *layout.Enter) {
	t.Helper()
	if e == nil {
		t.Fatal("no ENTER record")
	}
	if int(e.PID) != res.PID || int(e.TID) != res.TID {
		t.Errorf("enter pid/tid %d/%d, want %d/%d", e.PID, e.TID, res.PID, res.TID)
	}
	abi := uint32(layout.ABIX64)
	switch {
	case res.IA32:
		abi = layout.ABIIA32
	case res.X32:
		abi = layout.ABIX32
	}
	if int(e.SyscallNr) != res.Nr || e.ABI != abi || e.Hook != layout.HookRawSyscall {
		t.Errorf("enter nr %d abi %d hook %d, want %d abi %d raw", e.SyscallNr, e.ABI, e.Hook, res.Nr, abi)
	}
	for i := 0; i < 5; i++ {
		if e.Args[i] != res.Args[i] {
			t.Errorf("arg %d recorded %#x, passed %#x", i, e.Args[i], res.Args[i])
		}
	}
	if e.PPID != uint32(os.Getppid()) {
		t.Errorf("ppid %d, want %d", e.PPID, os.Getppid())
	}
	uid, euid, gid := uint32(os.Getuid()), uint32(os.Geteuid()), uint32(os.Getgid())
	if res.UID != 0 { // the call's thread became this uid and gid
		uid, euid, gid = res.UID, res.UID, res.UID
	}
	if e.UID != uid || e.EUID != euid || e.GID != gid {
		t.Errorf("uid/euid/gid %d/%d/%d, want %d/%d/%d", e.UID, e.EUID, e.GID, uid, euid, gid)
	}
	if ino := nsInode(t, "mnt"); e.MntNS != ino {
		t.Errorf("mntns %d, /proc/self/ns/mnt says %d", e.MntNS, ino)
	}
	if ino := nsInode(t, "pid"); e.PidNS != ino {
		t.Errorf("pidns %d, /proc/self/ns/pid says %d", e.PidNS, ino)
	}
	if e.CgroupID == 0 {
		t.Error("cgroup id 0")
	}
}

func nsInode(t *testing.T, ns string) uint32 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

// checkSegments compares the SEGMENTS record and every segment payload with
// what the trigger passed. want is how many entries must have been copied.
func checkSegments(t *testing.T, res *trigger.Result, call *rawCall, want int) {
	t.Helper()
	s := call.segs
	if s == nil {
		t.Fatal("no SEGMENTS record")
	}
	if s.NrPassed != res.Args[1] {
		t.Errorf("nr_passed %d, want %d", s.NrPassed, res.Args[1])
	}
	entrySize := uint32(32)
	if res.IA32 || res.X32 {
		entrySize = 16 // struct compat_kexec_segment
	}
	if int(s.NrCopied) != want || s.ReadErr != 0 || s.EntrySize != entrySize {
		t.Fatalf("nr_copied %d read_err %d entry_size %d, want %d 0 %d", s.NrCopied, s.ReadErr, s.EntrySize, want, entrySize)
	}
	tooMany := res.Args[1] > layout.MaxSegments
	if (s.Flags&layout.SFTooMany != 0) != tooMany {
		t.Errorf("segments flags %#x, too many = %v", s.Flags, tooMany)
	}
	for i := 0; i < want; i++ {
		ps := res.Segments[i]
		if got := s.Segs[i]; got != (layout.Segment{Buf: ps.Buf, BufSz: ps.BufSz, Mem: ps.Mem, MemSz: ps.MemSz}) {
			t.Errorf("segment %d recorded %+v, passed %+v", i, got, ps)
		}
		acc := call.payloads[pkey{layout.KindSegment, uint16(i), layout.SrcSyscallEntry}]
		if acc == nil || acc.end == nil {
			t.Errorf("segment %d: no payload end", i)
			continue
		}
		if ps.Unreadable {
			continue
		}
		e := acc.end
		if e.Total != ps.BufSz || e.Emitted != ps.BufSz || e.Dropped != 0 || e.ReadErrors != 0 || e.Flags != 0 {
			t.Errorf("segment %d end %+v, want complete %d bytes", i, *e, ps.BufSz)
		}
		if acc.captured != ps.BufSz || acc.outOfOrder {
			t.Errorf("segment %d: captured %d of %d (out of order %v)", i, acc.captured, ps.BufSz, acc.outOfOrder)
		}
		if got := acc.hex(); got != ps.SHA256 {
			t.Errorf("segment %d (%d bytes): sha256 %s, passed %s", i, ps.BufSz, got, ps.SHA256)
		}
	}
	// Nothing beyond the copied entries.
	for k := range call.payloads {
		if k.kind == layout.KindSegment && int(k.index) >= want {
			t.Errorf("payload for segment %d beyond the %d copied", k.index, want)
		}
	}
}

func TestPrivilegedKexecLoad(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()

	run := func(t *testing.T, spec trigger.LoadSpec, want int) (*trigger.Result, *rawCall) {
		t.Helper()
		res, call := c.loadAndWait(t, spec)
		checkEnter(t, res, call.enter)
		checkErrno(t, res, call.exit)
		if call.exit.TID != uint32(res.TID) {
			t.Errorf("exit %+v", *call.exit)
		}
		checkSegments(t, res, call, want)
		return res, call
	}

	t.Run("sizes", func(t *testing.T) {
		sizes := []int{1, 4096, 16 << 20, 256 << 20}
		var segs []trigger.Segment
		for _, n := range sizes {
			segs = append(segs, trigger.Segment{Size: n})
		}
		_, call := run(t, trigger.LoadSpec{Entry: 0x100000, Segments: segs, Flags: 0x3e0000, Seed: 1}, len(sizes))
		// Informational: the syscall's duration is the BPF copy of every
		// byte into the ring (including waits for the reader).
		var total uint64
		for _, n := range sizes {
			total += uint64(n)
		}
		d := call.exit.TimeNS - call.enter.TimeNS // the exit is emitted after the last piece
		t.Logf("%d payload bytes copied to the ring in %.3f s (%.0f MB/s)", total, float64(d)/1e9, float64(total)/(float64(d)/1e9)/1e6)
	})
	t.Run("16segments", func(t *testing.T) {
		var segs []trigger.Segment
		for i := range 16 {
			segs = append(segs, trigger.Segment{Size: 1000 + 4093*i})
		}
		run(t, trigger.LoadSpec{Entry: 0x200000, Segments: segs, Seed: 2}, 16)
	})
	t.Run("17segments", func(t *testing.T) {
		var segs []trigger.Segment
		for i := range 17 {
			segs = append(segs, trigger.Segment{Size: 512 + i})
		}
		run(t, trigger.LoadSpec{Entry: 0x300000, Segments: segs, Seed: 3}, 16)
	})
	t.Run("unreadable", func(t *testing.T) {
		segs := []trigger.Segment{{Size: 100}, {Size: 3 * 4096, Unreadable: true}}
		_, call := run(t, trigger.LoadSpec{Entry: 0x400000, Segments: segs, Seed: 4}, 2)
		acc := call.payloads[pkey{layout.KindSegment, 1, layout.SrcSyscallEntry}]
		e := acc.end
		if e.ReadErrors == 0 || e.Flags&layout.PFReadError == 0 || e.Emitted >= e.Total || acc.readErrs == 0 {
			t.Errorf("unreadable segment end %+v (read-error pieces %d): want a read error and not complete", *e, acc.readErrs)
		}
		// The read-error piece still covers its range, with zeros.
		if len(acc.holes) != 1 || acc.holes[0] != (hole{0, 3 * 4096}) || e.Emitted != 0 {
			t.Errorf("unreadable segment: holes %+v emitted %d, want one hole [0, %d) and nothing emitted", acc.holes, e.Emitted, 3*4096)
		}
	})
	t.Run("badflags", func(t *testing.T) {
		run(t, trigger.LoadSpec{Entry: 0x500000, Segments: []trigger.Segment{{Size: 64}}, Flags: 0xdead00f0, Seed: 5}, 1)
	})
	t.Run("ia32", func(t *testing.T) {
		// int 0x80 from this process: syscall 283 with TS_COMPAT set and
		// 16-byte compat segment entries, which raw mode must tell apart
		// from x86_64's 283 (another syscall).
		segs := []trigger.Segment{{Size: 777}, {Size: 300 << 10}, {Size: 5}}
		run(t, trigger.LoadSpec{Entry: 0x100000, Segments: segs, Flags: 0x30000, Seed: 6, IA32: true}, 3)
	})
	t.Run("x32", func(t *testing.T) {
		// x32's kexec_load number; seen at syscall entry even where the
		// kernel has no x32 support (it then answers ENOSYS).
		segs := []trigger.Segment{{Size: 4096}, {Size: 70001}}
		run(t, trigger.LoadSpec{Entry: 0x100000, Segments: segs, Flags: 0x3e0000, Seed: 7, X32: true}, 2)
	})
	t.Run("refuses-unload", func(t *testing.T) {
		if _, err := trigger.KexecLoad(trigger.LoadSpec{}); err == nil {
			t.Fatal("trigger accepted nr_segments == 0")
		}
	})

	t.Run("kexec_file_load", func(t *testing.T) {
		dir := t.TempDir()
		kf, _ := os.Create(filepath.Join(dir, "kernel"))
		kf.WriteString("not a kernel")
		inf, _ := os.Create(filepath.Join(dir, "initrd"))
		defer kf.Close()
		defer inf.Close()
		cmdline := []byte("console=ttyS0 kexecrec-test\x00")
		res, err := trigger.KexecFileLoad(trigger.FileLoadSpec{KernelFD: int(kf.Fd()), InitrdFD: int(inf.Fd()), Cmdline: cmdline})
		if err != nil {
			t.Fatal(err)
		}
		call := c.waitCall(t, res.TID)
		checkEnter(t, res, call.enter)
		checkErrno(t, res, call.exit)
		acc := call.payloads[pkey{layout.KindCmdline, 0, layout.SrcSyscallEntry}]
		if acc == nil || acc.end == nil || acc.end.Emitted != uint64(len(cmdline)) || acc.hex() != res.CmdlineSHA {
			t.Fatalf("cmdline payload %+v, want %d bytes with sha256 %s", acc, len(cmdline), res.CmdlineSHA)
		}
		if call.segs != nil {
			t.Error("kexec_file_load produced a SEGMENTS record")
		}
	})

	t.Run("kexec-tools", func(t *testing.T) {
		testKexecTools(t, c)
	})

	cnt, err := src.Counters()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counters: %v", counterMap(cnt))
	for _, name := range []string{"enter_dropped", "exit_dropped", "segments_dropped", "pieces_dropped", "payload_end_dropped"} {
		if v := counterMap(cnt)[name]; v != 0 {
			t.Errorf("counter %s = %d with a draining reader", name, v)
		}
	}
}

func counterMap(c []uint64) map[string]uint64 {
	m := map[string]uint64{}
	for i, v := range c {
		m[layout.CounterNames[i]] = v
	}
	return m
}

// testKexecTools runs Debian's kexec -l (forced to kexec_load) without
// CAP_SYS_BOOT and checks the kernel and initrd segments.
func testKexecTools(t *testing.T, c *rawCollector) {
	kexec := testenv.Tool(t, "kexec")
	setpriv := testenv.Tool(t, "setpriv")
	k := testenv.DebianKernel(t, "6.1")
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	setupSects := int(vmlinuz[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	kernelSum := sha256.Sum256(vmlinuz[(setupSects+1)*512:])
	initrd := filepath.Join(t.TempDir(), "initrd.img")
	data := make([]byte, 3<<20+123)
	trigger.Pattern(data, 42)
	if err := os.WriteFile(initrd, data, 0o600); err != nil {
		t.Fatal(err)
	}
	initrdSum := sha256.Sum256(data)

	cmd := exec.Command(setpriv, "--bounding-set", "-sys_boot", "--inh-caps", "-sys_boot",
		kexec, "-c", "-l", k.Vmlinuz, "--initrd", initrd, "--append", "console=ttyS0 kexecrec=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err == nil {
		t.Fatalf("kexec -l succeeded without CAP_SYS_BOOT: %s", out.String())
	}
	pid := cmd.Process.Pid
	t.Logf("kexec -l: %v: %s", err, bytes.TrimSpace(out.Bytes()))
	// kexec-tools is single-threaded: its tid is its pid.
	call := c.waitCall(t, pid)
	if call.exit.Ret != -int64(syscall.ENOSYS) && call.exit.Ret != -int64(syscall.EPERM) {
		t.Errorf("kexec_load returned %d, want ENOSYS or EPERM", call.exit.Ret)
	}
	if call.enter.SyscallNr != trigger.SysKexecLoad || call.segs == nil {
		t.Fatalf("kexec -c -l did not reach kexec_load: nr %d", call.enter.SyscallNr)
	}
	if call.enter.Comm != "kexec" {
		t.Errorf("comm %q", call.enter.Comm)
	}
	var gotKernel, gotInitrd bool
	for i := 0; i < int(call.segs.NrCopied); i++ {
		acc := call.payloads[pkey{layout.KindSegment, uint16(i), layout.SrcSyscallEntry}]
		if acc == nil || acc.end == nil {
			t.Fatalf("segment %d has no payload end", i)
		}
		if acc.end.Emitted != acc.end.Total || acc.end.Flags != 0 {
			t.Errorf("segment %d incomplete: %+v", i, *acc.end)
		}
		sum := acc.hex()
		t.Logf("segment %d: %d bytes at mem %#x sha256 %s", i, acc.end.Total, call.segs.Segs[i].Mem, sum[:16])
		gotKernel = gotKernel || sum == hex.EncodeToString(kernelSum[:])
		gotInitrd = gotInitrd || sum == hex.EncodeToString(initrdSum[:])
	}
	if !gotKernel {
		t.Errorf("no segment equals the vmlinuz bytes after its %d setup sectors (%d bytes)", setupSects, len(vmlinuz)-(setupSects+1)*512)
	}
	if !gotInitrd {
		t.Errorf("no segment equals the initrd file")
	}
}

// TestPrivilegedOverflow makes a burst of calls into a tiny ring nobody
// reads (waiting disabled): whatever was lost must be counted, and every
// payload that lost pieces must say so.
func TestPrivilegedOverflow(t *testing.T) {
	src := attachRaw(t, AttachConfig{RingBytes: 16 << 10, RingWait: -1, RingWaitUnprivileged: -1})
	const burst = 40
	var tids = map[uint32]bool{}
	for i := range burst {
		res, err := trigger.KexecLoad(trigger.LoadSpec{Entry: 0x600000, Segments: []trigger.Segment{{Size: 3000}, {Size: 100}}, Seed: uint64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		tids[uint32(res.TID)] = true
		res.Release()
	}
	// Drain, then a marker call: its records come after every burst record.
	c, markers, markerTIDs := drainWithMarkers(t, src)

	cnt, err := src.Counters()
	if err != nil {
		t.Fatal(err)
	}
	m := counterMap(cnt)
	t.Logf("counters: %v", m)
	c.mu.Lock()
	defer c.mu.Unlock()
	recorded, markersRecorded, truncated := 0, 0, 0
	for _, call := range c.calls {
		if call.enter != nil && markerTIDs[call.enter.TID] {
			markersRecorded++
		}
		if call.enter == nil || !tids[call.enter.TID] {
			continue
		}
		recorded++
		for k, p := range call.payloads {
			if p.end == nil {
				continue // its END was dropped: counted in payload_end_dropped
			}
			if p.captured != p.end.Emitted {
				t.Errorf("call %d payload %+v: %d bytes arrived, END says %d emitted", call.enter.CallID, k, p.captured, p.end.Emitted)
			}
			if p.end.Emitted < p.end.Total {
				truncated++
				if p.end.Flags&layout.PFRingFull == 0 || p.end.Dropped == 0 {
					t.Errorf("truncated payload not marked: %+v", *p.end)
				}
			}
		}
	}
	if m["calls"] != uint64(burst+markers) {
		t.Errorf("calls counter %d, want %d", m["calls"], burst+markers)
	}
	// Every call made is either recorded or counted as dropped (a marker
	// made while the ring was still full counts like any other call).
	if uint64(recorded+markersRecorded)+m["enter_dropped"] != uint64(burst+markers) {
		t.Errorf("recorded %d + %d markers + enter_dropped %d != %d calls made", recorded, markersRecorded, m["enter_dropped"], burst+markers)
	}
	if m["enter_dropped"] == 0 || m["pieces_dropped"] == 0 {
		t.Errorf("the burst did not overflow the ring: %v", m)
	}
	if m["wait_loops"] != 0 {
		t.Errorf("waited %d loops with waiting disabled", m["wait_loops"])
	}
	t.Logf("burst %d: %d recorded, %d entries dropped, %d truncated payloads seen", burst, recorded, m["enter_dropped"], truncated)
}

// TestPrivilegedSnaplenAndNoPayload checks that a cut payload says so, with
// its original length, and that --no-payload still accounts for every
// payload.
func TestPrivilegedSnaplenAndNoPayload(t *testing.T) {
	t.Run("snaplen", func(t *testing.T) {
		src := attachRaw(t, AttachConfig{Snaplen: 1000})
		c := newRawCollector(src)
		c.start()
		res, call := c.loadAndWait(t, trigger.LoadSpec{Segments: []trigger.Segment{{Size: 5000}, {Size: 999}}, Seed: 8})
		cut := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}]
		if cut == nil || cut.end == nil || cut.end.Total != 5000 || cut.end.Emitted != 1000 || cut.end.Flags != layout.PFSnaplen {
			t.Fatalf("segment 0 end %+v, want total 5000, emitted 1000, flag snaplen", cut)
		}
		buf := make([]byte, 5000)
		trigger.Pattern(buf, 8*1000+1)
		want := sha256.Sum256(buf[:1000])
		if cut.hex() != hex.EncodeToString(want[:]) {
			t.Error("captured prefix differs from the buffer's first 1000 bytes")
		}
		whole := call.payloads[pkey{layout.KindSegment, 1, layout.SrcSyscallEntry}]
		if whole == nil || whole.end == nil || whole.end.Flags != 0 || whole.end.Emitted != 999 || whole.hex() != res.Segments[1].SHA256 {
			t.Errorf("segment 1 under the snaplen: %+v", whole)
		}
	})
	t.Run("no-payload", func(t *testing.T) {
		src := attachRaw(t, AttachConfig{NoPayload: true})
		c := newRawCollector(src)
		c.start()
		res, call := c.loadAndWait(t, trigger.LoadSpec{Segments: []trigger.Segment{{Size: 5000}, {Size: 1}}, Seed: 9})
		if call.segs == nil || call.segs.NrCopied != 2 {
			t.Fatalf("segments %+v", call.segs)
		}
		for i, seg := range res.Segments {
			p := call.payloads[pkey{layout.KindSegment, uint16(i), layout.SrcSyscallEntry}]
			if p == nil || p.end == nil || p.pieces != 0 || p.end.Total != seg.BufSz || p.end.Emitted != 0 || p.end.Flags != layout.PFNoPayload {
				t.Errorf("segment %d with --no-payload: %+v", i, p)
			}
		}
	})
}

// TestPrivilegedWaitBudget: with a reader that does not drain, a payload
// larger than the ring waits at most its invocation's budget and then
// drops, and every byte is accounted for: received + counted dropped =
// passed.
func TestPrivilegedWaitBudget(t *testing.T) {
	src := attachRaw(t, AttachConfig{RingBytes: 1 << 20, RingWait: 100 * time.Millisecond, RingWaitUnprivileged: 100 * time.Millisecond})
	const size = 16 << 20
	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: size}}, Seed: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	// The call's own records may be lost; a marker after draining ends it.
	c, _, _ := drainWithMarkers(t, src)
	cnt, err := src.Counters()
	if err != nil {
		t.Fatal(err)
	}
	m := counterMap(cnt)
	c.mu.Lock()
	defer c.mu.Unlock()
	var received uint64
	for _, call := range c.calls {
		if call.enter != nil && call.enter.TID == uint32(res.TID) {
			received = call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}].captured
		}
	}
	t.Logf("counters %v; received %d of %d bytes", m, received, size)
	if m["wait_loops"] == 0 || m["pieces_dropped"] == 0 {
		t.Errorf("expected a bounded wait and then drops: %v", m)
	}
	if received+m["piece_bytes_dropped"] != size {
		t.Errorf("received %d + dropped %d != %d bytes passed", received, m["piece_bytes_dropped"], size)
	}
}

// rawSegment is struct kexec_segment on x86_64.
type rawSegment struct{ Buf, BufSz, Mem, MemSz uint64 }

// kexecLoadRaw issues kexec_load with a segment table built by the test
// (pointers and sizes the trigger will not make: unmapped, huge, partly
// protected), from a fresh OS thread whose CAP_SYS_BOOT is dropped and
// checked gone first, exactly as the trigger does: the call can never load
// a kernel. nr_segments is len(segs), never 0. It returns the thread id and
// the result.
func kexecLoadRaw(t *testing.T, segs []rawSegment) (tid int, ret int64) {
	t.Helper()
	if len(segs) == 0 {
		t.Fatal("kexecLoadRaw: refusing nr_segments == 0 (unload)")
	}
	type result struct {
		tid int
		ret int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with its changed credentials
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- result{err: err}
			return
		}
		const sysBoot = uint32(1) << 22
		data[0].Effective &^= sysBoot
		data[0].Permitted &^= sysBoot
		data[0].Inheritable &^= sysBoot
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- result{err: err}
			return
		}
		var check [2]unix.CapUserData
		if err := unix.Capget(&hdr, &check[0]); err != nil || check[0].Effective&sysBoot != 0 || check[0].Permitted&sysBoot != 0 {
			done <- result{err: fmt.Errorf("CAP_SYS_BOOT still present (%v); refusing to call kexec_load", err)}
			return
		}
		r, _, errno := unix.Syscall6(trigger.SysKexecLoad, 0x100000, uintptr(len(segs)), uintptr(unsafe.Pointer(&segs[0])), 0, 0, 0)
		res := result{tid: unix.Gettid(), ret: int64(r)}
		if errno != 0 {
			res.ret = -int64(errno)
		}
		done <- res
	}()
	res := <-done
	runtime.KeepAlive(segs)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.ret != -int64(syscall.ENOSYS) && res.ret != -int64(syscall.EPERM) {
		t.Fatalf("kexec_load without CAP_SYS_BOOT returned %d, want ENOSYS or EPERM", res.ret)
	}
	return res.tid, res.ret
}

// mapRegion maps n bytes of anonymous memory, unmapped at the test's end.
func mapRegion(t *testing.T, n int, prot int) []byte {
	t.Helper()
	m, err := unix.Mmap(-1, 0, n, prot, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}

func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// drainWithMarkers starts a collector on a ring that was filled while
// nobody read it, and waits until a marker call made afterwards arrives
// whole (so everything before it has been read). A marker made while the
// reader is still draining may itself be dropped, so it makes markers until
// one arrives, at most 30; it returns how many it made and their threads.
func drainWithMarkers(t *testing.T, src Source) (c *rawCollector, markers int, tids map[uint32]bool) {
	t.Helper()
	c = newRawCollector(src)
	c.start()
	tids = map[uint32]bool{}
	for {
		m, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
		markers++
		tids[uint32(m.TID)] = true
		if c.findCall(m.TID, 2*time.Second) != nil {
			return c, markers, tids
		}
		if markers == 30 {
			t.Fatal("no marker call arrived after draining the ring")
		}
	}
}

// TestPrivilegedUnprivilegedNoWait: a caller without CAP_SYS_BOOT gets the
// small wait budget (here none), however large the privileged one is. A
// segment larger than the ring, with nobody reading, fills the ring and
// then ENDS at the first piece that does not fit: RING_FULL, the rest
// counted as dropped (bytes and pieces), no wait at all, and the END and
// EXIT still fit.
func TestPrivilegedUnprivilegedNoWait(t *testing.T) {
	const ring = 1 << 20
	src := attachRaw(t, AttachConfig{RingBytes: ring, RingWait: 5 * time.Second, RingWaitUnprivileged: -1})
	const size = 4 * ring
	res, err := trigger.KexecLoad(trigger.LoadSpec{Segments: []trigger.Segment{{Size: size}}, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	// The call has returned: its counters are final. Read them before the
	// markers, whose own records may meet a ring still full.
	m := counterMap(mustCounters(t, src))
	t.Logf("counters %v", m)
	c, _, _ := drainWithMarkers(t, src)
	call := c.waitCall(t, res.TID)
	c.mu.Lock()
	defer c.mu.Unlock()
	acc := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}]
	if acc == nil || acc.end == nil {
		t.Fatal("no payload end")
	}
	e := acc.end
	t.Logf("end %+v", *e)
	if e.Flags != layout.PFRingFull || e.Total != size || e.Emitted == 0 || e.Emitted >= size {
		t.Fatalf("end %+v: want flag ring-full only and a partial payload", *e)
	}
	dropped := uint64(size) - e.Emitted
	if m["piece_bytes_dropped"] != dropped || m["pieces_dropped"] != uint64(e.Dropped) {
		t.Errorf("dropped %d bytes / %d pieces counted, END says %d pieces and %d bytes are missing", m["piece_bytes_dropped"], m["pieces_dropped"], e.Dropped, dropped)
	}
	if want := (uint64(size) + layout.PieceMax - 1) / layout.PieceMax; uint64(e.Pieces)+uint64(e.Dropped) != want {
		t.Errorf("pieces %d + dropped %d != %d pieces in the payload", e.Pieces, e.Dropped, want)
	}
	if m["wait_loops"] != 0 {
		t.Errorf("an unprivileged caller with no wait budget waited %d loops", m["wait_loops"])
	}
	// What arrived is exactly the buffer's head.
	if acc.captured != e.Emitted || acc.outOfOrder {
		t.Fatalf("received %d bytes, END says %d emitted", acc.captured, e.Emitted)
	}
	buf := make([]byte, size)
	trigger.Pattern(buf, 11*1000+1)
	if want := sha256.Sum256(buf[:e.Emitted]); acc.hex() != hex.EncodeToString(want[:]) {
		t.Error("received bytes differ from the buffer's head")
	}
}

// TestPrivilegedPieceLargerThanRing: when one piece cannot fit in the ring
// at all, BPF never waits for it, whatever the budget.
func TestPrivilegedPieceLargerThanRing(t *testing.T) {
	src := attachRaw(t, AttachConfig{RingBytes: 64 << 10}) // generous waits (attachRaw)
	c := newRawCollector(src)
	c.start()
	const size = 1 << 20
	_, call := c.loadAndWait(t, trigger.LoadSpec{Segments: []trigger.Segment{{Size: size}}, Seed: 12})
	m := counterMap(mustCounters(t, src))
	c.mu.Lock()
	defer c.mu.Unlock()
	e := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}].end
	if e == nil || e.Flags != layout.PFRingFull || e.Pieces != 0 || e.Emitted != 0 || e.Dropped != size/layout.PieceMax {
		t.Fatalf("end %+v: want ring-full, nothing emitted, %d pieces dropped", e, size/layout.PieceMax)
	}
	if m["wait_loops"] != 0 || m["piece_bytes_dropped"] != size {
		t.Errorf("counters %v: want no wait and %d bytes dropped", m, size)
	}
}

// TestPrivilegedHugeUnreadable: bufsz 1 TiB at a PROT_NONE address. The
// payload gives up after a few unreadable pieces (each still covering its
// range, zero-filled; the rest counted as dropped); with a ring too small for a piece it ends at the
// first piece with the whole rest counted as dropped. Either way the call
// returns without walking the length: the counters show a handful of
// pieces and no wait, not 2^22 iterations.
func TestPrivilegedHugeUnreadable(t *testing.T) {
	const huge = 1 << 40
	none := mapRegion(t, 2<<20, unix.PROT_NONE)
	seg := []rawSegment{{Buf: addr(none), BufSz: huge, Mem: 0x1000000, MemSz: 0x1000}}

	t.Run("read-errors", func(t *testing.T) {
		src := attachRaw(t, AttachConfig{})
		c := newRawCollector(src)
		c.start()
		tid, _ := kexecLoadRaw(t, seg)
		call := c.waitCall(t, tid)
		m := counterMap(mustCounters(t, src))
		t.Logf("counters %v", m)
		c.mu.Lock()
		defer c.mu.Unlock()
		acc := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}]
		e := acc.end
		if e == nil || e.Total != huge || e.Emitted != 0 || e.Flags != layout.PFReadError || e.ReadErrors == 0 || e.ReadErrors != e.Pieces || e.ReadErrors > 8 {
			t.Fatalf("end %+v: want a few read-error pieces, nothing emitted, not complete", e)
		}
		// The rest, never read, is counted as dropped: every byte of the
		// payload is either emitted or counted.
		rest := uint64(huge) - uint64(e.Pieces)*layout.PieceMax
		if m["read_errors"] != uint64(e.ReadErrors) || m["wait_loops"] != 0 ||
			m["piece_bytes_dropped"] != rest || uint64(e.Dropped) != rest/layout.PieceMax || m["pieces_dropped"] != uint64(e.Dropped) {
			t.Errorf("counters %v for END %+v: want the %d unread bytes counted as dropped", m, *e, rest)
		}
		for i, h := range acc.holes {
			if h != (hole{uint64(i) * layout.PieceMax, layout.PieceMax}) {
				t.Errorf("read-error piece %d covers %+v, want [%d, +%d)", i, h, uint64(i)*layout.PieceMax, layout.PieceMax)
			}
		}
	})
	t.Run("ring-too-small", func(t *testing.T) {
		src := attachRaw(t, AttachConfig{RingBytes: 64 << 10})
		c := newRawCollector(src)
		c.start()
		tid, _ := kexecLoadRaw(t, seg)
		call := c.waitCall(t, tid)
		m := counterMap(mustCounters(t, src))
		t.Logf("counters %v", m)
		c.mu.Lock()
		defer c.mu.Unlock()
		e := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}].end
		if e == nil || e.Flags != layout.PFRingFull || e.Pieces != 0 || e.Dropped != huge/layout.PieceMax {
			t.Fatalf("end %+v: want ring-full with all %d pieces dropped at once", e, huge/layout.PieceMax)
		}
		if m["piece_bytes_dropped"] != huge || m["wait_loops"] != 0 || m["read_errors"] != 0 {
			t.Errorf("counters %v: want %d bytes dropped, no wait, no read", m, uint64(huge))
		}
	})
}

// TestPrivilegedReadErrorHole: one PROT_NONE page in the middle of a
// buffer. The piece that contains it fails as a whole and arrives with its
// full length, zero-filled: the hole is exactly that piece's range, and
// every other byte is the buffer's.
func TestPrivilegedReadErrorHole(t *testing.T) {
	src := attachRaw(t, AttachConfig{})
	c := newRawCollector(src)
	c.start()
	const size = 3*layout.PieceMax - 5000
	page := os.Getpagesize()
	region := mapRegion(t, (size+page-1)/page*page, unix.PROT_READ|unix.PROT_WRITE)
	trigger.Pattern(region[:size], 13)
	badPage := (layout.PieceMax + 40000) / page * page // inside piece 1
	if err := unix.Mprotect(region[badPage:badPage+page], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	copy(want, region[:badPage])
	copy(want[badPage+page:], region[badPage+page:size])
	clear(want[layout.PieceMax : 2*layout.PieceMax]) // piece 1 is lost as a whole
	wantSum := sha256.Sum256(want)

	tid, _ := kexecLoadRaw(t, []rawSegment{{Buf: addr(region), BufSz: size, Mem: 0x1000000, MemSz: 3 * layout.PieceMax}})
	call := c.waitCall(t, tid)
	c.mu.Lock()
	defer c.mu.Unlock()
	acc := call.payloads[pkey{layout.KindSegment, 0, layout.SrcSyscallEntry}]
	e := acc.end
	if e == nil || e.Flags != layout.PFReadError || e.ReadErrors != 1 || e.Pieces != 3 || e.Emitted != size-layout.PieceMax {
		t.Fatalf("end %+v: want 3 pieces, 1 read error, %d bytes emitted", e, size-layout.PieceMax)
	}
	if len(acc.holes) != 1 || acc.holes[0] != (hole{layout.PieceMax, layout.PieceMax}) {
		t.Errorf("holes %+v, want exactly [%d, +%d)", acc.holes, layout.PieceMax, layout.PieceMax)
	}
	if acc.captured != size || acc.outOfOrder || acc.hex() != hex.EncodeToString(wantSum[:]) {
		t.Errorf("reassembled %d bytes (out of order %v): content differs from the buffer with piece 1 zeroed", acc.captured, acc.outOfOrder)
	}
}

func mustCounters(t testing.TB, src Source) []uint64 {
	t.Helper()
	c, err := src.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPrivilegedTimeLimit: past the hook invocation's hard time limit a
// payload ends at once, flagged loop-limit, with every remaining byte
// counted as dropped. The limit is made 1 ns after the hook starts (1 ns of
// wait budget, no copy allowance): hundreds of instructions and several
// clock reads later, it is past by the first piece.
func TestPrivilegedTimeLimit(t *testing.T) {
	src := attachRaw(t, AttachConfig{RingWait: time.Nanosecond, RingWaitUnprivileged: time.Nanosecond, noCopyAllowance: true})
	c := newRawCollector(src)
	c.start()
	const size = 3 << 20
	res, call := c.loadAndWait(t, trigger.LoadSpec{Segments: []trigger.Segment{{Size: size}, {Size: 100}}, Seed: 14})
	m := counterMap(mustCounters(t, src))
	t.Logf("counters %v", m)
	c.mu.Lock()
	defer c.mu.Unlock()
	var dropped uint64
	for i, seg := range res.Segments {
		acc := call.payloads[pkey{layout.KindSegment, uint16(i), layout.SrcSyscallEntry}]
		if acc == nil || acc.end == nil {
			t.Fatalf("segment %d: no payload end", i)
		}
		e := acc.end
		if e.Flags != layout.PFLoopLimit || e.Emitted != 0 || e.Pieces != 0 || e.Dropped == 0 {
			t.Errorf("segment %d end %+v: want loop-limit with nothing emitted", i, *e)
		}
		dropped += seg.BufSz
	}
	if m["piece_bytes_dropped"] != dropped {
		t.Errorf("piece_bytes_dropped %d, want %d", m["piece_bytes_dropped"], dropped)
	}
}
