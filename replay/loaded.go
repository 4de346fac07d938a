package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// What the kernel staged: each segment of the image a call installed, read
// back from the kernel's pages at the syscall's exit (bpf/readback.h), and
// its verdict against the copy read from the caller at entry.

// Verdicts of a loaded segment (LoadedSegment.Verdict).
const (
	// VerdictSame: the kernel holds exactly the entry copy, and zeros from
	// bufsz to memsz.
	VerdictSame = "same"
	// VerdictDifferent: the kernel holds other bytes than the caller
	// offered at entry (Reason and DiffersAt say where).
	VerdictDifferent = "DIFFERENT"
	// VerdictNotReadBack: the segment was not read back (Reason says why).
	VerdictNotReadBack = "not read back"
	// VerdictNotCompared: read back, but the entry copy is incomplete.
	VerdictNotCompared = "not compared"
	// VerdictKernelBuilt: a kexec_file_load segment: the kernel built it,
	// there is no entry copy to compare with.
	VerdictKernelBuilt = "kernel-built"
)

// LoadedSegment is one segment of the staged image as read back.
type LoadedSegment struct {
	Index int    `json:"index"`
	Image string `json:"image"` // "normal" or "crash"
	BufSz uint64 `json:"bufsz"`
	Mem   uint64 `json:"mem"`
	MemSz uint64 `json:"memsz"`
	// Verdict is one of the Verdict* values.
	Verdict string `json:"verdict"`
	// SHA256 of the loaded bytes [0, bufsz) (comparable with the entry
	// copy's); "" when not read back.
	SHA256 string `json:"sha256"`
	// Reason: why not read back, or what differs.
	Reason string `json:"reason"`
	// DiffersAt: offsets of the first differing 256 KiB pieces (at most
	// maxDiffersAt), when the verdict is DIFFERENT and both copies were
	// readable.
	DiffersAt []uint64 `json:"differs_at,omitempty"`
	// TailZero: [bufsz, memsz) holds only zeros, as the kernel fills it.
	TailZero *bool `json:"tail_zero,omitempty"`

	// ZeroChecked: tail bytes (from bufsz rounded up to a page) the
	// recorder found zero in the kernel without storing them.
	ZeroChecked uint64 `json:"zero_checked,omitempty"`

	Payload   *Payload `json:"-"` // the loaded [0, bufsz)
	Tail      *Payload `json:"-"` // the loaded tail: the partial page after bufsz, or all of [bufsz, memsz)
	status    uint32
	tailFlags uint32
}

// maxDiffersAt bounds DiffersAt.
const maxDiffersAt = 4

var loadedStatusText = map[uint32]string{
	layout.LSMode:      "this recording cannot read back (see the header notes)",
	layout.LSNoSymbols: "kallsyms gave no address for kexec_image, kexec_crash_image or page_offset_base",
	layout.LSNoImage:   "the kernel's image pointer was empty or unreadable at the exit",
	layout.LSReplaced:  "the staged image is not this call's (another load replaced it before the exit)",
	layout.LSBusy:      "another readback was running",
	layout.LSTooLarge:  "the image has more pages than the readback maps (256 MiB)",
	layout.LSEntryList: "the kimage entry list did not lead to this segment's pages",
}

func (d *Decoder) loadedRec(b []byte) []*Call {
	l, err := layout.ParseLoaded(b, d.bo)
	if err != nil {
		d.malformed(layout.RecLoaded, err)
		return nil
	}
	d.stats.ByType[typeName(layout.RecLoaded)]++
	d.seeTime(l.TimeNS)
	cs, out, ok := d.lookup(l.CallID, layout.RecLoaded)
	if !ok {
		return out
	}
	c := cs.call
	ls := &LoadedSegment{Index: int(l.Index), Image: "normal", BufSz: l.BufSz, Mem: l.Mem, MemSz: l.MemSz, status: l.Status,
		ZeroChecked: l.ZeroChecked, tailFlags: l.TailFlags}
	if l.ImageType == layout.ImageCrash {
		ls.Image = "crash"
	}
	for i, o := range c.Loaded {
		if o.Index == ls.Index {
			c.Loaded[i] = ls // the later one counts
			return out
		}
	}
	if len(c.Loaded) >= 64 {
		return out
	}
	c.Loaded = append(c.Loaded, ls)
	return out
}

// judgeLoaded links the loaded segments to their payloads and entry
// segments and gives each its verdict (what needs no payload bytes; the
// offsets of a difference are added by Capture.enrich).
func judgeLoaded(c *Call) {
	if len(c.Loaded) == 0 {
		return
	}
	for _, p := range c.Payloads {
		for _, l := range c.Loaded {
			if p.Index != l.Index || p.Source != "kernel-pages" {
				continue
			}
			switch p.Kind {
			case "loaded":
				l.Payload = p
			case "loaded-tail":
				l.Tail = p
			}
		}
	}
	for _, l := range c.Loaded {
		l.Verdict, l.Reason = judgeOne(c, l)
		for i := range c.Segments {
			if c.Segments[i].Index == l.Index {
				c.Segments[i].Loaded = l
			}
		}
	}
}

