package replay

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// TableOptions tune the human-readable rendering of calls.
type TableOptions struct {
	// Wide: full SHA-256 values, one line per segment, no width limit.
	Wide bool
	// Width is the terminal width tables must fit (default 80; ignored when Wide).
	Width int
	// HexDump: print the first HexDump bytes of each payload (needs Payload).
	HexDump int
	// Payload opens a payload's bytes by hex SHA-256 (Capture.Payload).
	Payload func(sha string) (io.ReadCloser, error)
	// HeaderNotes are shown in RenderHeader's block (Capture.HeaderNotes).
	HeaderNotes []Note
}

func (o TableOptions) width() int {
	if o.Width <= 0 {
		return 80
	}
	return o.Width
}

// maxListedInitramfsFiles bounds the initramfs listing in a table.
const maxListedInitramfsFiles = 20

// hash is a payload hash as the call tables show it ("-": none).
func (o TableOptions) hash(s string) string { return cmp.Or(shortHash(s, o.Wide), "-") }

// RenderHeader writes a few lines describing a capture file.
func RenderHeader(w io.Writer, path string, h format.Header, o TableOptions) {
	lines := [][2]string{
		{"capture", path},
		{"host", cmp.Or(h.Hostname, "?") + " (kernel " + cmp.Or(h.KernelRelease, "?") + ", " + cmp.Or(h.Arch, "?") + ")"},
		{"recorder", cmp.Or(h.WriterVersion, "?") + ", attach " + cmp.Or(h.AttachMode, "?")},
	}
	if h.KnownReturn != "" {
		lines = append(lines, [2]string{"returns", sanitize(h.KnownReturn) + ", known in advance (" + sanitize(h.KnownReturnWhy) + ")"})
	}
	if !h.WallStart.IsZero() {
		lines = append(lines, [2]string{"started", h.WallStart.UTC().Format(time.RFC3339Nano)})
	}
	lines = append(lines, headerNoteRows(o.HeaderNotes)...)
	kv(w, lines, o)
	fmt.Fprintln(w)
}

// tableFlags shortens flag names for tables (JSON keeps the full names).
func tableFlags(names []string) string {
	if len(names) == 0 {
		return "0"
	}
	s := make([]string, len(names))
	for i, n := range names {
		n = strings.TrimPrefix(n, "KEXEC_FILE_")
		n = strings.TrimPrefix(n, "KEXEC_ARCH_")
		n = strings.TrimPrefix(n, "KEXEC_")
		s[i] = n
	}
	return strings.Join(s, "|")
}

// KnownInAdvance qualifies a return that was not observed at syscall exit
// (Call.RetKnownInAdvance).
const KnownInAdvance = "known in advance: kernel has no kexec"

// Result is a call's outcome in one word or two: "ok", "EPERM (-1)", "UNFINISHED",
// "ENOSYS (-38, known in advance: kernel has no kexec)".
func Result(c *Call) string {
	switch c.Outcome {
	case "ok":
		if c.Ret != nil && *c.Ret != 0 {
			return "ok (" + strconv.FormatInt(*c.Ret, 10) + ")"
		}
		return "ok"
	case "error":
		if c.RetKnownInAdvance {
			return c.Errno + " (" + strconv.FormatInt(*c.Ret, 10) + ", " + KnownInAdvance + ")"
		}
		return c.Errno + " (" + strconv.FormatInt(*c.Ret, 10) + ")"
	}
	return strings.ToUpper(c.Outcome)
}

// payloadBytes sums the captured bytes of a call's payloads.
func payloadBytes(c *Call) (captured, total uint64) {
	for _, p := range c.Payloads {
		captured += p.Captured
		total += p.Total
	}
	return
}

