package report

import (
	"fmt"
	"strings"

	"github.com/kexecrec/kexecrec/replay"
)

// detail is everything about one call: caller, arguments, result, and every
// segment or file with its hash and what it is.
func detail(fileIdx int, cp *Capture, c *replay.Call, many bool) detailView {
	d := detailView{Anchor: callAnchor(fileIdx, c), Class: c.Outcome}
	d.Title = fmt.Sprintf("Call %d: %s, %s", c.ID, c.Syscall, resultText(c))
	if many {
		d.Title += " (" + Printable(cp.Path) + ")"
	}
	add := func(k, v string) { d.Rows = append(d.Rows, [2]string{k, v}) }
	cl := c.Caller
	add("time", timeText(c.Time))
	add("caller", fmt.Sprintf("pid %d tid %d ppid %d comm %s", cl.PID, cl.TID, cl.PPID, Printable(cl.Comm)))
	add("user", fmt.Sprintf("uid %d euid %d gid %d egid %d loginuid %s session %s",
		cl.UID, cl.EUID, cl.GID, cl.EGID, auditID(cl.LoginUID), auditID(cl.SessionID)))
	add("exe", dash(Printable(cl.Exe)))
	add("argv", dash(Printable(quoteArgv(cl.Argv))))
	if cl.Cwd != "" {
		add("cwd", Printable(cl.Cwd))
	}
	if cl.TTY != nil {
		add("tty", fmt.Sprintf("%s (%d:%d)", Printable(cl.TTY.Name), cl.TTY.Major, cl.TTY.Minor))
	}
	if len(cl.Ancestors) > 0 {
		// With exe paths: a report is read once, closely.
		add("ancestry", Printable(replay.AncestryChain(&cl, true)))
	}
	add("cgroup", dash(Printable(cl.CgroupPath)))
	if cl.ContainerID != "" {
		add("container", Printable(cl.ContainerID))
	}
	add("namespaces", fmt.Sprintf("mnt %d pid %d", cl.MntNS, cl.PidNS))
	if len(cl.Raced) > 0 {
		add("raced", Printable(strings.Join(cl.Raced, ","))+" read from /proc after the call (may be later state)")
	}
	if why := UnusualCaller(c); why != "" {
		add("unusual caller", why)
	}
	add("syscall", fmt.Sprintf("%s nr %d abi %s hook %s cpu %d", c.Syscall, c.SyscallNr, c.ABI, c.Hook, c.CPU))
	add("args", argsText(c))
	flags := fmt.Sprintf("%#x", c.Args.Flags)
	if len(c.Args.FlagNames) > 0 {
		flags = strings.Join(c.Args.FlagNames, " | ") + " (" + flags + ")"
	}
	add("flags", flags)
	res := resultText(c)
	if c.DurationNS > 0 {
		res += fmt.Sprintf(" after %.3f ms", float64(c.DurationNS)/1e6)
	}
	add("result", res)
	if k := kernelsText(c); k != "" {
		add("kernel", k)
	}
	if cmd := replay.EffectiveCmdline(c); cmd != "" {
		add("cmdline", Printable(cmd))
		if r := RiskyArgs(cmd); len(r) > 0 {
			add("risky arguments", Printable(strings.Join(r, ", ")))
		}
	}
	if c.Purgatory != nil {
		add("purgatory", replay.PurgatoryLine(c.Purgatory))
	} else if c.Syscall == "kexec_load" {
		add("purgatory", "not checked (no segments or no entry point)")
	}
	if v := c.DTBInitrd; v != nil {
		add("dtb initrd", replay.DTBInitrdLine(v))
	}
	for _, p := range c.Payloads {
		if p == nil || p.Identity == nil {
			continue
		}
		if h := p.Identity.Arm64Image; h != nil {
			add("arm64 image", replay.PayloadName(p)+": "+h.Describe()+", placement "+h.Placement)
		}
		if dt := p.Identity.DeviceTree; dt != nil {
			add("device tree", replay.PayloadName(p)+": "+Printable(replay.DeviceTreeText(dt)))
		}
	}
	if c.SegmentTableError != "" {
		add("segment table", "NOT READ: "+c.SegmentTableError)
	}
	for _, f := range c.Files {
		add("file read ("+f.Kind+")", fmt.Sprintf("%s dev %s ino %d size %d", Printable(f.Path), f.Dev, f.Ino, f.Size))
	}
	d.Segments = payloadTable(c)
	for _, p := range c.Payloads {
		if p == nil || p.Identity == nil || p.Identity.Initramfs == nil {
			continue
		}
		for ai, a := range p.Identity.Initramfs.Archives {
			iv := initramfsView{Title: fmt.Sprintf("Initramfs in %s, archive %d at offset %d (%s), %d files",
				replay.PayloadName(p), ai, a.Offset, a.Compression, len(a.Files))}
			if a.Truncated {
				iv.Title += ", listing TRUNCATED"
			}
			iv.Files.Header = []string{"path", "mode", "size", "sha256"}
			for _, f := range a.Files {
				name := Printable(f.Path)
				if f.Link != "" {
					name += " -> " + Printable(f.Link)
				}
				iv.Files.Rows = append(iv.Files.Rows, rowView{Cells: []string{name, fmt.Sprintf("%06o", f.Mode), fmt.Sprint(f.Size), dash(f.SHA256)}})
			}
			d.Initramfs = append(d.Initramfs, iv)
		}
	}
	for _, p := range c.Problems {
		d.Problems = append(d.Problems, Printable(p))
	}
	return d
}

