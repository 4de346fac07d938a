package replay

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay/synth"
)

// pipelineInputs are captures of every kind: the committed samples (real
// recordings included), a synthetic one with payloads spread over many
// chunks, a cut copy and a copy with a damaged byte in the middle.
func pipelineInputs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/samples/*.zst")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Calls: 1500, PayloadBytes: 3000, DistinctPayloads: true, SealEvery: 7}); err != nil {
		t.Fatal(err)
	}
	whole := buf.Bytes()
	write := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	write("synth.zst", whole)
	write("cut.zst", whole[:len(whole)*2/3])
	damaged := bytes.Clone(whole)
	damaged[len(damaged)/2] ^= 0x40
	write("damaged.zst", damaged)
	return files
}

// renderAll renders every call of a capture as NDJSON, with the calls'
// error and the capture's trouble after them.
func renderAll(t *testing.T, path string, o OpenOptions) string {
	t.Helper()
	c, err := Open(path, o)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer c.Close()
	var out bytes.Buffer
	err = c.Calls(func(call *Call) error { return RenderJSON(&out, call) })
	damage, warnings := c.Trouble()
	fmt.Fprintf(&out, "err=%v\ndamage=%q\nwarnings=%q\nstats=%+v\n", err, damage, warnings, c.DecodeStats())
	return out.String()
}

// Reuse and Pipelined change how calls are handed over, never what they
// say: not even when reading stops at damage (no Salvage), where the calls
// read before it (and the unfinished ones) are still every caller's.
func TestReuseAndPipelinedDecodeTheSame(t *testing.T) {
	stoppedEarly := 0
	for _, path := range pipelineInputs(t) {
		for _, salvage := range []bool{true, false} {
			base := OpenOptions{Salvage: salvage, Identify: true}
			want := renderAll(t, path, base)
			if bytes.Count([]byte(want), []byte("\n")) < 5 {
				t.Fatalf("%s: too little output to compare:\n%s", path, want)
			}
			if !salvage && !strings.Contains(want, "err=<nil>") && strings.Count(want, "\n") > 100 {
				stoppedEarly++ // a read error after many calls: the case the last batch matters in
			}
			for _, v := range []struct{ reuse, pipe bool }{{true, false}, {false, true}, {true, true}} {
				o := base
				o.Reuse, o.Pipelined = v.reuse, v.pipe
				if got := renderAll(t, path, o); got != want {
					t.Errorf("%s salvage=%v: reuse=%v pipelined=%v differs from plain decoding:\n%s",
						filepath.Base(path), salvage, v.reuse, v.pipe, firstDiff(got, want))
				}
			}
		}
	}
	if stoppedEarly == 0 {
		t.Error("no input stopped on a read error after many calls: the last-batch case went untested")
	}
}

func firstDiff(a, b string) string {
	al, bl := bytes.Split([]byte(a), []byte("\n")), bytes.Split([]byte(b), []byte("\n"))
	for i := 0; i < len(al) && i < len(bl); i++ {
		if !bytes.Equal(al[i], bl[i]) {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

// A callback that stops early or fails stops a pipelined Calls the same way
// as a plain one: ErrStop gives nil, another error comes back as is.
func TestPipelinedStops(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Calls: 2000, SealEvery: 50}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.zst")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		stopAt  int
		err     error
		wantErr error
	}{{1, ErrStop, nil}, {700, ErrStop, nil}, {333, boom, boom}} {
		for _, pipe := range []bool{false, true} {
			c, err := Open(path, OpenOptions{Reuse: true, Pipelined: pipe})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = c.Calls(func(*Call) error {
				n++
				if n == tc.stopAt {
					return tc.err
				}
				return nil
			})
			c.Close()
			if err != tc.wantErr || n != tc.stopAt {
				t.Errorf("pipelined=%v stop at %d with %v: Calls gave %v after %d calls", pipe, tc.stopAt, tc.err, err, n)
			}
		}
	}
}

// A released call's memory serves the next call, which keeps nothing of it.
func TestReleasedCallLeavesNothingBehind(t *testing.T) {
	d := NewDecoder(testHeader())
	first := feed(t, d, kexecLoadRecords(t, 1, 0x3e0000)...)
	if len(first) != 1 || len(first[0].Segments) == 0 || len(first[0].Payloads) == 0 || len(first[0].Problems) == 0 {
		t.Fatalf("the first call should have segments, payloads and problems: %+v", first)
	}
	d.Release(first[0])
	d.Release(first[0]) // twice: no effect
	if len(d.free) != 1 {
		t.Fatalf("%d boxes free after releasing one call twice", len(d.free))
	}
	recs := fileLoadRecords(t, 2)
	second := feed(t, d, recs...)
	fresh := feed(t, NewDecoder(testHeader()), recs...)
	if len(second) != 1 || len(fresh) != 1 {
		t.Fatalf("%d and %d calls", len(second), len(fresh))
	}
	if second[0] != first[0] {
		t.Fatal("the released memory was not reused")
	}
	var got, want bytes.Buffer
	if err := RenderJSON(&got, second[0]); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&want, fresh[0]); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("a call in reused memory differs from a fresh one:\n got %s\nwant %s", got.Bytes(), want.Bytes())
	}
	// A call the decoder did not make is ignored.
	d.Release(&Call{})
	d.Release(nil)
	if len(d.free) != 0 {
		t.Fatalf("foreign calls were taken: %d boxes", len(d.free))
	}
}
