package recorder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

func TestPartPatternMatchesEveryStartSet(t *testing.T) {
	re := partPattern("kexec-{start}.kxr")
	for name, want := range map[string]bool{
		"kexec-20261203T143005Z.kxr":           true,
		"kexec-20261203T143005Z.kxr.7":         true,
		"kexec-20261203T143005Z.kxr.12":        true,
		"kexec-20261203T143005Z.kxr.07":        false, // not a part name
		"kexec-20261203T143005Z.kxr.0":         false,
		"kexec-20261203T143005Z.kxr.pending":   false,
		"kexec-20261203T143005Z.kxr.3.shipped": false,
		"kexec-x.kxr":                          false,
		"other-20261203T143005Z.kxr":           false,
		"kexec-20261203T143005Z.kxr.bak":       false,
	} {
		if re.MatchString(name) != want {
			t.Errorf("%s: match %v, want %v", name, !want, want)
		}
	}
	// Without the placeholder: one name and its parts; regexp characters are literal.
	re = partPattern("cap.kxr")
	if !re.MatchString("cap.kxr.3") || re.MatchString("capXkxr") || re.MatchString("cap.kxr.3.pending") {
		t.Error("cap.kxr pattern")
	}
}

// boundRun records calls calls of 40 KiB (privileged: the ids whose exit
// returns 0) into the {start} set of pattern started at start, rotating
// every 64 KiB, under bound (nil: none). After every closed part it checks
// the pattern's files against the bound.
func boundRun(t *testing.T, pattern string, start time.Time, calls int, privileged map[uint64]bool, bound *TotalBound) Summary {
	t.Helper()
	var recs [][]byte
	for id := uint64(1); id <= uint64(calls); id++ {
		rs := callSpec{id: id, payloads: [][]byte{randBytes(40 << 10)}}.records()
		if privileged[id] {
			rs[len(rs)-1] = layout.Exit{Header: hdr(id), Ret: 0, DurationNS: 5, TID: uint32(os.Getpid()), SyscallNr: 246,
				Hook: layout.HookRawSyscall}.Marshal(bo)
		}
		recs = append(recs, rs...)
	}
	cfg := Config{Sink: &FileSink{Base: ExpandOutputName(pattern, start)}, Rotate: Rotation{Size: 64 << 10},
		Writer: format.WriterOptions{SealBytes: 16 << 10}, Bound: bound}
	if bound != nil {
		cfg.OnPartClosed = func(name string) {
			if n := patternBytes(t, pattern); n > bound.Max {
				t.Errorf("after %s closed: %d bytes in the pattern's parts, over --max-total %d", filepath.Base(name), n, bound.Max)
			}
		}
	}
	sum, err := record(t, cfg, recs)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func patternFiles(t *testing.T, pattern string) []string {
	t.Helper()
	re := partPattern(filepath.Base(pattern))
	entries, err := os.ReadDir(filepath.Dir(pattern))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			names = append(names, filepath.Join(filepath.Dir(pattern), e.Name()))
		}
	}
	return names
}

func patternBytes(t *testing.T, pattern string) int64 {
	var n int64
	for _, name := range patternFiles(t, pattern) {
		if fi, err := os.Stat(name); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// holdsCall is the part of files whose capture holds call id's exit.
func holdsCall(t *testing.T, files []string, id uint64) string {
	for _, name := range files {
		_, exits := callIDs(t, readCapture(t, name))
		if slices.Contains(exits, id) {
			return name
		}
	}
	t.Fatalf("no part holds call %d", id)
	return ""
}

func exists(name string) bool { _, err := os.Lstat(name); return err == nil }

func TestMaxTotalSpansStartSetsAndKeepsEvidence(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "keep-evidence", false: "no-keep-evidence"}[keep], func(t *testing.T) {
			pattern := filepath.Join(t.TempDir(), "kexec-{start}.kxr")
			t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
			first := boundRun(t, pattern, t0, 12, map[uint64]bool{6: true}, nil)
			if len(first.Files) < 5 {
				t.Fatalf("first run wrote %v: want a rotation every ~64 KiB", first.Files)
			}
			evidence := holdsCall(t, first.Files, 6)
			if evidence == first.Files[0] || evidence == first.Files[len(first.Files)-1] {
				t.Fatalf("the privileged call is in %s: want a middle part of %v", evidence, first.Files)
			}

			const limit = 256 << 10
			var warned []string
			second := boundRun(t, pattern, t0.Add(time.Hour), 12, nil, &TotalBound{Pattern: pattern, Max: limit, Reserve: 64 << 10,
				KeepEvidence: keep, Warn: func(l string) { warned = append(warned, l) }})
			last := second.Files[len(second.Files)-1]
			if n := patternBytes(t, pattern); n > limit {
				t.Errorf("%d bytes left in the pattern's parts, over %d", n, limit)
			}
			if !exists(last) {
				t.Errorf("the part being written (%s) was removed", last)
			}
			if exists(first.Files[0]) {
				t.Errorf("the oldest part of the earlier set (%s) is still there", first.Files[0])
			}
			if keep != exists(evidence) {
				t.Errorf("keep-evidence %v: part %s holding the privileged call exists: %v", keep, evidence, exists(evidence))
			}
			for _, name := range first.Files {
				if name != evidence && exists(name) {
					t.Errorf("%s of the earlier set (no privileged call) survived while newer parts exist", name)
				}
			}
			if len(warned) != 0 || second.Stats["over_max_total"] != 0 || second.Stats["max_total_removed"] < uint64(len(first.Files)-1) {
				t.Errorf("warnings %q, stats over %d removed %d", warned, second.Stats["over_max_total"], second.Stats["max_total_removed"])
			}
			// Every removal is noted in a part of the recording, with its reason.
			var noted []string
			for _, name := range second.Files {
				if exists(name) {
					noted = append(noted, readCapture(t, name).notes()...)
				}
			}
			why := "(oldest without a privileged caller's call)"
			if !keep {
				why = "(oldest)"
			}
			all := strings.Join(noted, "\n")
			if !strings.Contains(all, " by --max-total 262144 "+why) {
				t.Errorf("notes of the surviving parts:\n%s", all)
			}
			for _, name := range append(first.Files, second.Files...) {
				if strings.Contains(all, "removed "+filepath.Base(name)+" ") && exists(name) {
					t.Errorf("%s noted as removed but still there", name)
				}
			}
		})
	}
}