func judgeOne(c *Call, l *LoadedSegment) (verdict, reason string) {
	if l.status != layout.LSRead {
		if t, ok := loadedStatusText[l.status]; ok {
			return VerdictNotReadBack, t
		}
		return VerdictNotReadBack, fmt.Sprintf("status %d", l.status)
	}
	p := l.Payload
	if p == nil {
		return VerdictNotReadBack, "the loaded bytes are not in the capture"
	}
	if !p.Complete {
		return VerdictNotReadBack, "loaded copy incomplete: " + budgetWords(p.Reasons)
	}
	l.SHA256 = p.SHA256
	tailZero := true
	if l.MemSz > l.BufSz {
		var why string
		if tailZero, why = judgeTail(l); why != "" {
			return VerdictNotReadBack, why
		}
		l.TailZero = &tailZero
	}
	if c.Syscall != "kexec_load" {
		if !tailZero {
			return VerdictKernelBuilt, "bytes beyond bufsz are not zero"
		}
		return VerdictKernelBuilt, ""
	}
	var entry *Segment
	for i := range c.Segments {
		if c.Segments[i].Index == l.Index {
			entry = &c.Segments[i]
		}
	}
	switch {
	case entry == nil:
		return VerdictNotCompared, "no entry segment with this index"
	case entry.BufSz != l.BufSz || entry.Mem != l.Mem || entry.MemSz != l.MemSz:
		return VerdictDifferent, fmt.Sprintf("the kernel's segment is bufsz %d mem %#x memsz %d, the caller passed bufsz %d mem %#x memsz %d",
			l.BufSz, l.Mem, l.MemSz, entry.BufSz, entry.Mem, entry.MemSz)
	case entry.Payload == nil || !entry.Payload.Complete:
		return VerdictNotCompared, "the entry copy is incomplete"
	case entry.Payload.SHA256 != p.SHA256:
		if !tailZero {
			return VerdictDifferent, "bytes differ from the entry copy, and bytes beyond bufsz are not zero"
		}
		return VerdictDifferent, "bytes differ from the entry copy"
	case !tailZero:
		return VerdictDifferent, "bytes beyond bufsz are not zero"
	}
	return VerdictSame, ""
}

// judgeTail says whether [bufsz, memsz) is all zeros: BPF checked its
// whole pages in the kernel (ZeroChecked) and sent the partial page after
// bufsz, or, when a page was not zero, sent all of it. why says what
// keeps it from telling.
func judgeTail(l *LoadedSegment) (zero bool, why string) {
	t := l.Tail
	rest := l.MemSz - l.BufSz
	head := min((l.BufSz+4095)&^4095-l.BufSz, rest)
	want := head
	if l.tailFlags&layout.TFNonZero != 0 {
		want = rest
	}
	if want > 0 {
		switch {
		case t == nil:
			return false, "the loaded tail (bufsz to memsz) is not in the capture"
		case !t.Complete:
			return false, "loaded tail incomplete: " + budgetWords(t.Reasons)
		case t.Total != want:
			return false, fmt.Sprintf("loaded tail of %d bytes, expected %d", t.Total, want)
		}
		if t.SHA256 != zeroSHA256(t.Total) {
			return false, ""
		}
	}
	if l.tailFlags&layout.TFNonZero != 0 {
		return true, "" // all of it sent, and zero (a page that could not be checked in place)
	}
	if l.tailFlags&layout.TFCut != 0 {
		return false, "tail check incomplete: budget (loop-limit)"
	}
	if l.ZeroChecked != rest-head {
		return false, fmt.Sprintf("tail checked for %d of %d bytes", l.ZeroChecked, rest-head)
	}
	return true, ""
}

// budgetWords names a cut copy's reasons, the time policy's ones as budget.
func budgetWords(reasons []string) string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		switch r {
		case "loop-limit", "ring-full":
			out[i] = "budget (" + r + ")"
		default:
			out[i] = r
		}
	}
	return strings.Join(out, ", ")
}

var zeroSums sync.Map // length -> hex SHA-256 of that many zero bytes

// zeroSHA256 is the hex SHA-256 of n zero bytes (cached per length: a
// capture repeats the same segment sizes).
func zeroSHA256(n uint64) string {
	if v, ok := zeroSums.Load(n); ok {
		return v.(string)
	}
	h := sha256.New()
	z := make([]byte, 64<<10)
	for left := n; left > 0; {
		k := min(left, uint64(len(z)))
		h.Write(z[:k])
		left -= k
	}
	s := hex.EncodeToString(h.Sum(nil))
	zeroSums.Store(n, s)
	return s
}
