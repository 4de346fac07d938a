package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
)

// sdCall is one call for a synthetic capture.
type sdCall struct {
	fileLoad bool // kexec_file_load (kernel, initrd, cmdline payloads) instead of kexec_load
	comm     string
	exe      string
	uid      uint32
	flags    uint64
	ret      int64
	segs     [][]byte // kexec_load segments, or kernel, initrd for kexec_file_load
	cmdline  string   // kexec_file_load
	noExit   bool
}

var sdTime = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// sdCapture writes calls as the recorder would (raw records from layout
// Marshal, payload blobs and their JSON records) and returns the bytes.
// Everything is fixed (file id, clock) so golden outputs are stable.
func sdCapture(t testing.TB, host string, clean bool, calls ...sdCall) []byte {
	t.Helper()
	return sdCaptureSigned(t, host, clean, nil, calls...)
}

// sdCaptureSigned is sdCapture with a signing key (nil: unsigned).
func sdCaptureSigned(t testing.TB, host string, clean bool, key ed25519.PrivateKey, calls ...sdCall) []byte {
	t.Helper()
	var buf bytes.Buffer
	h := format.Header{
		FileID: [16]byte{1, 2, 3}, Hostname: host, MachineID: "4f1c0d5e6a7b8c9d0e1f2a3b4c5d6e7f", BootID: "0b1c2d3e-boot",
		KernelRelease: "6.1.0-56-amd64", Arch: "amd64", ByteOrder: "little", WriterVersion: "kexecrec test",
		RecordLayout: layout.Version, AttachMode: "kprobe", Options: map[string]string{"payloads": "all"},
		WallStart: sdTime, BootStartNS: 5_000_000_000,
	}
	// Format 1.0 blobs: the payload records below name them by SHA-256.
	w, err := format.NewWriter(&buf, h, format.WriterOptions{SealInterval: time.Hour, SignKey: key,
		Now: func() time.Time { return sdTime.Add(time.Minute) }, PieceHash: format.PieceSHA256})
	if err != nil {
		t.Fatal(err)
	}
	bo := binary.LittleEndian
	rec := func(typ uint16, b []byte) {
		if err := w.WriteRecord(format.Record{Type: typ, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	js := func(typ uint16, v any) {
		b, _ := json.Marshal(v)
		rec(typ, b)
	}
	payload := func(id uint64, hdr layout.Header, kind, index, src uint16, data []byte) {
		bw := w.NewBlob()
		bw.Write(data)
		ref, err := bw.Close()
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(len(data))
		rec(layout.RecPayloadEnd, layout.PayloadEnd{Header: hdr, Kind: kind, Index: index, Source: src, Total: n, Emitted: n, Pieces: 1}.Marshal(bo))
		js(layout.RecPayload, layout.Payload{CallID: id, Kind: kind, Index: index, Source: src, Total: n, Captured: n,
			SHA256: hex.EncodeToString(ref.ID[:]), Complete: true})
	}
	for i, c := range calls {
		id := uint64(i + 1)
		hdr := layout.Header{CallID: id, TimeNS: h.BootStartNS + id*1_000_000_000}
		e := layout.Enter{Header: hdr, PID: 4000 + uint32(i), TID: 4000 + uint32(i), PPID: 1, UID: c.uid, EUID: c.uid,
			LoginUID: 0xffffffff, ABI: layout.ABIX64, Hook: layout.HookKprobe, Comm: c.comm}
		if c.fileLoad {
			e.SyscallNr = 320
			e.Args = [6]uint64{3, 4, uint64(len(c.cmdline) + 1), 0x7ffd1000, c.flags}
		} else {
			e.SyscallNr = 246
			e.Args = [6]uint64{0x1000, uint64(len(c.segs)), 0x7ffd0000, c.flags}
		}
		rec(layout.RecEnter, e.Marshal(bo))
		js(layout.RecProcess, layout.Process{CallID: id, PID: e.PID, Exe: c.exe})
		if c.fileLoad {
			for k, data := range c.segs {
				kind := uint16(layout.KindKernel + k)
				rec(layout.RecFile, layout.File{Header: hdr, Kind: uint32(kind), Dev: 8<<20 | 1, Ino: 100 + uint64(k),
					Size: uint64(len(data)), ISize: uint64(len(data)), Path: []string{"/boot/vmlinuz", "/boot/initrd.img"}[k]}.Marshal(bo))
				payload(id, hdr, kind, 0, layout.SrcKernelRead, data)
			}
			payload(id, hdr, layout.KindCmdline, 0, layout.SrcSyscallEntry, append([]byte(c.cmdline), 0))
		} else {
			seg := layout.Segments{Header: hdr, NrPassed: uint64(len(c.segs)), NrCopied: uint32(len(c.segs)), EntrySize: 32}
			for k, data := range c.segs {
				seg.Segs = append(seg.Segs, layout.Segment{Buf: 0x7f0000000000 + uint64(k)<<20, BufSz: uint64(len(data)),
					Mem: 0x1000000 * uint64(k+1), MemSz: uint64(len(data)+4095) &^ 4095})
			}
			rec(layout.RecSegments, seg.Marshal(bo))
			for k, data := range c.segs {
				payload(id, hdr, layout.KindSegment, uint16(k), layout.SrcSyscallEntry, data)
			}
		}
		if !c.noExit {
			rec(layout.RecExit, layout.Exit{Header: layout.Header{CallID: id, TimeNS: hdr.TimeNS + 2500}, Ret: c.ret,
				DurationNS: 2500, TID: e.TID, SyscallNr: e.SyscallNr, Hook: layout.HookKprobe}.Marshal(bo))
		}
	}
	if err := w.WriteStats(format.Stats{"calls": uint64(len(calls)), "enter_dropped": 0, "pieces_dropped": 1, "calls_recorded": uint64(len(calls))}); err != nil {
		t.Fatal(err)
	}
	if clean {
		err = w.Close()
	} else {
		err = w.Seal()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sdWrite(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sdGolden is golden with the test's temp dir replaced by "TMP", so paths
// in the output do not depend on it.
func sdGolden(t *testing.T, name, got, tmp string) {
	t.Helper()
	if tmp != "" {
		got = strings.ReplaceAll(got, tmp, "TMP")
	}
	golden(t, name, got)
}

var (
	sdPurgatory = []byte("purgatory: sha256_regions sha256_digest")
	sdKernel    = bytes.Repeat([]byte("vmlinux 6.1.0-56 "), 300)
	sdInitrd    = bytes.Repeat([]byte("070701 initrd "), 200)
)

func sdBaseline() []sdCall {
	return []sdCall{
		{comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{sdPurgatory, sdKernel, sdInitrd}},
		{comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{sdPurgatory, sdKernel, sdInitrd}},
	}
}

func TestSummarizeTable(t *testing.T) {
	calls := append(sdBaseline(),
		sdCall{comm: "evil", exe: "/tmp/evil", uid: 1000, flags: 0x3e0000, ret: -1, segs: [][]byte{sdPurgatory}},
		sdCall{fileLoad: true, comm: "kexec", exe: "/usr/sbin/kexec", segs: [][]byte{sdKernel, sdInitrd}, cmdline: "root=/dev/sda1 ro quiet"},
		sdCall{comm: "kexec", exe: "/usr/sbin/kexec", flags: 0x3e0000, segs: [][]byte{sdPurgatory}, noExit: true},
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "cap.kxr")
	data := sdCapture(t, "host-a", true, calls...)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli("summarize", "--no-identify", path)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	sum := sha256.Sum256(data)
	for _, want := range []string{
		hex.EncodeToString(sum[:]), // the file's own hash, in full
		"Calls: 5",
		"clean (trailer read)",
		"host-a",
		"6.1.0-56-amd64",
		"kprobe",
		"payloads=all",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
	sdGolden(t, "summarize-basic.txt", out, dir)

	// JSON: the counts, for scripts.
	code, out, _ = cli("summarize", "--no-identify", "--format", "json", path)
	if code != ExitOK {
		t.Fatalf("json exit %d", code)
	}
	var rep struct {
		Files []*replay.Summary `json:"files"`
		Total *replay.Summary   `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 1 || rep.Total != nil {
		t.Fatalf("json: %d files, total %v", len(rep.Files), rep.Total)
	}
	s := rep.Files[0]
	if s.Calls != 5 || s.File.SHA256 != hex.EncodeToString(sum[:]) || s.Partial {
		t.Errorf("json summary: calls %d sha %s partial %v", s.Calls, s.File.SHA256, s.Partial)
	}
	counts := map[string]int{}
	for _, c := range append(append(s.BySyscall, s.ByOutcome...), s.ByErrno...) {
		counts[c.Key] = c.Calls
	}
	want := map[string]int{"kexec_load": 4, "kexec_file_load": 1, "ok": 3, "error": 1, "unfinished": 1, "EPERM": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("json count %q = %d, want %d", k, counts[k], v)
		}
	}
	// Distinct payloads: purgatory, kernel, initrd, cmdline.
	if len(s.Payloads) != 4 {
		t.Errorf("distinct payloads = %d, want 4", len(s.Payloads))
	}
}

func TestSummarizeSeveralFilesTotal(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.kxr")
	b := filepath.Join(dir, "b.kxr")
	os.WriteFile(a, sdCapture(t, "host-a", true, sdBaseline()...), 0o644)
	os.WriteFile(b, sdCapture(t, "host-b", false, sdBaseline()[:1]...), 0o644)
	code, out, errOut := cli("summarize", "--no-identify", a, b)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"== TMP/a.kxr ==", "== TMP/b.kxr ==", "== TOTAL (2 files) ==", "Calls: 3", "UNCLEAN"} {
		if !strings.Contains(strings.ReplaceAll(out, dir, "TMP"), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	sdGolden(t, "summarize-total.txt", out, dir)
}

func TestSummarizeBadInput(t *testing.T) {
	good := sdCapture(t, "host-a", true, sdBaseline()...)
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty.kxr":     {},
		"garbage.kxr":   []byte("this is not a capture at all, just text\n"),
		"truncated.kxr": good[:len(good)*2/3],
		"damaged.kxr": func() []byte {
			b := bytes.Clone(good)
			b[len(b)/2] ^= 0xff
			return b
		}(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			os.WriteFile(path, data, 0o644)
			code, out, errOut := cli("summarize", "--no-identify", path)
			if code != ExitTrouble {
				t.Errorf("exit %d, want %d (stdout %q)", code, ExitTrouble, out)
			}
			if !strings.HasPrefix(errOut, "kexecrec: ") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr is not one error line: %q", errOut)
			}
			if !strings.Contains(errOut, name) {
				t.Errorf("error does not name the file: %q", errOut)
			}
			if !strings.Contains(out, "!! PARTIAL") && !strings.Contains(out, "!! UNREADABLE") {
				t.Errorf("output not marked PARTIAL or UNREADABLE:\n%s", out)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		code, _, errOut := cli("summarize", filepath.Join(dir, "nope.kxr"))
		if code != ExitTrouble || !strings.Contains(errOut, "nope.kxr") {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
	t.Run("directory", func(t *testing.T) {
		code, _, errOut := cli("summarize", dir)
		if code != ExitTrouble || !strings.Contains(errOut, "directory") {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
	t.Run("bad format flag", func(t *testing.T) {
		code, _, _ := cli("summarize", "--format", "xml", dir)
		if code != ExitTrouble {
			t.Errorf("exit %d", code)
		}
	})
}

func TestSummarizeSigned(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := sdWrite(t, "signed.kxr", sdCaptureSigned(t, "host-a", true, priv, sdBaseline()...))
	code, out, errOut := cli("summarize", "--no-identify", path)
	if code != ExitOK {
		t.Fatalf("exit %d %s", code, errOut)
	}
	if !strings.Contains(out, "signed, verified against the key the file names") || !strings.Contains(out, hex.EncodeToString(pub)) {
		t.Errorf("signature status missing:\n%s", out)
	}
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	kb, err := format.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, kb, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli("summarize", "--no-identify", "--pubkey", keyFile, path)
	if code != ExitOK || !strings.Contains(out, "signed, verified against the given key") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func sdSamples(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "samples", "*.zst"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sample captures under testdata/samples (go generate ./internal/mksamples): %v", err)
	}
	return paths
}

// Golden output on every committed sample capture.
func TestSummarizeSamples(t *testing.T) {
	for _, p := range sdSamples(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".zst")
		t.Run(name, func(t *testing.T) {
			args := []string{"summarize", p}
			if pub := strings.TrimSuffix(p, ".zst") + ".pub"; fileExists(pub) {
				args = append(args, "--pubkey", pub)
			}
			code, out, errOut := cli(args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, l := range strings.Split(out, "\n") {
				if len([]rune(l)) > 80 {
					t.Errorf("line wider than 80 columns: %q", l)
				}
			}
			sdGolden(t, "summarize-"+name+".txt", out, "")
			code, out, _ = cli(append(args, "--format", "json")...)
			if code != ExitOK || !json.Valid([]byte(out)) {
				t.Errorf("json: exit %d, valid %v", code, json.Valid([]byte(out)))
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
