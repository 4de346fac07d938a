package identify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
)

// How the purgatory digest is found (see PURGATORY.md for the long form).
//
// kexec-tools links purgatory/purgatory.c into a relocatable object and
// loads its SHF_ALLOC sections as one segment, without an ELF header. In it:
//
//	struct sha256_region { uint64_t start, len; };
//	struct sha256_region sha256_regions[SHA256_REGIONS /* 16 */];
//	sha256_digest_t sha256_digest; /* uint8_t[32] */
//
// both in .data (built with -fno-zero-initialized-in-bss so that
// elf_rel_set_symbol can poke them). update_purgatory() in kexec/kexec.c
// fills them: for every segment in array order except the purgatory itself
// (and, with KEXEC_UPDATE_ELFCOREHDR hotplug, the elfcorehdr), region[j] =
// {mem, memsz} and the digest is SHA-256 over buf[0:bufsz] followed by
// memsz-bufsz zero bytes, i.e. over the memory the kernel will have filled.
// purgatory's verify_sha256_digest() recomputes the same over memory at boot.
//
// We have no symbol table, so we look for the array by its content: an
// 8-byte-aligned run of 16 {start,len} pairs whose non-empty entries come
// first, the rest zero, with at least one entry equal to another segment's
// {mem, memsz}. The digest is the 32 bytes right before the array in the
// kexec-tools builds we checked (Debian 2.0.25: the compiler emits the two
// objects in reverse order), or right after it; a candidate that equals the
// recomputed digest wins, so a layout we have not seen still verifies.

const (
	sha256Regions   = 16
	regionArraySize = sha256Regions * 16
	maxPurgatory    = 16 << 20
)

type region struct{ start, len uint64 }

func checkPurgatory(segs []Segment, entry uint64) PurgatoryVerdict {
	v := PurgatoryVerdict{Segment: -1}
	entrySeg := -1
	for i, s := range segs {
		if entry >= s.Mem && entry-s.Mem < s.MemSz {
			entrySeg = i
		}
	}

	type candidate struct {
		seg, off int
		data     []byte
		regions  []region
		exact    int
	}
	var best *candidate
	for i, s := range segs {
		if s.Data == nil || s.Size < regionArraySize || s.Size > maxPurgatory {
			continue
		}
		data := make([]byte, s.Size)
		n, _ := s.Data.ReadAt(data, 0)
		data = data[:n]
		for off := 0; off+regionArraySize <= len(data); off += 8 {
			regs, exact := parseRegions(data[off:off+regionArraySize], segs, i)
			if regs == nil {
				continue
			}
			c := &candidate{seg: i, off: off, data: data, regions: regs, exact: exact}
			// Rank: fewest entries that match no segment (a window shifted
			// onto the neighbouring digest still has the real entries in
			// it), then most exact matches, then the segment holding entry.
			better := best == nil
			if !better {
				cOdd, bOdd := len(c.regions)-c.exact, len(best.regions)-best.exact
				better = cOdd < bOdd || (cOdd == bOdd && (c.exact > best.exact ||
					(c.exact == best.exact && c.seg == entrySeg && best.seg != entrySeg)))
			}
			if better {
				best = c
			}
		}
	}
	if best == nil {
		if entrySeg >= 0 {
			v.Segment = entrySeg
			v.EntryInPurgatory = false
			v.Detail = fmt.Sprintf("no sha256_regions table found in any segment (kexec --no-checks, a loader other than kexec-tools, or tampering); entry 0x%x is in segment %d", entry, entrySeg)
		} else {
			v.Detail = fmt.Sprintf("no sha256_regions table found in any segment, and entry 0x%x is outside every segment", entry)
		}
		return v
	}

	p := segs[best.seg]
	v.Found = true
	v.Segment = best.seg
	v.Regions = len(best.regions)
	v.EntryInPurgatory = entry >= p.Mem && entry-p.Mem < p.MemSz

	computed, incomplete, err := hashRegions(best.regions, segs)
	if err != nil {
		v.Detail = fmt.Sprintf("sha256_regions at purgatory+0x%x: %v", best.off, err)
		v.Incomplete = true
		return v
	}
	v.Computed = hex.EncodeToString(computed)

	// Digest candidates: before the array, after it, then anywhere.
	var cands []int
	if best.off >= 32 {
		cands = append(cands, best.off-32)
	}
	if best.off+regionArraySize+32 <= len(best.data) {
		cands = append(cands, best.off+regionArraySize)
	}
	stored := -1
	for _, c := range cands {
		if bytes.Equal(best.data[c:c+32], computed) {
			stored = c
		}
	}
	if stored < 0 {
		if i := bytes.Index(best.data, computed); i >= 0 {
			stored = i
		}
	}
	if stored >= 0 {
		v.Match = true
		v.Stored = v.Computed
	} else {
		for _, c := range cands {
			if len(bytes.Trim(best.data[c:c+32], "\x00")) != 0 {
				stored = c
				break
			}
		}
		if stored >= 0 {
			v.Stored = hex.EncodeToString(best.data[stored : stored+32])
		}
	}

	v.Arm64Jump = arm64Jump(best.data, best.off, segs, best.seg)
	var detail []string
	if v.Match {
		detail = append(detail, fmt.Sprintf("digest at purgatory+0x%x matches the %d regions", stored, v.Regions))
	} else if stored >= 0 {
		detail = append(detail, fmt.Sprintf("MISMATCH: stored digest at purgatory+0x%x differs from the one recomputed over the captured segments: the kernel would not boot these bytes, or the capture is not what was loaded", stored))
	} else {
		detail = append(detail, "stored digest not located next to sha256_regions (all zero or unknown layout)")
	}
	if incomplete != "" {
		v.Incomplete = true
		detail = append(detail, incomplete)
	}
	if v.Arm64Jump != nil {
		detail = append(detail, v.Arm64Jump.text())
	}
	if v.EntryInPurgatory {
		detail = append(detail, fmt.Sprintf("entry 0x%x is purgatory+0x%x", entry, entry-p.Mem))
	} else if entrySeg >= 0 {
		detail = append(detail, fmt.Sprintf("ENTRY OUTSIDE PURGATORY: entry 0x%x is in segment %d", entry, entrySeg))
	} else {
		detail = append(detail, fmt.Sprintf("ENTRY OUTSIDE PURGATORY: entry 0x%x is outside every segment", entry))
	}
	v.Detail = strings.Join(detail, "; ")
	return v
}

