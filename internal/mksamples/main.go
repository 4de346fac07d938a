// Command mksamples writes the small synthetic captures under
// testdata/samples that tests of every package read. Their content is
// written by internal/content, the writer the recorder uses, so they follow
// the capture content contract (format/CONTENT.md) by construction; the
// calls in them are made up (raw BPF records built with bpf/layout's
// Marshal). They are byte-for-byte reproducible: fixed clock, file ids and
// signing seed. From the repository root:
//
//	go generate ./internal/mksamples
//
// or go run ./internal/mksamples -o testdata/samples.
package main

//go:generate go run . -o ../../testdata/samples

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/content"
	"github.com/kexecrec/kexecrec/replay/synth"
)

var le = binary.LittleEndian

// TestSigningSeed makes the sample signing key. It is public on purpose: the
// signed sample proves the mechanism, not anyone's identity.
var TestSigningSeed = sha256.Sum256([]byte("kexecrec synthetic sample signing key (public, tests only)"))

const bootStart = 5_000_000_000 // CLOCK_BOOTTIME at WallStart

func main() {
	out := flag.String("o", "testdata/samples", "output directory")
	flag.Parse()
	if err := generate(*out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mksamples:", err)
		os.Exit(2)
	}
}

// generate writes every sample into dir.
func generate(dir string, log io.Writer) (err error) {
	defer func() {
		switch e := recover().(type) {
		case nil:
		case genError:
			err = e.err
		default:
			panic(e)
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	key := ed25519.NewKeyFromSeed(TestSigningSeed[:])
	// The first four are format 1.0 (SHA-256 pieces, blobs named by their
	// SHA-256), as every recorder wrote before 1.1: readers must go on
	// reading them exactly as before. The last holds the calls of the first
	// in format 1.1 (BLAKE3 pieces, blobs named by their piece list).
	samples := []struct {
		name  string
		fill  func(*gen)
		clean bool
		key   ed25519.PrivateKey
		arch  *machine
		hash  format.PieceHash
	}{
		{"synthetic-kexec_load.zst", kexecLoadCalls, true, nil, &amd64, format.PieceSHA256},
		{"synthetic-kexec_file_load.zst", kexecFileLoadCall, true, nil, &amd64, format.PieceSHA256},
		{"synthetic-unclean.zst", uncleanCalls, false, nil, &amd64, format.PieceSHA256},
		{"synthetic-signed.zst", kexecFileLoadCall, true, key, &amd64, format.PieceSHA256},
		{"synthetic-arm64-kexec_load.zst", arm64KexecLoadCalls, true, nil, &arm64, format.PieceSHA256},
		{"synthetic-kexec_load-1.1.zst", kexecLoadCalls, true, nil, &amd64, format.PieceBLAKE3},
	}
	for i, s := range samples {
		var buf bytes.Buffer
		g := newGen(&buf, byte(i+1), s.key, s.arch, s.hash)
		s.fill(g)
		g.w.WriteStats(g.stats())
		var err error
		if s.clean {
			err = g.w.Close()
		} else {
			err = g.w.Seal()
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, s.name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "%s: %d bytes, %d calls\n", p, buf.Len(), g.calls)
	}
	pub, _ := format.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	p := filepath.Join(dir, "synthetic-signed.pub")
	if err := os.WriteFile(p, pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "%s: public key of synthetic-signed.zst\n", p)
	return nil
}

// genError carries a writer error out of the generator helpers.
type genError struct{ err error }

func fail(err error) { panic(genError{err}) }

type gen struct {
	w      *content.Writer
	m      *machine
	callID uint64
	t      uint64 // boot-time ns of the next record
	calls  int
	bytes  uint64
}

// machine is what differs between the x86 and the arm64 samples.
type machine struct {
	arch, release, version string
	abi                    uint32
}

var (
	amd64 = machine{"amd64", "6.12.48+deb13-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.48-1 (2025-09-20)", layout.ABIX64}
	arm64 = machine{"arm64", "6.12.48+deb13-arm64", "#1 SMP Debian 6.12.48-1 (2025-09-20)", layout.ABIARM64}
)

func newGen(buf *bytes.Buffer, id byte, key ed25519.PrivateKey, m *machine, ph format.PieceHash) *gen {
	wall := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clock := wall
	h := format.Header{
		FileID: [16]byte{0x5a, id}, Hostname: "sample-host", MachineID: "0123456789abcdef0123456789abcdef",
		BootID: "6a1c0f5e-2f4b-4c55-9d3e-7b1f2a3c4d5e", KernelRelease: m.release,
		KernelVersion: m.version, Arch: m.arch,
		WriterVersion: "mksamples", AttachMode: "fentry",
		Options:   map[string]string{"snaplen": "0", "payloads": "true"},
		WallStart: wall, BootStartNS: bootStart,
		Extra: map[string]string{"synthetic": "true"},
	}
	w, err := content.NewWriter(buf, h, content.Options{ByteOrder: le, Format: format.WriterOptions{
		SealBytes: 4096, PieceSize: 4096, SignKey: key, PieceHash: ph,
		Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	}})
	if err != nil {
		fail(err)
	}
	return &gen{w: w, m: m, callID: uint64(id) << 32, t: bootStart + 1_000_000}
}

func (g *gen) hdr() layout.Header {
	g.t += 20_000
	return layout.Header{CallID: g.callID, TimeNS: g.t}
}

// check stops the generator on a write error.
func check(err error) {
	if err != nil {
		fail(err)
	}
}

func (g *gen) raw(b []byte) { check(g.w.WriteRaw(b)) }

type caller struct {
	pid, uid uint32
	comm     string
	exe      string
	argv     []string
}

var root = caller{4242, 0, "kexec", "/usr/sbin/kexec", []string{"kexec", "-l", "/boot/vmlinuz", "--initrd=/boot/initrd.img", "--reuse-cmdline"}}

func (g *gen) enter(c caller, nr uint32, args [6]uint64) {
	g.callID++
	g.calls++
	g.raw(layout.Enter{Header: g.hdr(), PID: c.pid, TID: c.pid, PPID: 1000, UID: c.uid, GID: c.uid, EUID: c.uid,
		EGID: c.uid, LoginUID: 1000, SessionID: 3, SyscallNr: nr, ABI: g.m.abi, Hook: layout.HookFentry,
		CPU: 1, MntNS: 4026531841, PidNS: 4026531836, CgroupID: 7331, Args: args, Comm: c.comm}.Marshal(le))
	check(g.w.WriteProcess(layout.Process{CallID: g.callID, PID: c.pid, Exe: c.exe, Argv: c.argv,
		CgroupPath: "/user.slice/user-1000.slice/session-3.scope", Raced: []string{"exe", "argv", "cgroup"}}))
}

// payload stores one complete payload of the current call.
func (g *gen) payload(kind, index, source uint16, data []byte) {
	g.bytes += uint64(len(data))
	check(g.w.WriteWholePayload(layout.PayloadEnd{Header: g.hdr(), Kind: kind, Index: index, Source: source}, data))
}

func (g *gen) exit(nr uint32, ret int64) {
	g.raw(layout.Exit{Header: g.hdr(), Ret: ret, DurationNS: 1_250_000, TID: 4242, SyscallNr: nr, Hook: layout.HookFentry}.Marshal(le))
}

func (g *gen) stats() format.Stats {
	s := format.Stats{}
	for _, n := range layout.CounterNames {
		s[n] = 0
	}
	s["calls"] = uint64(g.calls)
	s["calls_recorded"] = uint64(g.calls)
	s["records_written"] = g.w.Records()
	s["payload_bytes"] = g.bytes
	s["ring_records"] = g.w.Records()
	return s
}

const (
	nrKexecLoad     = 246
	nrKexecFileLoad = 320
	archX86_64      = 0x3e0000
	ePERM           = 1
)

// Fake but recognisable payloads (see docs/kexec-facts.md "Recognising payload bytes").
func fakeBzImageKernel(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251) // deterministic, not too compressible
	}
	copy(b, []byte{0x1f, 0x8b, 0x08, 0x00}) // compressed kernel payload starts with gzip magic
	return b
}

