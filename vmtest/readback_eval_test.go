package vmtest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/replay/identify"
	"github.com/kexecrec/kexecrec/vmtest/plan"
)

// checkReadBack holds a call's read-back to what the kernel must have
// staged. A kexec_load: every segment read back, its bytes [0, bufsz) the
// entry copy's (same SHA-256), [bufsz, memsz) zeros, in the image its
// flags name. A kexec_file_load: every segment of the kernel's image read
// back complete, one of them the boot parameters the kernel built with
// the --append command line. A call that staged nothing has no read-back.
func checkReadBack(cc *CapCall, blobs map[string][]byte, w wantCall, problem func(string, ...any)) {
	if w.race {
		return // checkRace
	}
	if w.readBackOff {
		for _, l := range cc.Loaded {
			if l.Status != layout.LSMode {
				problem("segment %d: LOADED status %d where this architecture cannot read back (want %d, mode)", l.Index, l.Status, layout.LSMode)
			}
		}
		return
	}
	if !w.readBack {
		if len(cc.Loaded) > 0 {
			problem("%d LOADED records for a call that staged nothing", len(cc.Loaded))
		}
		return
	}
	if len(cc.Loaded) == 0 {
		problem("no LOADED record: the staged image was not read back")
		return
	}
	wantImage := uint32(layout.ImageNormal)
	if cc.Enter != nil && w.nr == nrLoad && cc.Enter.Args[3]&1 != 0 {
		wantImage = layout.ImageCrash
	}
	payload := func(kind uint16, idx uint16) *layout.Payload {
		for i := range cc.Payloads {
			p := &cc.Payloads[i]
			if p.Kind == kind && p.Index == idx && (kind == layout.KindSegment || p.Source == layout.SrcKernelPages) {
				return p
			}
		}
		return nil
	}
	sawCmdline := false
	for _, l := range cc.Loaded {
		if l.Status != layout.LSRead {
			problem("segment %d not read back: status %d", l.Index, l.Status)
			continue
		}
		if l.ImageType != wantImage {
			problem("segment %d read back from image type %d, want %d", l.Index, l.ImageType, wantImage)
		}
		loaded := payload(layout.KindLoaded, l.Index)
		if loaded == nil || !loaded.Complete || loaded.Total != l.BufSz {
			problem("segment %d: loaded copy missing or incomplete: %+v", l.Index, loaded)
			continue
		}
		if l.MemSz > l.BufSz {
			// Zeros, as the kernel fills them: the whole pages checked in
			// the kernel, the partial page after bufsz sent.
			pageEnd := min((l.BufSz+4095)&^4095, l.MemSz)
			tail := payload(layout.KindLoadedTail, l.Index)
			if l.TailFlags != 0 || l.ZeroChecked != l.MemSz-pageEnd {
				problem("segment %d: tail flags %#x, %d of %d bytes found zero", l.Index, l.TailFlags, l.ZeroChecked, l.MemSz-pageEnd)
			}
			if head := pageEnd - l.BufSz; head > 0 && (tail == nil || !tail.Complete || tail.SHA256 != Sha256Hex(make([]byte, head))) {
				problem("segment %d: the partial page after bufsz is missing, incomplete or not zero: %+v", l.Index, tail)
			}
		}
		if w.nr == nrLoad {
			entry := payload(layout.KindSegment, l.Index)
			switch {
			case cc.Segments == nil || int(l.Index) >= len(cc.Segments.Segs):
				problem("segment %d read back, but the call passed no such segment", l.Index)
			case cc.Segments.Segs[l.Index].Mem != l.Mem || cc.Segments.Segs[l.Index].MemSz != l.MemSz:
				problem("segment %d read back at mem %#x memsz %d, passed at %#x %d", l.Index, l.Mem, l.MemSz,
					cc.Segments.Segs[l.Index].Mem, cc.Segments.Segs[l.Index].MemSz)
			case entry == nil || entry.SHA256 != loaded.SHA256:
				problem("segment %d: loaded copy %s differs from the entry copy %+v", l.Index, loaded.SHA256[:16], entry)
			}
		}
		if b := loadedBytes(cc, blobs, l.Index); w.bootCmdline != "" && bytes.Contains(b, []byte("HdrS")) &&
			bytes.Contains(b, []byte(strings.TrimSpace(w.bootCmdline))) {
			sawCmdline = true
		}
	}
	if w.nr == nrLoad && cc.Segments != nil && len(cc.Loaded) != int(cc.Segments.NrCopied) {
		problem("%d segments read back, %d passed", len(cc.Loaded), cc.Segments.NrCopied)
	}
	if w.bootCmdline != "" && !sawCmdline {
		problem("no read-back segment is boot parameters (HdrS) carrying the command line %q", w.bootCmdline)
	}
}

// showLoaded is a loaded segment in `show --format json`.
type showLoaded struct {
	Verdict string `json:"verdict"`
	SHA256  string `json:"sha256"`
	Reason  string `json:"reason"`
}