func payloadTable(c *replay.Call) tableView {
	tv := tableView{Header: []string{"payload", "source", "buf / mem", "captured / total", "sha256", "status", "what"}}
	where := map[*replay.Payload]string{}
	for _, s := range c.Segments {
		if s.Payload != nil {
			where[s.Payload] = fmt.Sprintf("%#x (%d) -> %#x (%d)", s.Buf, s.BufSz, s.Mem, s.MemSz)
		}
	}
	for _, p := range c.Payloads {
		if p == nil {
			continue
		}
		status := "complete"
		class := "ok"
		if !p.Complete {
			status = "TRUNCATED (" + strings.Join(p.Reasons, ", ") + ")"
			class = "error"
		}
		what := "-"
		if r := p.Identity; r != nil {
			what = r.Type
			if r.Summary != "" {
				what = r.Summary
			}
			if len(r.Warnings) > 0 {
				what += "; warnings: " + strings.Join(r.Warnings, "; ")
			}
		}
		tv.Rows = append(tv.Rows, rowView{Class: class, Cells: []string{replay.PayloadName(p), p.Source, dash(where[p]),
			fmt.Sprintf("%d / %d", p.Captured, p.Total), dash(p.SHA256), Printable(status), Printable(what)}})
	}
	for _, s := range c.Segments {
		if s.Payload == nil {
			tv.Rows = append(tv.Rows, rowView{Class: "error", Cells: []string{fmt.Sprintf("segment %d", s.Index), "-",
				fmt.Sprintf("%#x (%d) -> %#x (%d)", s.Buf, s.BufSz, s.Mem, s.MemSz), "0 / " + fmt.Sprint(s.BufSz), "-", "NOT CAPTURED", "-"}})
		}
	}
	return tv
}

func argsText(c *replay.Call) string {
	a := c.Args
	var parts []string
	if a.Entry != nil {
		parts = append(parts, fmt.Sprintf("entry %#x", *a.Entry))
	}
	if a.NrSegments != nil {
		parts = append(parts, fmt.Sprintf("nr_segments %d", *a.NrSegments))
	}
	if a.SegmentsPtr != nil {
		parts = append(parts, fmt.Sprintf("segments %#x", *a.SegmentsPtr))
	}
	if a.KernelFD != nil {
		parts = append(parts, fmt.Sprintf("kernel_fd %d", *a.KernelFD))
	}
	if a.InitrdFD != nil {
		parts = append(parts, fmt.Sprintf("initrd_fd %d", *a.InitrdFD))
	}
	if a.CmdlineLen != nil {
		parts = append(parts, fmt.Sprintf("cmdline_len %d", *a.CmdlineLen))
	}
	if a.CmdlinePtr != nil {
		parts = append(parts, fmt.Sprintf("cmdline %#x", *a.CmdlinePtr))
	}
	if a.Arch != "" {
		parts = append(parts, "arch "+a.Arch)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("raw %#x", a.Raw)
	}
	return strings.Join(parts, " ")
}

func auditID(v uint32) string {
	if v == 0xffffffff {
		return "unset"
	}
	return fmt.Sprint(v)
}

// quoteArgv joins argv, quoting the words a shell would split.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, s := range argv {
		if s == "" || strings.ContainsAny(s, " \t\n\"'\\") {
			q[i] = fmt.Sprintf("%q", s)
		} else {
			q[i] = s
		}
	}
	return strings.Join(q, " ")
}

// diff words the comparison with the baseline (A) against the captures (B).
func diff(b *Baseline) *diffView {
	dv := &diffView{}
	if b.Diff == nil {
		dv.Headline = "baseline " + Printable(b.Path) + " could not be compared"
		dv.Error = Printable(b.Error)
		return dv
	}
	r := b.Diff
	dv.Headline = fmt.Sprintf("against baseline %s (%d calls) the captures (%d calls) have: %d same, %d changed, %d only in the baseline, %d new",
		Printable(b.Path), r.CallsA, r.CallsB, r.Same, len(r.Changed), len(r.OnlyA), len(r.OnlyB))
	id := func(s string) string { return s }
	for _, ch := range r.Changed {
		it := diffItem{Title: fmt.Sprintf("baseline call %d -> call %d: %s by %s", ch.A.ID, ch.B.ID, ch.A.Syscall, digestCaller(ch.A))}
		for _, x := range ch.Changes {
			it.Lines = append(it.Lines, Printable(x.Text(id)))
		}
		dv.Changed = append(dv.Changed, it)
	}
	one := func(d *replay.CallDigest) string {
		s := fmt.Sprintf("call %d: %s by %s -> %s", d.ID, d.Syscall, digestCaller(d), d.ResultText())
		if len(d.Kernels) > 0 {
			s += ", kernel " + Printable(strings.Join(d.Kernels, ", "))
		}
		if d.Cmdline != "" {
			s += ", cmdline " + Printable(d.Cmdline)
		}
		return s
	}
	for _, d := range r.OnlyA {
		dv.OnlyBase = append(dv.OnlyBase, one(d))
	}
	for _, d := range r.OnlyB {
		dv.OnlyNew = append(dv.OnlyNew, one(d))
	}
	return dv
}

func digestCaller(d *replay.CallDigest) string {
	if d.Exe == "" {
		return Printable(d.Comm)
	}
	return Printable(d.Comm + " (" + d.Exe + ")")
}