func fakeBootParams(cmdline string) []byte {
	b := make([]byte, 8192)
	b[0x1f1] = 4
	le.PutUint16(b[0x1fe:], 0xAA55)
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], 0x020f)
	b[0x210] = 0xD0 // type_of_loader
	copy(b[4096:], cmdline)
	return b
}

func fakePurgatory() []byte {
	b := make([]byte, 3*4096+512)
	for i := range b {
		b[i] = byte(i % 13)
	}
	copy(b, "purgatory sha256_regions sha256_digest")
	return b
}

func fakeInitrd() []byte {
	var b bytes.Buffer
	b.WriteString("070701")
	b.Write(bytes.Repeat([]byte("0"), 104))
	b.WriteString("init\x00#!/bin/sh\necho synthetic initrd\n")
	b.WriteString("070701")
	b.Write(bytes.Repeat([]byte("0"), 104))
	b.WriteString("TRAILER!!!\x00")
	for b.Len()%512 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// kexecLoad records one kexec_load call with the given segments.
func (g *gen) kexecLoad(c caller, segs []synth.Segment, ret int64) {
	const segArray = 0x7ffd_1234_0000
	g.enter(c, nrKexecLoad, [6]uint64{0x9d000000 + 0x1e0, uint64(len(segs)), segArray, archX86_64})
	g.raw(synth.SegmentTable(g.hdr(), segs).Marshal(le))
	for i, sg := range segs {
		g.payload(layout.KindSegment, uint16(i), layout.SrcSyscallEntry, sg.Data)
	}
	g.exit(nrKexecLoad, ret)
}

func loadSegments() []synth.Segment {
	cmdline := "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro console=ttyS0"
	kernel := fakeBzImageKernel(40000)
	initrd := fakeInitrd()
	return []synth.Segment{
		{Data: []byte("setup_data: EFI memory map, RNG seed"), Mem: 0x8c000, MemSz: 0x1000},
		{Data: fakeBootParams(cmdline), Mem: 0x8d000, MemSz: 0x3000},
		{Data: kernel, Mem: 0x1000000, MemSz: 0x2000000},
		{Data: initrd, Mem: 0x7f000000, MemSz: uint64(len(initrd)+4095) &^ 4095},
		{Data: fakePurgatory(), Mem: 0x9d000000, MemSz: 0x4000},
	}
}

// kexecLoadCalls: the same 5-segment image loaded twice (stored once), then
// a kexec_load by an unprivileged user refused with EPERM.
func kexecLoadCalls(g *gen) {
	segs := loadSegments()
	g.kexecLoad(root, segs, 0)
	g.kexecLoad(root, segs, 0)
	user := caller{5151, 1000, "loader", "/tmp/loader", []string{"/tmp/loader"}}
	g.kexecLoad(user, segs[2:3], -ePERM)
}

// kexecFileLoadCall: kexec -s with kernel, initrd and command line.
func kexecFileLoadCall(g *gen) {
	cmdline := []byte("root=/dev/vda1 ro console=ttyS0\x00")
	c := root
	c.argv = []string{"kexec", "-s", "-l", "/boot/vmlinuz-6.12.48+deb13-amd64", "--initrd=/boot/initrd.img-6.12.48+deb13-amd64", "--append=root=/dev/vda1 ro console=ttyS0"}
	g.enter(c, nrKexecFileLoad, [6]uint64{3, 4, uint64(len(cmdline)), 0x7ffd_5678_0000, 0})
	kernel := fakeBzImageKernel(60000)
	initrd := fakeInitrd()
	g.raw(layout.File{Header: g.hdr(), Kind: layout.KindKernel, Dev: 254<<20 | 1, Ino: 131075, Size: uint64(len(kernel)),
		ISize: uint64(len(kernel)), Path: "/boot/vmlinuz-6.12.48+deb13-amd64"}.Marshal(le))
	g.payload(layout.KindKernel, 0, layout.SrcKernelRead, kernel)
	g.raw(layout.File{Header: g.hdr(), Kind: layout.KindInitrd, Dev: 254<<20 | 1, Ino: 131080, Size: uint64(len(initrd)),
		ISize: uint64(len(initrd)), Path: "/boot/initrd.img-6.12.48+deb13-amd64"}.Marshal(le))
	g.payload(layout.KindInitrd, 0, layout.SrcKernelRead, initrd)
	g.payload(layout.KindCmdline, 0, layout.SrcSyscallEntry, cmdline)
	g.exit(nrKexecFileLoad, 0)
}

// uncleanCalls: one whole call, then a call cut off before its exit, and no
// trailer (the recorder was killed).
func uncleanCalls(g *gen) {
	segs := loadSegments()
	g.kexecLoad(root, segs, 0)
	check(g.w.WriteNote("info", "synthetic: recorder killed after this"))
	g.enter(root, nrKexecLoad, [6]uint64{0x9d0001e0, uint64(len(segs)), 0x7ffd_1234_0000, archX86_64})
}