func TestMaxTotalNeverRemovesWhatMayNotGo(t *testing.T) {
	pattern := filepath.Join(t.TempDir(), "kexec-{start}.kxr")
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	first := boundRun(t, pattern, t0, 8, nil, nil)
	var warned []string
	var asked []string
	bound := &TotalBound{Pattern: pattern, Max: 128 << 10, Reserve: 64 << 10, KeepEvidence: true,
		Removable: func(p string) bool { asked = append(asked, p); return false }, // as if none was uploaded yet
		Warn:      func(l string) { warned = append(warned, l) }}
	sum := boundRun(t, pattern, t0.Add(time.Hour), 4, nil, nil)
	second := func() Summary {
		var recs [][]byte
		for id := uint64(1); id <= 4; id++ {
			recs = append(recs, callSpec{id: id, payloads: [][]byte{randBytes(40 << 10)}}.records()...)
		}
		s, err := record(t, Config{Sink: &FileSink{Base: ExpandOutputName(pattern, t0.Add(2*time.Hour))}, Rotate: Rotation{Size: 64 << 10},
			Writer: format.WriterOptions{SealBytes: 16 << 10}, Bound: bound}, recs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	for _, name := range append(first.Files, sum.Files...) {
		if !exists(name) {
			t.Errorf("%s removed though Removable refused", name)
		}
	}
	if len(asked) == 0 {
		t.Error("Removable never asked")
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "--max-total 131072 bytes exceeded by") {
		t.Errorf("want one warning, got %q", warned)
	}
	if second.Stats["over_max_total"] == 0 || second.Stats["max_total_removed"] != 0 || second.OverMaxTotal == 0 {
		t.Errorf("stats over %d removed %d", second.Stats["over_max_total"], second.Stats["max_total_removed"])
	}
	notes := strings.Join(readCapture(t, second.Files[0]).notes(), "\n")
	if !strings.Contains(notes, "exceeded by") || !strings.Contains(notes, "the disk is at risk") {
		t.Errorf("first part's notes:\n%s", notes)
	}
}

// A call whose payload the unprivileged policy cut failed the CAP_SYS_BOOT
// test, whatever it returned (a kernel without kexec answers ENOSYS to
// every caller): a part holding only such calls is not evidence.
func TestEvidenceIgnoresPolicyCutCalls(t *testing.T) {
	for _, cut := range []bool{false, true} {
		rs := callSpec{id: 1, payloads: [][]byte{randBytes(4 << 10)}}.records()
		for i, raw := range rs {
			h, err := layout.ParseHeader(raw, bo)
			if err != nil {
				t.Fatal(err)
			}
			switch h.Type {
			case layout.RecPayloadEnd:
				e, err := layout.ParsePayloadEnd(raw, bo)
				if err != nil {
					t.Fatal(err)
				}
				if cut {
					e.Flags |= layout.PFPolicy
				}
				rs[i] = e.Marshal(bo)
			case layout.RecExit:
				x, err := layout.ParseExit(raw, bo)
				if err != nil {
					t.Fatal(err)
				}
				x.Ret, x.Flags = -int64(syscall.ENOSYS), layout.XFRetKnownENOSYS
				rs[i] = x.Marshal(bo)
			}
		}
		sum, err := record(t, Config{}, rs)
		if err != nil {
			t.Fatal(err)
		}
		if got := partHoldsEvidence(sum.Files[0], nil); got == cut {
			t.Errorf("ENOSYS call, payload cut by policy %v: part holds evidence %v, want %v", cut, got, !cut)
		}
	}
}