// RenderTable writes one call: a key/value block, then a table of its
// segments (kexec_load) or payloads (kexec_file_load), then hex dumps.
func RenderTable(w io.Writer, c *Call, o TableOptions) error {
	when := "unknown (capture header has no time pair)"
	if !c.Time.IsZero() {
		when = textTime(c.Time)
	}
	fmt.Fprintf(w, "=== call %d  %s  %s\n", c.ID, c.Syscall, Result(c))
	if v := c.Purgatory; v != nil && v.Found && !v.Match {
		fmt.Fprintln(w, "!!! PURGATORY DIGEST MISMATCH: the captured segments are not what")
		fmt.Fprintln(w, "!!! purgatory will verify at boot (a race or tampering)")
	}
	if v := c.Purgatory; v != nil && v.Arm64Jump != nil && !v.Arm64Jump.IntoImage {
		fmt.Fprintln(w, "!!! PURGATORY JUMPS ELSEWHERE: its arm64_kernel_entry is not the Image")
		fmt.Fprintln(w, "!!! segment (the digest does not cover the purgatory itself)")
	}
	if v := c.DTBInitrd; v != nil && !v.Match {
		fmt.Fprintln(w, "!!! DTB INITRD RANGE MISMATCH: the device tree sends the next kernel to")
		fmt.Fprintln(w, "!!! an initramfs that is not the initrd segment of this call")
	}
	if d := differentLoaded(c); len(d) > 0 {
		fmt.Fprintf(w, "!!! LOADED SEGMENT DIFFERENT: the kernel staged other bytes than the caller\n")
		fmt.Fprintf(w, "!!! passed at entry (segment %s): the capture's entry copy is not what will boot\n", strings.Trim(fmt.Sprint(d), "[]"))
	}
	var kvs [][2]string
	add := func(k, v string) { kvs = append(kvs, [2]string{k, v}) }
	add("time", when)
	cl := c.Caller
	add("caller", fmt.Sprintf("pid %d tid %d ppid %d comm %q", cl.PID, cl.TID, cl.PPID, cl.Comm))
	add("user", fmt.Sprintf("uid %d euid %d gid %d egid %d loginuid %s session %s",
		cl.UID, cl.EUID, cl.GID, cl.EGID, auditID(cl.LoginUID), auditID(cl.SessionID)))
	kvs = append(kvs, callerLines(&cl, o.Wide)...)
	add("syscall", fmt.Sprintf("%s nr %d abi %s hook %s cpu %d", c.Syscall, c.SyscallNr, c.ABI, c.Hook, c.CPU))
	a := c.Args
	switch {
	case a.Entry != nil:
		add("args", fmt.Sprintf("entry %#x nr_segments %d segments %#x", *a.Entry, *a.NrSegments, *a.SegmentsPtr))
	case a.KernelFD != nil:
		add("args", fmt.Sprintf("kernel_fd %d initrd_fd %d cmdline_len %d cmdline %#x", *a.KernelFD, *a.InitrdFD, *a.CmdlineLen, *a.CmdlinePtr))
	default:
		add("args", fmt.Sprintf("%#x", a.Raw))
	}
	if len(a.FlagNames) == 0 {
		add("flags", fmt.Sprintf("none (%#x)", a.Flags))
	} else {
		add("flags", fmt.Sprintf("%s (%#x)", strings.Join(a.FlagNames, "|"), a.Flags))
	}
	if c.Cmdline != nil {
		add("cmdline", strconv.Quote(*c.Cmdline))
	}
	res := Result(c)
	if c.DurationNS > 0 {
		res += fmt.Sprintf(" after %s", time.Duration(c.DurationNS))
	}
	if c.Outcome == "unfinished" {
		res += ": no exit seen"
	}
	add("result", res)
	capd, total := payloadBytes(c)
	complete := 0
	for _, p := range c.Payloads {
		if p.Complete {
			complete++
		}
	}
	add("payloads", fmt.Sprintf("%d (%d complete), %d of %d bytes captured", len(c.Payloads), complete, capd, total))
	if c.SegmentTableError != "" {
		add("segments", "segment table unreadable: "+c.SegmentTableError)
	}
	for _, f := range c.Files {
		add("file", fmt.Sprintf("%s %s (dev %s ino %d, read %d of i_size %d)", f.Kind, f.Path, f.Dev, f.Ino, f.Size, f.ISize))
	}
	for _, p := range c.Payloads {
		id := p.Identity
		if id == nil || isLoadedPayload(p) && len(c.Segments) > 0 {
			continue // the entry copy already says it
		}
		if id.KernelVersion != "" {
			add("kernel", id.KernelVersion)
		}
		if id.Cmdline != "" && c.Cmdline == nil {
			add("cmdline", strconv.Quote(id.Cmdline))
		}
		arm64Lines(p, add)
		if id.Initramfs != nil {
			files, comp := 0, []string{}
			for _, ar := range id.Initramfs.Archives {
				files += len(ar.Files)
				comp = append(comp, ar.Compression)
			}
			add("initramfs", fmt.Sprintf("%s %d: %d files in %d archives (%s)", p.Kind, p.Index, files, len(id.Initramfs.Archives), strings.Join(comp, "+")))
			// The regular files are what a responder compares with the
			// installed initramfs: list them (a bounded number; JSON has all).
			listed, regular := 0, 0
			for _, ar := range id.Initramfs.Archives {
				for _, f := range ar.Files {
					if f.SHA256 == "" {
						continue
					}
					regular++
					if listed < maxListedInitramfsFiles {
						add("  file", fmt.Sprintf("/%s %d bytes sha256 %s", strings.TrimPrefix(f.Path, "/"), f.Size, o.hash(f.SHA256)))
						listed++
					}
				}
			}
			if regular > listed {
				add("  file", fmt.Sprintf("... %d more regular files (--format json lists every one)", regular-listed))
			}
		}
		for _, wn := range id.Warnings {
			add("warning", fmt.Sprintf("%s %d: %s", p.Kind, p.Index, wn))
		}
	}
	if v := c.Purgatory; v != nil {
		add("purgatory", PurgatoryLine(v))
	}
	if v := c.DTBInitrd; v != nil {
		add("dtb initrd", DTBInitrdLine(v))
	}
	if s := LoadedLine(c); s != "" {
		add("loaded", s)
	}
	for _, p := range c.Problems {
		add("problem", p)
	}
	kv(w, kvs, o)
	if len(c.Segments) > 0 || len(c.Payloads) > 0 {
		fmt.Fprintln(w)
		if err := payloadTable(w, c, o); err != nil {
			return err
		}
		if err := loadedTable(w, c, o); err != nil {
			return err
		}
	}
	if o.HexDump > 0 && o.Payload != nil {
		for _, p := range c.Payloads {
			hexDump(w, p, o)
		}
	}
	fmt.Fprintln(w)
	return nil
}

