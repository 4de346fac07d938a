package identify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kexecrec/kexecrec/replay/identify/fdt"
)

// dtb is a flattened device tree: on arm64, kexec-tools passes the next
// kernel its command line (/chosen bootargs), its initrd range and fresh
// KASLR/RNG seeds in this segment, the way x86 uses boot_params.
func (id *identifier) dtb() {
	r := id.r
	r.Type = "dtb"
	// Read only what the header's totalsize claims (capped): a payload
	// padded far past its dtb, or lying about it, costs no more.
	n := int64(fdt.HeaderSize)
	if h := readAtMost(id.ra, id.size, 0, fdt.HeaderSize); len(h) == fdt.HeaderSize {
		n = max(n, min(int64(binary.BigEndian.Uint32(h[4:])), fdt.MaxSize))
	}
	b := readAtMost(id.ra, id.size, 0, int(min(id.size, n)))
	t, err := fdt.Parse(b)
	if err != nil {
		var fe *fdt.FormatError
		if errors.As(err, &fe) {
			id.warn(fmt.Sprintf("device tree: %s at offset %d", fe.Msg, fe.Off))
		} else {
			id.warn(err.Error())
		}
		r.Summary = fmt.Sprintf("flattened device tree (%d bytes), malformed: not read", id.size)
		return
	}
	dt := &DeviceTree{Size: t.Header.TotalSize, Version: t.Header.Version, Nodes: t.Nodes,
		Model: t.Model(), Compatible: t.Compatible()}
	if args, ok := t.Bootargs(); ok {
		dt.HasBootargs, r.Cmdline = true, args
	}
	start, end, ok, err := t.InitrdRange()
	if err != nil {
		id.warn("device tree /chosen: " + err.Error())
	} else if ok {
		dt.InitrdStart, dt.InitrdEnd = &start, &end
	}
	dt.ElfCoreHdr = id.dtRanges(t, "linux,elfcorehdr")
	dt.UsableMemory = id.dtRanges(t, "linux,usable-memory-range")
	s := t.Seeds()
	dt.KASLRSeed, dt.RNGSeed = s.KASLR, s.RNG
	if s.KASLRZero {
		dt.ZeroSeeds = append(dt.ZeroSeeds, "kaslr-seed")
	}
	if s.RNGZero {
		dt.ZeroSeeds = append(dt.ZeroSeeds, "rng-seed")
	}
	r.DeviceTree = dt

	var parts []string
	if dt.Model != "" {
		parts = append(parts, fmt.Sprintf("model %q", dt.Model))
	}
	if dt.InitrdStart != nil {
		parts = append(parts, fmt.Sprintf("initrd 0x%x-0x%x", *dt.InitrdStart, *dt.InitrdEnd))
	}
	for _, r := range dt.ElfCoreHdr {
		parts = append(parts, fmt.Sprintf("crash kernel: elfcorehdr 0x%x+0x%x", r.Start, r.Size))
	}
	parts = append(parts, dt.SeedText())
	what := fmt.Sprintf("flattened device tree (%d bytes, %s)", dt.Size, strings.Join(parts, ", "))
	if dt.HasBootargs {
		what += fmt.Sprintf(" bootargs %q", r.Cmdline)
	} else {
		what += " no bootargs"
	}
	r.Summary = what
}

// dtRanges reads a reg-like /chosen property (warning when malformed).
func (id *identifier) dtRanges(t *fdt.Tree, name string) []MemRange {
	rs, ok, err := t.Ranges("/chosen", name)
	if err != nil {
		id.warn("device tree /chosen: " + err.Error())
	}
	if !ok || err != nil {
		return nil
	}
	out := make([]MemRange, len(rs))
	for i, r := range rs {
		out[i] = MemRange{r.Address, r.Size}
	}
	return out
}

// SeedText says which seeds the dtb carries: "kaslr-seed, rng-seed",
// "kaslr-seed (zero)", "no seeds".
func (dt *DeviceTree) SeedText() string {
	var s []string
	for _, seed := range []struct {
		name string
		has  bool
	}{{"kaslr-seed", dt.KASLRSeed}, {"rng-seed", dt.RNGSeed}} {
		if !seed.has {
			continue
		}
		v := seed.name
		for _, z := range dt.ZeroSeeds {
			if z == seed.name {
				v += " (zero)"
			}
		}
		s = append(s, v)
	}
	if len(s) == 0 {
		return "no seeds"
	}
	return strings.Join(s, ", ")
}

func checkInitrd(segs []Segment, dtbSeg int, dt *DeviceTree) (InitrdVerdict, bool) {
	if dt == nil || dt.InitrdStart == nil || dt.InitrdEnd == nil {
		return InitrdVerdict{}, false
	}
	v := InitrdVerdict{DTBSegment: dtbSeg, Start: *dt.InitrdStart, End: *dt.InitrdEnd, Segment: -1}
	order := make([]int, len(segs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return segs[order[a]].Mem < segs[order[b]].Mem })
	for _, i := range order {
		s := segs[i]
		if s.Index != dtbSeg && v.Start >= s.Mem && v.Start-s.Mem < s.MemSz {
			v.Segment = s.Index
			v.Match, v.Detail = initrdAgainst(v, s)
			return v, true
		}
	}
	v.Detail = fmt.Sprintf("INITRD RANGE IN NO SEGMENT: linux,initrd-start 0x%x is outside every other segment of the call: the next kernel would read its initramfs from memory nobody loaded", v.Start)
	return v, true
}

// initrdAgainst compares the range with the segment holding its start.
func initrdAgainst(v InitrdVerdict, s Segment) (bool, string) {
	n := v.End - v.Start
	bufsz := s.BufSz
	if bufsz == 0 {
		bufsz = uint64(s.Size)
	}
	switch {
	case v.Start == s.Mem && n == bufsz:
		return true, fmt.Sprintf("initrd 0x%x-0x%x is segment %d exactly (%d bytes)", v.Start, v.End, s.Index, n)
	case v.End-s.Mem > s.MemSz:
		return false, fmt.Sprintf("INITRD RANGE PAST ITS SEGMENT: 0x%x-0x%x starts in segment %d (0x%x+0x%x) and runs past its end", v.Start, v.End, s.Index, s.Mem, s.MemSz)
	default:
		return false, fmt.Sprintf("INITRD RANGE DIFFERS: 0x%x-0x%x (%d bytes) lies in segment %d but is not its %d bytes at 0x%x", v.Start, v.End, n, s.Index, bufsz, s.Mem)
	}
}
