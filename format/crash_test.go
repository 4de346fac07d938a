package format

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// crashRecord is record i of the crash tests' deterministic stream.
func crashRecord(i int) Record {
	d := make([]byte, 40+i%200)
	binary.LittleEndian.PutUint64(d, uint64(i))
	for j := 8; j < len(d); j++ {
		d[j] = byte(i*31 + j)
	}
	return Record{Type: uint16(1 + i%6), Data: d}
}

func crashBlob(i int) []byte {
	b := make([]byte, 3000+i%5*1000)
	for j := range b {
		b[j] = byte(i%3 + j*7)
	}
	return b
}

const crashWriterEnv = "KEXECREC_FORMAT_CRASH_WRITER"

// TestCrashWriterChild is the writer process of TestSIGKILLMidStream: it
// writes records and blobs forever and prints how many records are sealed.
func TestCrashWriterChild(t *testing.T) {
	path := os.Getenv(crashWriterEnv)
	if path == "" {
		t.Skip("helper process for TestSIGKILLMidStream")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, testHeader(), WriterOptions{SealBytes: 2000, PieceSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := w.WriteRecord(crashRecord(i)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			bw := w.NewBlob()
			bw.Write(crashBlob(i))
			if _, err := bw.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 9 {
			if err := w.Seal(); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("sealed %d\n", i+1)
		}
	}
}

// TestSIGKILLMidStream: a writer process killed with SIGKILL leaves a file
// whose sealed part reads back whole.
func TestSIGKILLMidStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "killed.zst")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashWriterEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Never hang the test run on a stuck child.
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	sc := bufio.NewScanner(stdout)
	sealed := 0
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "sealed "); ok {
			sealed, _ = strconv.Atoi(n)
			if sealed >= 5000 {
				break
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, stdout)
	cmd.Wait()
	if sealed < 5000 {
		t.Fatalf("writer reported only %d sealed records", sealed)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(data, ReaderOptions{Salvage: true})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.records) < sealed {
		t.Fatalf("read %d records, %d were sealed before the kill", len(res.records), sealed)
	}
	for i, r := range res.records {
		if want := crashRecord(i); r.Type != want.Type || !bytes.Equal(r.Data, want.Data) {
			t.Fatalf("record %d differs", i)
		}
	}
	st := res.status
	if st.Clean || len(st.Gaps) != 0 {
		t.Fatalf("status: clean %v gaps %v", st.Clean, st.Gaps)
	}
	for _, d := range st.Damage {
		if !errors.Is(d, ErrTruncated) {
			t.Fatalf("damage other than a torn tail: %v", d)
		}
	}
	// Every blob whose map was sealed is readable whole.
	ix, err := OpenIndex(bytes.NewReader(data), int64(len(data)), ReaderOptions{Salvage: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Blobs()) == 0 {
		t.Fatal("no blobs")
	}
	for sum := range ix.Blobs() {
		rc, _, err := ix.Blob(sum)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("killed after %d sealed records; %d read back, file %d bytes", sealed, len(res.records), len(data))
}

// TestDiskFull: on a full file system the writer fails with a clear, sticky
// ENOSPC error and the file stays valid up to its last sealed chunk.
func TestDiskFull(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		testenv.Skip(t, "cannot mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	path := filepath.Join(dir, "full.zst")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, testHeader(), WriterOptions{PieceSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sealed := 0
	var werr error
	for i := 0; i < 1_000_000; i++ {
		if werr = w.WriteRecord(crashRecord(i)); werr != nil {
			break
		}
		if i%5 == 0 {
			bw := w.NewBlob()
			bw.Write(crashBlob(i * 1000)) // distinct, poorly compressible enough to fill the disk
			if _, werr = bw.Close(); werr != nil {
				break
			}
		}
		if werr = w.Seal(); werr != nil {
			break
		}
		sealed = i + 1
	}
	if !errors.Is(werr, syscall.ENOSPC) || !strings.Contains(werr.Error(), "no space left on device") {
		t.Fatalf("want ENOSPC, got %v", werr)
	}
	if err := w.Close(); err == nil || err.Error() != werr.Error() {
		t.Fatalf("Close after ENOSPC: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != w.Written() {
		t.Fatalf("file is %d bytes, %d were sealed: torn chunk not rolled back", len(data), w.Written())
	}
	// A strict reader accepts the whole file: no torn tail, just no trailer.
	res := readAll(data, ReaderOptions{})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.records) != sealed || res.status.Clean || len(res.status.Damage) != 0 {
		t.Fatalf("read %d records (want %d), status %+v", len(res.records), sealed, res.status)
	}
	t.Logf("disk full after %d sealed records: %v", sealed, werr)
}

// TestPipeAndSync: the writer works on a pipe (no seek, no fsync) and with
// every sync policy on a regular file.
func TestPipeAndSync(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(pr); got <- b }()
	w, err := NewWriter(pw, testHeader(), WriterOptions{Sync: SyncOnSeal})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		w.WriteRecord(crashRecord(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := readAll(<-got, ReaderOptions{})
	if res.err != nil || len(res.records) != 100 || !res.status.Clean {
		t.Fatalf("pipe: %v %d", res.err, len(res.records))
	}
	for _, pol := range []SyncPolicy{SyncNever, SyncOnSeal, SyncOnClose} {
		p := filepath.Join(t.TempDir(), "s.zst")
		f, _ := os.Create(p)
		w, _ := NewWriter(f, testHeader(), WriterOptions{Sync: pol, SealBytes: 500})
		for i := range 50 {
			if err := w.WriteRecord(crashRecord(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		data, _ := os.ReadFile(p)
		if res := readAll(data, ReaderOptions{}); res.err != nil || len(res.records) != 50 {
			t.Fatalf("sync policy %d: %v", pol, res.err)
		}
	}
}