// PurgatoryLine is the one-line purgatory verdict; a mismatch is loud on
// purpose: the captured bytes are not what purgatory will verify at boot.
func PurgatoryLine(v *identify.PurgatoryVerdict) string {
	entry := "entry inside purgatory"
	if !v.EntryInPurgatory {
		entry = "ENTRY OUTSIDE PURGATORY"
	}
	switch {
	case !v.Found:
		s := "not checked"
		if v.Detail != "" {
			s += ": " + v.Detail
		}
		return s
	case v.Match:
		s := fmt.Sprintf("digest MATCHES (segment %d, %d regions), %s", v.Segment, v.Regions, entry)
		if j := v.Arm64Jump; j != nil {
			s += "; " + arm64JumpText(j)
		}
		return s
	}
	s := fmt.Sprintf("DIGEST MISMATCH (segment %d, %d regions): stored %s computed %s, %s",
		v.Segment, v.Regions, v.Stored, v.Computed, entry)
	if v.Detail != "" {
		s += "; " + v.Detail
	}
	return s
}

func auditID(v uint32) string {
	if v == 4294967295 {
		return "unset"
	}
	return strconv.FormatUint(uint64(v), 10)
}

func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, s := range argv {
		if s == "" || strings.ContainsAny(s, " \t\n\"'\\") || !strconv.CanBackquote(s) {
			q[i] = strconv.Quote(s)
		} else {
			q[i] = s
		}
	}
	return strings.Join(q, " ")
}

// kv writes key/value lines, wrapping values to the width.
func kv(w io.Writer, lines [][2]string, o TableOptions) {
	const keyW = 11
	valW := o.width() - keyW - 2
	for _, l := range lines {
		v := sanitize(l[1])
		first := true
		for first || v != "" {
			chunk := v
			if !o.Wide && len(chunk) > valW {
				chunk = v[:valW]
				// Break at a space when there is one in the last third.
				if i := strings.LastIndexByte(chunk, ' '); i > valW*2/3 {
					chunk = v[:i+1]
				}
			}
			v = v[len(chunk):]
			k := ""
			if first {
				k = l[0]
			}
			fmt.Fprintf(w, "  %-*s%s\n", keyW, k, strings.TrimRight(chunk, " "))
			first = false
		}
	}
}

// IndexRow is one line of the call index that precedes the details.
func IndexRow(c *Call) []string {
	when := "?"
	if !c.Time.IsZero() {
		when = c.Time.UTC().Format("15:04:05.000")
	}
	n := len(c.Segments)
	if c.Syscall == "kexec_file_load" {
		n = len(c.Files)
	}
	capd, _ := payloadBytes(c)
	res := c.Errno
	if res == "" {
		res = strings.ToLower(Result(c))
		if c.Outcome == "unfinished" {
			res = "UNFINISHED"
		}
	}
	if v := c.Purgatory; v != nil && v.Found && !v.Match {
		res += " !DIGEST"
	}
	return []string{strconv.FormatUint(c.ID, 10), when, fmt.Sprintf("%d %s", c.Caller.PID, sanitize(c.Caller.Comm)),
		c.Syscall, strconv.Itoa(n), HumanBytes(capd), res, tableFlags(c.Args.FlagNames)}
}

// RenderIndex writes the call index: one row per call (UTC time of day; the
// details below have the full date).
func RenderIndex(w io.Writer, rows [][]string, o TableOptions) error {
	t := &table{header: []string{"CALL", "TIME (UTC)", "PID COMM", "SYSCALL", "N", "BYTES", "RESULT", "FLAGS"}, rows: rows}
	return t.render(w, o)
}