// checkShowLoaded: show's verdicts for a call whose image was read back:
// "same" for every kexec_load segment (the JSON's "loaded" per segment),
// "kernel-built" for kexec_file_load's.
func checkShowLoaded(i int, c showCall, w wantCall, problem func(string, ...any)) {
	if !w.readBack {
		return
	}
	want := "kernel-built"
	if w.nr == nrLoad {
		want = "same"
		for j, s := range c.Segments {
			if s.Loaded == nil || s.Loaded.Verdict != want || len(s.Loaded.SHA256) != 64 {
				problem("show call %d segment %d: loaded %+v, want verdict %q", i, j, s.Loaded, want)
			}
		}
	}
	if len(c.LoadedSegments) == 0 {
		problem("show call %d: no loaded_segments", i)
	}
	for j, l := range c.LoadedSegments {
		if l.Verdict != want {
			problem("show call %d loaded segment %d: verdict %q (%s), want %q", i, j, l.Verdict, l.Reason, want)
		}
	}
}

// checkRace: every try of the race staged an image that was read back,
// and at least one try caught the race: its entry copy holds the offered
// bytes, the kernel the raced ones, which are what purgatory's digest
// (recomputed by the reader over the loaded copies) covers. It returns the
// cell's summary and the number of tries caught. A try not caught must
// still be consistent: each copy is the offered or the raced bytes, and the
// kernel never holds older bytes than the entry copy.
func checkRace(capt *Capture, problem func(string, ...any)) (string, int) {
	offered := make([]byte, plan.RaceSize)
	raced := make([]byte, plan.RaceSize)
	for i := range offered {
		offered[i] = plan.RaceByte(i, false)
		raced[i] = plan.RaceByte(i, true)
	}
	shaOffered, shaRaced := Sha256Hex(offered), Sha256Hex(raced)
	var caught []string
	for n, cc := range capt.Calls {
		var entry, loaded *layout.Payload
		for i := range cc.Payloads {
			p := &cc.Payloads[i]
			switch {
			case p.Index == 1 && p.Kind == layout.KindSegment:
				entry = p
			case p.Index == 1 && p.Kind == layout.KindLoaded:
				loaded = p
			}
		}
		if len(cc.Loaded) != 2 || loaded == nil || entry == nil || !loaded.Complete || !entry.Complete {
			problem("race try %d: %d LOADED records, entry copy %v, loaded copy %v: not read back whole", n, len(cc.Loaded), entry != nil, loaded != nil)
			continue
		}
		for _, l := range cc.Loaded {
			if l.Status != layout.LSRead {
				problem("race try %d: segment %d not read back (status %d)", n, l.Index, l.Status)
			}
		}
		known := func(sha string) bool { return sha == shaOffered || sha == shaRaced }
		switch {
		case !known(entry.SHA256) || !known(loaded.SHA256):
			problem("race try %d: entry copy %.12s, loaded copy %.12s: neither the offered nor the raced bytes", n, entry.SHA256, loaded.SHA256)
			continue
		case entry.SHA256 == shaRaced && loaded.SHA256 == shaOffered:
			problem("race try %d: the kernel holds the offered bytes, the entry copy the raced ones (copied later)", n)
			continue
		case entry.SHA256 != shaOffered || loaded.SHA256 != shaRaced:
			continue // the rewriter lost (or won before the entry copy): nothing to catch
		}
		purg := loadedBytes(cc, capt.Blobs, 0)
		v := identify.CheckPurgatory([]identify.Segment{
			{Index: 0, Mem: plan.RacePurgatoryMem, MemSz: 4096, Data: bytes.NewReader(purg), Size: int64(len(purg))},
			{Index: 1, Mem: plan.RaceMem, MemSz: plan.RaceSize, Data: bytes.NewReader(raced), Size: int64(len(raced))},
		}, plan.RacePurgatoryMem)
		if !v.Found || !v.Match {
			problem("race try %d: purgatory digest over the loaded copies: %+v", n, v)
			continue
		}
		caught = append(caught, fmt.Sprint(n))
	}
	if len(caught) == 0 {
		return fmt.Sprintf("race not caught in %d tries (the rewriting thread never ran inside the copy)", len(capt.Calls)), 0
	}
	return fmt.Sprintf("race caught in %d of %d tries (%s): entry copy = offered bytes, kernel = raced bytes, purgatory digest matches the loaded copies",
		len(caught), len(capt.Calls), strings.Join(caught, ", ")), len(caught)
}

// readBackCost says how long the read-back of a capture's first call took
// and how much it read: from the exit's time (taken as the exit hook
// starts, before the read-back) to the read-back's last PAYLOAD_END.
func readBackCost(capt *Capture) string {
	if len(capt.Calls) == 0 {
		return ""
	}
	cc := capt.Calls[0]
	if cc.Exit == nil || cc.LoadedEndNS <= cc.Exit.TimeNS {
		return ""
	}
	var bytes uint64
	for _, l := range cc.Loaded {
		bytes += l.MemSz
	}
	mib := float64(bytes) / (1 << 20)
	ms := float64(cc.LoadedEndNS-cc.Exit.TimeNS) / 1e6
	return fmt.Sprintf("read back %d segments, %.1f MiB (memsz) in %.1f ms: %.1f ms per MiB", len(cc.Loaded), mib, ms, ms/mib)
}
