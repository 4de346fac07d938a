package replay

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
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
}

func (o TableOptions) width() int {
	if o.Width <= 0 {
		return 80
	}
	return o.Width
}

// shortHashLen is how much of a SHA-256 the narrow table shows: 12 hex
// digits (48 bits) tell payloads of one capture apart, like git's short ids.
const shortHashLen = 12

// maxListedInitramfsFiles bounds the initramfs listing in a table.
const maxListedInitramfsFiles = 20

func (o TableOptions) hash(s string) string {
	if s == "" {
		return "-"
	}
	if o.Wide || len(s) <= shortHashLen {
		return s
	}
	return s[:shortHashLen]
}

// RenderHeader writes a few lines describing a capture file.
func RenderHeader(w io.Writer, path string, h format.Header, o TableOptions) {
	lines := [][2]string{
		{"capture", path},
		{"host", nonEmpty(h.Hostname) + " (kernel " + nonEmpty(h.KernelRelease) + ", " + nonEmpty(h.Arch) + ")"},
		{"recorder", nonEmpty(h.WriterVersion) + ", attach " + nonEmpty(h.AttachMode)},
	}
	if h.KnownReturn != "" {
		lines = append(lines, [2]string{"returns", sanitize(h.KnownReturn) + ", known in advance (" + sanitize(h.KnownReturnWhy) + ")"})
	}
	if !h.WallStart.IsZero() {
		lines = append(lines, [2]string{"started", h.WallStart.UTC().Format(time.RFC3339Nano)})
	}
	kv(w, lines, o)
	fmt.Fprintln(w)
}

