package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// What changed between two paired calls, field by field: flags, segment
// count, payload hashes, kernel versions, command line parameters,
// initramfs files, purgatory verdict, device tree initrd verdict and result.

// Changes lists what differs between two paired calls, most telling first.
func Changes(a, b *CallDigest) []Change {
	var cs []Change
	add := func(field, item, op, from, to string) {
		cs = append(cs, Change{Field: field, Item: item, Op: op, From: from, To: to})
	}
	if a.Syscall != b.Syscall {
		add("syscall", "", "changed", a.Syscall, b.Syscall)
	}
	if a.Exe != b.Exe {
		add("exe", "", "changed", a.Exe, b.Exe)
	}
	cs = append(cs, kernelChanges(a.Kernels, b.Kernels)...)
	cs = append(cs, CmdlineChanges(a.Cmdline, b.Cmdline)...)
	cs = append(cs, initramfsChanges(a.initramfs, b.initramfs)...)
	if a.Flags != b.Flags {
		add("flags", "", "changed", a.FlagsText(), b.FlagsText())
	}
	if a.NrSegments != b.NrSegments {
		add("segment_count", "", "changed", strconv.FormatUint(a.NrSegments, 10), strconv.FormatUint(b.NrSegments, 10))
	}
	cs = append(cs, payloadChanges(a.Payloads, b.Payloads)...)
	if a.Purgatory != b.Purgatory {
		add("purgatory", "", "changed", cmp.Or(a.Purgatory, "none"), cmp.Or(b.Purgatory, "none"))
	}
	if a.DTBInitrd != b.DTBInitrd {
		add("dtb_initrd", "", "changed", cmp.Or(a.DTBInitrd, "none"), cmp.Or(b.DTBInitrd, "none"))
	}
	if a.Loaded != b.Loaded {
		add("loaded", "", "changed", cmp.Or(a.Loaded, "not read back"), cmp.Or(b.Loaded, "not read back"))
	}
	if a.resultKey() != b.resultKey() {
		add("result", "", "changed", a.ResultText(), b.ResultText())
	}
	return cs
}

func kernelChanges(a, b []string) []Change {
	lost := setMinus(a, b)
	gained := setMinus(b, a)
	if len(lost) == 1 && len(gained) == 1 {
		return []Change{{Field: "kernel_version", Op: "changed", From: lost[0], To: gained[0]}}
	}
	var cs []Change
	for _, v := range lost {
		cs = append(cs, Change{Field: "kernel_version", Op: "lost", From: v})
	}
	for _, v := range gained {
		cs = append(cs, Change{Field: "kernel_version", Op: "gained", To: v})
	}
	return cs
}

func setMinus(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CmdlineChanges compares two kernel command lines parameter by parameter:
// "init=/bin/sh" gained, "quiet" lost, "root=/dev/sda1 -> root=/dev/sdb1"
// changed (one parameter name lost once and gained once).
func CmdlineChanges(a, b string) []Change {
	ta, tb := strings.Fields(a), strings.Fields(b)
	lost := multisetMinus(ta, tb)
	gained := multisetMinus(tb, ta)
	name := func(t string) string { n, _, _ := strings.Cut(t, "="); return n }
	count := func(ts []string, n string) int {
		k := 0
		for _, t := range ts {
			if name(t) == n {
				k++
			}
		}
		return k
	}
	var cs []Change
	paired := map[string]bool{}
	for _, l := range lost {
		n := name(l)
		if count(lost, n) == 1 && count(gained, n) == 1 {
			for _, g := range gained {
				if name(g) == n {
					cs = append(cs, Change{Field: "cmdline", Item: n, Op: "changed", From: l, To: g})
					paired[n] = true
				}
			}
			continue
		}
		cs = append(cs, Change{Field: "cmdline", Item: n, Op: "lost", From: l})
	}
	for _, g := range gained {
		if !paired[name(g)] {
			cs = append(cs, Change{Field: "cmdline", Item: name(g), Op: "gained", To: g})
		}
	}
	return cs
}

// multisetMinus returns the elements of a not matched by one in b, in a's order.
func multisetMinus(a, b []string) []string {
	left := map[string]int{}
	for _, t := range b {
		left[t]++
	}
	var out []string
	for _, t := range a {
		if left[t] > 0 {
			left[t]--
			continue
		}
		out = append(out, t)
	}
	return out
}

// initramfsFiles maps each file path of a call's initramfs archives to what
// identifies its content (later archives override earlier ones, as the
// kernel unpacks them in order).
func initramfsFiles(ls []*identify.Initramfs) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		for _, ar := range l.Archives {
			for _, f := range ar.Files {
				m[rootedPath(f.Path)] = fmt.Sprintf("mode %o size %d sha256 %s link %s", f.Mode, f.Size, f.SHA256, f.Link)
			}
		}
	}
	return m
}

// rootedPath shows a cpio path ("init", "./bin/sh") as the path it unpacks
// to ("/init", "/bin/sh").
func rootedPath(p string) string {
	p = strings.TrimPrefix(p, "./")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func initramfsChanges(a, b []*identify.Initramfs) []Change {
	if len(a) == 0 || len(b) == 0 {
		return nil // no listing on one side: the payload hashes say it all
	}
	fa, fb := initramfsFiles(a), initramfsFiles(b)
	var changed, lost, gained []string
	for p, da := range fa {
		db, ok := fb[p]
		switch {
		case !ok:
			lost = append(lost, p)
		case da != db:
			changed = append(changed, p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			gained = append(gained, p)
		}
	}
	slices.Sort(changed)
	slices.Sort(lost)
	slices.Sort(gained)
	var cs []Change
	emit := func(paths []string, op string, from, to map[string]string) {
		for i, p := range paths {
			if i == maxInitramfsChanges {
				cs = append(cs, Change{Field: "initramfs", Item: fmt.Sprintf("(%d more files)", len(paths)-i), Op: op})
				return
			}
			cs = append(cs, Change{Field: "initramfs", Item: p, Op: op, From: from[p], To: to[p]})
		}
	}
	emit(changed, "changed", fa, fb)
	emit(gained, "gained", nil, fb)
	emit(lost, "lost", fa, nil)
	return cs
}

func payloadChanges(a, b []PayloadDigest) []Change {
	var cs []Change
	byName := func(ps []PayloadDigest, n string) *PayloadDigest {
		for i := range ps {
			if ps[i].Name == n {
				return &ps[i]
			}
		}
		return nil
	}
	for _, pa := range a {
		pb := byName(b, pa.Name)
		switch {
		case pb == nil:
			cs = append(cs, Change{Field: "payload", Item: pa.Name, Op: "lost", From: pa.SHA256})
		case pb.SHA256 != pa.SHA256:
			cs = append(cs, Change{Field: "payload", Item: pa.Name, Op: "changed", From: pa.SHA256, To: pb.SHA256})
		}
	}
	for _, pb := range b {
		if byName(a, pb.Name) == nil {
			cs = append(cs, Change{Field: "payload", Item: pb.Name, Op: "gained", To: pb.SHA256})
		}
	}
	return cs
}
