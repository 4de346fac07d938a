package replay

import (
	"cmp"
	"crypto/sha256"
	hexenc "encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// Diff compares the calls of two captures.
//
// IDENTITY. Two calls are the same call when they have the same identity:
//
//	syscall, flags, the SHA-256 of every captured payload by kind and segment
//	index (segment 0..n, kernel, initrd, cmdline), the command line, and the
//	caller's executable path.
//
// Times, pids, call ids, CPUs and buffer addresses are NOT part of the
// identity: they differ between any two runs of the same `kexec -l`.
// Calls are a multiset: a call made three times in A and twice in B is one
// call "only in A".
//
// Matching runs in three passes, each over what the previous left:
//  1. same identity and same result (return value / outcome): the same call;
//  2. same identity, different result: changed (only the result changed);
//  3. same syscall and caller exe, paired by order of appearance: changed,
//     with a list of what changed (flags, segment count, each payload hash,
//     kernel version, initramfs files, command line, result).
//
// What is left is "only in A" or "only in B".
type DiffResult struct {
	A       string        `json:"a"`
	B       string        `json:"b"`
	CallsA  int           `json:"calls_a"`
	CallsB  int           `json:"calls_b"`
	Same    int           `json:"same"`
	OnlyA   []*CallDigest `json:"only_in_a"`
	OnlyB   []*CallDigest `json:"only_in_b"`
	Changed []ChangedCall `json:"changed"`

	// UncleanA, UncleanB: the capture has no trailer (the recorder did not
	// stop cleanly), so it may hold fewer calls than were made.
	UncleanA bool `json:"-"`
	UncleanB bool `json:"-"`
}

// Equal reports whether the two captures hold the same calls.
func (r *DiffResult) Equal() bool {
	return len(r.OnlyA) == 0 && len(r.OnlyB) == 0 && len(r.Changed) == 0
}

// ChangedCall is a call of A paired with a call of B and what differs.
type ChangedCall struct {
	A       *CallDigest `json:"a"`
	B       *CallDigest `json:"b"`
	Changes []Change    `json:"changes"`
}

// Change is one difference between two paired calls.
type Change struct {
	// Field: "syscall", "exe", "flags", "segment_count", "payload", "loaded",
	// "kernel_version", "cmdline", "initramfs", "purgatory", "dtb_initrd",
	// "result".
	Field string `json:"field"`
	Item  string `json:"item,omitempty"` // "segment 2", "init", "/init" ...
	Op    string `json:"op"`             // "changed", "gained", "lost"
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// Text is the change as one line; short shortens hashes for tables.
func (c Change) Text(short func(string) string) string {
	switch c.Field {
	case "kernel_version":
		return c.valueText("kernel version")
	case "cmdline":
		return c.valueText("cmdline")
	case "initramfs":
		return fmt.Sprintf("initramfs %s %s", c.Item, c.Op)
	case "payload":
		switch c.Op {
		case "changed":
			return fmt.Sprintf("%s bytes changed %s -> %s", c.Item, short(c.From), short(c.To))
		case "gained":
			return fmt.Sprintf("%s added %s", c.Item, short(c.To))
		default:
			return fmt.Sprintf("%s removed (was %s)", c.Item, short(c.From))
		}
	case "segment_count":
		return fmt.Sprintf("segment count changed %s -> %s", c.From, c.To)
	case "flags":
		return fmt.Sprintf("flags changed %s -> %s", c.From, c.To)
	case "result":
		return fmt.Sprintf("return value changed %s -> %s", c.From, c.To)
	case "purgatory":
		return fmt.Sprintf("purgatory digest %s -> %s", c.From, c.To)
	case "dtb_initrd":
		return fmt.Sprintf("dtb initrd range %s -> %s", c.From, c.To)
	case "loaded":
		return fmt.Sprintf("read-back %s -> %s", c.From, c.To)
	case "exe":
		return fmt.Sprintf("caller exe changed %s -> %s", c.From, c.To)
	}
	return fmt.Sprintf("%s %s %s %s -> %s", c.Field, c.Item, c.Op, c.From, c.To)
}

// valueText words a change of a single value named label.
func (c Change) valueText(label string) string {
	switch c.Op {
	case "changed":
		return fmt.Sprintf("%s changed %s -> %s", label, c.From, c.To)
	case "gained":
		return label + " gained " + c.To
	default:
		return label + " lost " + c.From
	}
}

// CallDigest is what diff keeps of a call: where it was and its body.
// Bodies are interned: a capture of a million identical calls holds one
// body and a million small position records, so diff's memory grows by
// about 50 bytes per call, not by the size of a decoded call.
type CallDigest struct {
	Pos  int       `json:"position"` // 0-based order in its capture
	ID   uint64    `json:"id"`
	Time time.Time `json:"time"`
	*CallBody
}

// CallBody is everything diff compares: the identity and the result.
type CallBody struct {
	Syscall    string          `json:"syscall"`
	Flags      uint64          `json:"flags"`
	FlagNames  []string        `json:"flag_names"`
	Comm       string          `json:"comm"`
	Exe        string          `json:"exe,omitempty"`
	Cmdline    string          `json:"cmdline,omitempty"`
	NrSegments uint64          `json:"nr_segments"`
	Payloads   []PayloadDigest `json:"payloads,omitempty"`
	Kernels    []string        `json:"kernel_versions,omitempty"`
	Purgatory  string          `json:"purgatory,omitempty"` // "match", "MISMATCH", "not found"
	// DTBInitrd: the device tree's initrd range against the segments
	// (arm64 kexec_load): "match", "MISMATCH", "" when not checked.
	DTBInitrd string `json:"dtb_initrd,omitempty"`
	// Loaded: the read-back's verdicts in one line (LoadedLine), "" when
	// nothing was read back.
	Loaded  string `json:"loaded,omitempty"`
	Outcome string `json:"outcome"`
	Ret     *int64 `json:"ret,omitempty"`
	Errno   string `json:"errno,omitempty"`
	// Identity is the hex SHA-256 of the identity key (see DiffResult).
	Identity string `json:"identity"`

	initramfs []*identify.Initramfs
	fullKey   string // interning key: everything above
	exactKey  string // identity and result (pass 1)
	weakKey   string // syscall and caller exe (pass 3)
}

// PayloadDigest is a payload as diff sees it.
type PayloadDigest struct {
	Name     string `json:"name"` // "segment 2", "kernel", "initrd", "cmdline"
	SHA256   string `json:"sha256"`
	Size     uint64 `json:"captured"`
	Total    uint64 `json:"total"`
	Complete bool   `json:"complete"`
	Type     string `json:"type,omitempty"`
	What     string `json:"what,omitempty"`
}

// Digester reduces calls to digests, interning identical bodies.
type Digester struct {
	bodies map[string]*CallBody
}

// NewDigester returns an empty Digester.
func NewDigester() *Digester { return &Digester{bodies: map[string]*CallBody{}} }

// Digest reduces one call; pos is its order in the capture. c is not kept.
func (g *Digester) Digest(pos int, c *Call) *CallDigest {
	b := newCallBody(c)
	if have, ok := g.bodies[b.fullKey]; ok {
		b = have
	} else {
		g.bodies[b.fullKey] = b
	}
	return &CallDigest{Pos: pos, ID: c.ID, Time: c.Time, CallBody: b}
}

// Digest reduces one call without interning (tests, single calls).
func Digest(pos int, c *Call) *CallDigest {
	return &CallDigest{Pos: pos, ID: c.ID, Time: c.Time, CallBody: newCallBody(c)}
}

func newCallBody(c *Call) *CallBody {
	d := &CallBody{
		Syscall: c.Syscall, Flags: c.Args.Flags,
		FlagNames: c.Args.FlagNames, Comm: c.Caller.Comm, Exe: c.Caller.Exe,
		Cmdline: EffectiveCmdline(c), Outcome: c.Outcome, Ret: c.Ret, Errno: c.Errno,
	}
	if c.Args.NrSegments != nil {
		d.NrSegments = *c.Args.NrSegments
	} else {
		d.NrSegments = uint64(len(c.Segments))
	}
	for _, p := range c.Payloads {
		if p == nil {
			continue
		}
		pd := PayloadDigest{Name: PayloadName(p), SHA256: p.SHA256, Size: p.Captured, Total: p.Total, Complete: p.Complete}
		if r := p.Identity; r != nil {
			pd.Type, pd.What = r.Type, r.Summary
			if r.KernelVersion != "" && !slices.Contains(d.Kernels, r.KernelVersion) {
				d.Kernels = append(d.Kernels, r.KernelVersion)
			}
			if r.Initramfs != nil {
				d.initramfs = append(d.initramfs, r.Initramfs)
			}
		}
		d.Payloads = append(d.Payloads, pd)
	}
	slices.SortStableFunc(d.Payloads, func(x, y PayloadDigest) int { return comparePayloadNames(x.Name, y.Name) })
	slices.Sort(d.Kernels)
	if v := c.Purgatory; v != nil {
		switch {
		case !v.Found:
			d.Purgatory = "not found"
		case v.Match:
			d.Purgatory = "match"
		default:
			d.Purgatory = "MISMATCH"
		}
	}
	if v := c.DTBInitrd; v != nil {
		d.DTBInitrd = "MISMATCH"
		if v.Match {
			d.DTBInitrd = "match"
		}
	}
	d.Loaded = LoadedLine(c)
	sum := sha256.Sum256([]byte(d.identityKey()))
	d.Identity = hexenc.EncodeToString(sum[:])
	// Interning key: identity, result, and what a change report shows that
	// the identity leaves out (comm, segment count, identification; an
	// initramfs listing follows from its payload's hash).
	var k strings.Builder
	fmt.Fprintf(&k, "%s %q %q %d %q %q %q %q", d.Identity, d.resultKey(), d.Comm, d.NrSegments, d.Purgatory, d.DTBInitrd, d.FlagNames, d.Loaded)
	for _, p := range d.Payloads {
		fmt.Fprintf(&k, " %d %d %t %q %q", p.Size, p.Total, p.Complete, p.Type, p.What)
	}
	d.fullKey = k.String()
	d.exactKey = d.Identity + " " + d.resultKey()
	d.weakKey = d.Syscall + "\x00" + d.Exe
	return d
}

// EffectiveCmdline is the command line the call gives the new kernel:
// kexec_file_load's cmdline argument, or for kexec_load the one found in the
// boot_params segment (x86) or the device tree's bootargs (arm64), when
// identify read it.
func EffectiveCmdline(c *Call) string {
	if c.Cmdline != nil {
		return *c.Cmdline
	}
	for _, p := range c.Payloads {
		if p != nil && p.Identity != nil && (p.Identity.Type == "boot-params" || p.Identity.Type == "dtb") && p.Identity.Cmdline != "" {
			return p.Identity.Cmdline
		}
	}
	for _, p := range c.Payloads {
		if p != nil && p.Identity != nil && p.Identity.Cmdline != "" {
			return p.Identity.Cmdline
		}
	}
	return ""
}

// identityKey is the documented identity as one string (NUL separated: no
// field can contain a NUL).
func (d *CallBody) identityKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%#x\x00%s\x00%s", d.Syscall, d.Flags, d.Exe, d.Cmdline)
	for _, p := range d.Payloads {
		fmt.Fprintf(&b, "\x00%s=%s", p.Name, p.SHA256)
	}
	return b.String()
}

// ResultText is the call's result for people: "0", "-1 EPERM", "unfinished".
func (d *CallBody) ResultText() string {
	if d.Outcome == "unfinished" || d.Ret == nil {
		return "unfinished (no exit seen)"
	}
	if d.Errno != "" {
		return fmt.Sprintf("%d %s", *d.Ret, d.Errno)
	}
	return strconv.FormatInt(*d.Ret, 10)
}

func (d *CallBody) resultKey() string { return d.Outcome + " " + d.ResultText() }

// FlagsText is "0x3e0000 (KEXEC_ARCH_X86_64)".
func (d *CallBody) FlagsText() string {
	if len(d.FlagNames) == 0 {
		return fmt.Sprintf("%#x", d.Flags)
	}
	return fmt.Sprintf("%#x (%s)", d.Flags, strings.Join(d.FlagNames, "|"))
}

// Diff compares the calls of A with those of B (each in capture order).
func Diff(a, b []*CallDigest) *DiffResult {
	r := &DiffResult{CallsA: len(a), CallsB: len(b)}
	restA, restB := a, b

	// Pass 1: identical calls (identity and result).
	restA, restB, _, r.Same = pairBy(restA, restB, func(d *CallDigest) string { return d.exactKey }, false)
	// Pass 2: same identity, another result.
	restA, restB, pairs, _ := pairBy(restA, restB, func(d *CallDigest) string { return d.Identity }, true)
	// Pass 3: the same caller doing the same syscall, in order.
	restA, restB, weak, _ := pairBy(restA, restB, func(d *CallDigest) string { return d.weakKey }, true)
	for _, p := range append(pairs, weak...) {
		r.Changed = append(r.Changed, ChangedCall{A: p[0], B: p[1], Changes: Changes(p[0], p[1])})
	}
	slices.SortFunc(r.Changed, func(x, y ChangedCall) int { return cmp.Compare(x.A.Pos, y.A.Pos) })
	r.OnlyA, r.OnlyB = restA, restB
	if r.OnlyA == nil {
		r.OnlyA = []*CallDigest{}
	}
	if r.OnlyB == nil {
		r.OnlyB = []*CallDigest{}
	}
	if r.Changed == nil {
		r.Changed = []ChangedCall{}
	}
	return r
}

// pairBy pairs calls of a and b with equal keys, in order of appearance (the
// k-th A call with a key pairs with the k-th B call with that key), and
// returns what is left of each, still in order, and the pairs (only when
// keep: identical calls are only counted, a million of them cost nothing).
func pairBy(a, b []*CallDigest, key func(*CallDigest) string, keep bool) (restA, restB []*CallDigest, pairs [][2]*CallDigest, n int) {
	queue := map[string][]int{}
	for i, d := range b {
		k := key(d)
		queue[k] = append(queue[k], i)
	}
	usedB := make([]bool, len(b))
	for _, d := range a {
		k := key(d)
		if q := queue[k]; len(q) > 0 {
			n++
			if keep {
				pairs = append(pairs, [2]*CallDigest{d, b[q[0]]})
			}
			usedB[q[0]] = true
			queue[k] = q[1:]
			continue
		}
		restA = append(restA, d)
	}
	for i, d := range b {
		if !usedB[i] {
			restB = append(restB, d)
		}
	}
	return restA, restB, pairs, n
}

// maxInitramfsChanges caps the initramfs lines of one changed call: an
// entirely different initramfs would otherwise list every file.
const maxInitramfsChanges = 20