// parseRegions accepts b as a sha256_regions array: non-empty entries first,
// then only zero entries; at least one entry equal to {mem, memsz} of a
// segment other than self. It returns the non-empty regions and how many
// matched a segment exactly.
func parseRegions(b []byte, segs []Segment, self int) ([]region, int) {
	// Checked before anything is allocated: this runs at every 8-byte
	// offset of every purgatory-sized segment, and nearly all fail.
	exact, n := 0, 0
	ended := false
	for k := 0; k < sha256Regions; k++ {
		r := region{binary.LittleEndian.Uint64(b[16*k:]), binary.LittleEndian.Uint64(b[16*k+8:])}
		if r.len == 0 {
			if r.start != 0 {
				return nil, 0
			}
			ended = true
			continue
		}
		if ended || r.start+r.len < r.start {
			return nil, 0
		}
		for i, s := range segs {
			if i != self && s.Mem == r.start && s.MemSz == r.len {
				exact++
				break
			}
		}
		n++
	}
	if exact == 0 {
		return nil, 0
	}
	regs := make([]region, 0, n)
	for k := range n {
		regs = append(regs, region{binary.LittleEndian.Uint64(b[16*k:]), binary.LittleEndian.Uint64(b[16*k+8:])})
	}
	return regs, exact
}

// hashRegions recomputes what purgatory will hash: each region's memory,
// which is the captured bytes of the segment(s) covering it and zeros from
// bufsz up to memsz. A region not covered by any segment cannot be
// recomputed. incomplete names segments whose capture was short.
func hashRegions(regs []region, segs []Segment) (sum []byte, incomplete string, err error) {
	order := make([]int, len(segs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return segs[order[a]].Mem < segs[order[b]].Mem })
	// Real kexec images are well under this; a forged memsz of 2^60 must not
	// have us hash zeros for a century.
	const maxHashed = 4 << 30
	var total uint64
	for _, r := range regs {
		total += r.len
		if total > maxHashed || total < r.len {
			return nil, "", fmt.Errorf("the regions cover more than %d bytes; not recomputed", uint64(maxHashed))
		}
	}
	h := sha256.New()
	var zero [64 << 10]byte
	buf := make([]byte, 1<<20)
	short := map[int]bool{}
	for ri, r := range regs {
		addr, end := r.start, r.start+r.len
		for addr < end {
			si := -1
			for _, i := range order {
				s := segs[i]
				if addr >= s.Mem && addr-s.Mem < s.MemSz {
					si = i
					break
				}
			}
			if si < 0 {
				return nil, "", fmt.Errorf("region %d (0x%x+0x%x): address 0x%x is in no segment, so its bytes were not captured", ri, r.start, r.len, addr)
			}
			s := segs[si]
			segOff := addr - s.Mem
			segEnd := min(end, s.Mem+s.MemSz)
			have := uint64(0)
			if s.Data != nil && s.Size > 0 {
				have = uint64(s.Size)
			}
			if s.BufSz > have {
				short[si] = true
			}
			// Captured bytes first, then the zero fill.
			for segOff < have && addr < segEnd {
				n := min(uint64(len(buf)), have-segOff, segEnd-addr)
				k, rerr := s.Data.ReadAt(buf[:n], int64(segOff))
				if uint64(k) < n {
					if rerr == nil {
						rerr = io.ErrUnexpectedEOF
					}
					return nil, "", fmt.Errorf("segment %d: reading captured bytes at %d: %v", si, segOff, rerr)
				}
				h.Write(buf[:n])
				addr += n
				segOff += n
			}
			for addr < segEnd {
				n := min(uint64(len(zero)), segEnd-addr)
				h.Write(zero[:n])
				addr += n
			}
		}
	}
	if len(short) > 0 {
		var idx []string
		for i := range short {
			idx = append(idx, fmt.Sprint(i))
		}
		sort.Strings(idx)
		incomplete = "segment(s) " + strings.Join(idx, ",") + " captured short of bufsz: a mismatch may only mean missing bytes"
	}
	return h.Sum(nil), incomplete, nil
}