func nonEmpty(s string) string {
	if s == "" {
		return "?"
	}
	return s
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
		when = c.Time.UTC().Format("2006-01-02 15:04:05.000000 UTC")
	}
	fmt.Fprintf(w, "=== call %d  %s  %s\n", c.ID, c.Syscall, Result(c))
	if v := c.Purgatory; v != nil && v.Found && !v.Match {
		fmt.Fprintln(w, "!!! PURGATORY DIGEST MISMATCH: the captured segments are not what")
		fmt.Fprintln(w, "!!! purgatory will verify at boot (a race or tampering)")
	}
	var kvs [][2]string
	add := func(k, v string) { kvs = append(kvs, [2]string{k, v}) }
	add("time", when)
	cl := c.Caller
	add("caller", fmt.Sprintf("pid %d tid %d ppid %d comm %q", cl.PID, cl.TID, cl.PPID, cl.Comm))
	add("user", fmt.Sprintf("uid %d euid %d gid %d egid %d loginuid %s session %s",
		cl.UID, cl.EUID, cl.GID, cl.EGID, auditID(cl.LoginUID), auditID(cl.SessionID)))
	if cl.Exe != "" {
		add("exe", cl.Exe)
	}
	if len(cl.Argv) > 0 {
		add("argv", quoteArgv(cl.Argv))
	}
	if cl.CgroupPath != "" || cl.ContainerID != "" {
		add("cgroup", strings.TrimSpace(cl.CgroupPath+" "+cl.ContainerID))
	}
	if len(cl.Raced) > 0 {
		add("raced", strings.Join(cl.Raced, ",")+" read from /proc after the call (may be later state)")
	}
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
		if id == nil {
			continue
		}
		if id.KernelVersion != "" {
			add("kernel", id.KernelVersion)
		}
		if id.Cmdline != "" && c.Cmdline == nil {
			add("cmdline", strconv.Quote(id.Cmdline))
		}
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
	for _, p := range c.Problems {
		add("problem", p)
	}
	kv(w, kvs, o)
	if len(c.Segments) > 0 || len(c.Payloads) > 0 {
		fmt.Fprintln(w)
		if err := payloadTable(w, c, o); err != nil {
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
		return fmt.Sprintf("digest MATCHES (segment %d, %d regions), %s", v.Segment, v.Regions, entry)
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

// table collects rows and renders them with tablewriter; the last column
// (free text) is wrapped by hand to what the other columns leave of the
// width, so the output fits whatever the data (tablewriter's own MaxWidth
// shrinks the wrong columns).
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer, o TableOptions) error {
	n := len(t.header)
	if !o.Wide {
		used := 0
		for col := 0; col < n-1; col++ {
			cw := len(t.header[col])
			for _, r := range t.rows {
				for _, l := range strings.Split(r[col], "\n") {
					cw = max(cw, len(l))
				}
			}
			used += cw + 2
		}
		last := max(o.width()-used-2, 12)
		for _, r := range t.rows {
			r[n-1] = strings.Join(wrap(r[n-1], last), "\n")
		}
	}
	var buf strings.Builder
	tb := plain(&buf, o, t.header)
	for _, r := range t.rows {
		if err := tb.Append(r); err != nil {
			return err
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	// tablewriter pads every cell; trailing blanks only make diffs noisy,
	// and its header rule may run past the text: cut it to the widest line.
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	widest := 0
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
		if strings.Trim(lines[i], "-") != "" {
			widest = max(widest, utf8.RuneCountInString(lines[i]))
		}
	}
	for _, l := range lines {
		if strings.Trim(l, "-") == "" && len(l) > widest {
			l = l[:widest]
		}
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// wrap cuts s into lines of at most width bytes, at spaces when it can.
func wrap(s string, width int) []string {
	var out []string
	for len(s) > width {
		cut := width
		if i := strings.LastIndexByte(s[:width+1], ' '); i > width/3 {
			cut = i
		}
		out = append(out, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(out, s)
}

// plain is the borderless table style used everywhere (aligned columns, a
// header rule, nothing else), like kubectl or docker ps output.
func plain(w io.Writer, o TableOptions, header []string) *tablewriter.Table {
	cfg := tablewriter.Config{
		Header: tw.CellConfig{Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
			Alignment: tw.CellAlignment{Global: tw.AlignLeft}},
		Row: tw.CellConfig{Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
			Alignment: tw.CellAlignment{Global: tw.AlignLeft}},
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleASCII),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		})),
		tablewriter.WithConfig(cfg),
		tablewriter.WithTrimSpace(tw.Off),
	)
	if header != nil {
		t.Header(header)
	}
	return t
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

// sanitize keeps capture strings from driving the terminal: control
// characters are shown escaped.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func status(p *Payload) string {
	if p == nil {
		return "NOT CAPTURED"
	}
	if p.Complete {
		return "complete"
	}
	return "TRUNCATED(" + strings.Join(p.Reasons, ",") + ")"
}

func what(p *Payload) string {
	if p == nil || p.Identity == nil {
		return ""
	}
	if p.Identity.Summary != "" {
		return sanitize(p.Identity.Summary)
	}
	return p.Identity.Type
}

func shortSource(s string) string {
	switch s {
	case "syscall-entry":
		return "entry"
	case "kernel-read":
		return "kread"
	}
	return s
}

func statusLines(p *Payload) string {
	if p == nil {
		return "NOT CAPTURED"
	}
	if p.Complete {
		return "complete"
	}
	return "TRUNCATED\n" + strings.Join(p.Reasons, "\n")
}

func payloadTable(w io.Writer, c *Call, o TableOptions) error {
	linked := map[*Payload]bool{}
	if len(c.Segments) > 0 {
		t := &table{header: []string{"#", "BUF/MEM", "BUFSZ/MEMSZ", "CAPTURED", "SHA256/STATUS", "WHAT"}}
		if o.Wide {
			t.header = []string{"#", "BUF", "BUFSZ", "MEM", "MEMSZ", "CAPTURED", "SOURCE", "SHA256", "STATUS", "WHAT"}
		}
		for _, s := range c.Segments {
			p := s.Payload
			linked[p] = true
			capd, src, sha := "-", "-", "-"
			if p != nil {
				capd, src, sha = strconv.FormatUint(p.Captured, 10), shortSource(p.Source), o.hash(p.SHA256)
			}
			if o.Wide {
				t.add(strconv.Itoa(s.Index), fmt.Sprintf("%#x", s.Buf), strconv.FormatUint(s.BufSz, 10),
					fmt.Sprintf("%#x", s.Mem), strconv.FormatUint(s.MemSz, 10), capd, src, sha, status(p), what(p))
			} else {
				t.add(strconv.Itoa(s.Index),
					fmt.Sprintf("%#x\n%#x", s.Buf, s.Mem),
					fmt.Sprintf("%d\n%d", s.BufSz, s.MemSz),
					capd+"\n"+src,
					sha+"\n"+statusLines(p),
					what(p))
			}
		}
		if err := t.render(w, o); err != nil {
			return err
		}
	}
	// Payloads not tied to a segment: kexec_file_load's kernel, initrd and
	// cmdline, or segment payloads whose table was lost.
	var rest []*Payload
	for _, p := range c.Payloads {
		if !linked[p] {
			rest = append(rest, p)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	if len(c.Segments) > 0 {
		fmt.Fprintln(w)
	}
	t := &table{header: []string{"PAYLOAD", "TOTAL", "CAPTURED", "SHA256/STATUS", "WHAT"}}
	if o.Wide {
		t.header = []string{"PAYLOAD", "TOTAL", "CAPTURED", "SOURCE", "SHA256", "STATUS", "WHAT"}
	}
	for _, p := range rest {
		name := p.Kind
		if p.Kind == "segment" {
			name += " " + strconv.Itoa(p.Index)
		}
		if o.Wide {
			t.add(name, strconv.FormatUint(p.Total, 10), strconv.FormatUint(p.Captured, 10),
				p.Source, o.hash(p.SHA256), status(p), what(p))
		} else {
			t.add(name, strconv.FormatUint(p.Total, 10),
				strconv.FormatUint(p.Captured, 10)+"\n"+shortSource(p.Source),
				o.hash(p.SHA256)+"\n"+statusLines(p), what(p))
		}
	}
	return t.render(w, o)
}

func hexDump(w io.Writer, p *Payload, o TableOptions) {
	label := p.Kind
	if p.Kind == "segment" {
		label += " " + strconv.Itoa(p.Index)
	}
	if p.SHA256 == "" || p.Captured == 0 {
		fmt.Fprintf(w, "\n  %s: no bytes captured\n", label)
		return
	}
	rc, err := o.Payload(p.SHA256)
	if err != nil {
		fmt.Fprintf(w, "\n  %s: cannot read payload: %s\n", label, sanitize(err.Error()))
		return
	}
	defer rc.Close()
	n := min(uint64(o.HexDump), p.Captured)
	buf := make([]byte, n)
	got, err := io.ReadFull(rc, buf)
	fmt.Fprintf(w, "\n  %s: first %d of %d bytes\n", label, got, p.Captured)
	d := hex.Dumper(w)
	d.Write(buf[:got])
	d.Close()
	if err != nil {
		fmt.Fprintf(w, "  (read stopped: %s)\n", sanitize(err.Error()))
	}
}

// RenderJSON writes one call as a JSON object on one line (NDJSON), byte
// for byte what json.Marshal(c) gives, only faster.
func RenderJSON(w io.Writer, c *Call) error {
	bp := jsonBuf.Get().(*[]byte)
	b, err := appendCall((*bp)[:0], c)
	if err == nil {
		b = append(b, '\n')
		_, err = w.Write(b)
	}
	if cap(b) <= 1<<20 {
		*bp = b
		jsonBuf.Put(bp)
	}
	return err
}

var jsonBuf = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// HeaderJSON is the JSON form of a capture header (format.Header has no
// JSON names of its own; these are stable).
type HeaderJSON struct {
	FileID        string            `json:"file_id"`
	Hostname      string            `json:"hostname"`
	MachineID     string            `json:"machine_id,omitempty"`
	BootID        string            `json:"boot_id,omitempty"`
	KernelRelease string            `json:"kernel_release"`
	KernelVersion string            `json:"kernel_version,omitempty"`
	Arch          string            `json:"arch"`
	ByteOrder     string            `json:"byte_order"`
	WriterVersion string            `json:"writer_version"`
	RecordLayout  uint32            `json:"record_layout"`
	AttachMode    string            `json:"attach_mode"`
	KnownReturn   string            `json:"known_return,omitempty"`
	KnownRetWhy   string            `json:"known_return_why,omitempty"`
	Options       map[string]string `json:"options,omitempty"`
	WallStart     time.Time         `json:"wall_start"`
	BootStartNS   uint64            `json:"boot_start_ns"`
	Extra         map[string]string `json:"extra,omitempty"`
	SetID         string            `json:"set_id,omitempty"`
	Part          uint32            `json:"part"`
}

// NewHeaderJSON converts a header.
func NewHeaderJSON(h format.Header) HeaderJSON {
	j := HeaderJSON{
		FileID: hex.EncodeToString(h.FileID[:]), Hostname: h.Hostname, MachineID: h.MachineID, BootID: h.BootID,
		KernelRelease: h.KernelRelease, KernelVersion: h.KernelVersion, Arch: h.Arch, ByteOrder: h.ByteOrder,
		WriterVersion: h.WriterVersion, RecordLayout: h.RecordLayout, AttachMode: h.AttachMode, Options: h.Options,
		WallStart: h.WallStart.UTC(), BootStartNS: h.BootStartNS, Extra: h.Extra, Part: h.Part,
		KnownReturn: h.KnownReturn, KnownRetWhy: h.KnownReturnWhy,
	}
	if h.SetID != ([16]byte{}) {
		j.SetID = hex.EncodeToString(h.SetID[:])
	}
	return j
}

// StatusJSON is the JSON form of what reading a capture found.
type StatusJSON struct {
	Clean       bool           `json:"clean"`
	ChainOK     bool           `json:"chain_ok"`
	Signed      bool           `json:"signed"`
	SignatureOK bool           `json:"signature_ok"`
	Chunks      int            `json:"chunks"`
	Records     int            `json:"records"`
	Bytes       int64          `json:"bytes"`
	Stats       format.Stats   `json:"recorder_stats,omitempty"`
	Decode      DecodeStats    `json:"decode"`
	Damage      []string       `json:"damage"`
	Warnings    []string       `json:"warnings"`
	Partial     bool           `json:"partial"` // damage: some of the file could not be read
	Skipped     map[uint16]int `json:"skipped_types,omitempty"`
}

// NewStatusJSON summarizes a capture after Calls.
func NewStatusJSON(c *Capture) StatusJSON {
	st := c.Status()
	damage, warnings := c.Trouble()
	if damage == nil {
		damage = []string{}
	}
	if warnings == nil {
		warnings = []string{}
	}
	return StatusJSON{
		Clean: st.Clean, ChainOK: st.ChainOK, Signed: st.Signed, SignatureOK: st.SignatureOK,
		Chunks: st.Chunks, Records: st.Records, Bytes: st.Bytes, Stats: c.Stats(), Decode: c.DecodeStats(),
		Damage: damage, Warnings: warnings, Partial: len(damage) > 0, Skipped: st.SkippedTypes,
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
		c.Syscall, strconv.Itoa(n), humanBytes(capd), res, tableFlags(c.Args.FlagNames)}
}

// RenderIndex writes the call index: one row per call (UTC time of day; the
// details below have the full date).
func RenderIndex(w io.Writer, rows [][]string, o TableOptions) error {
	t := &table{header: []string{"CALL", "TIME (UTC)", "PID COMM", "SYSCALL", "N", "BYTES", "RESULT", "FLAGS"}, rows: rows}
	return t.render(w, o)
}

func humanBytes(n uint64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatUint(n, 10)
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + "K"
	case n < 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "G"
}
