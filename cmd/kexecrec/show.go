package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
	"github.com/spf13/cobra"
)

// callFilter selects calls (show, replay). Zero values select everything.
type callFilter struct {
	pids     []uint
	comms    []string
	uids     []uint
	syscalls []string
	failed   bool
	since    string
	until    string
}

func (f *callFilter) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.UintSliceVar(&f.pids, "pid", nil, "only calls by these process ids")
	fl.StringSliceVar(&f.comms, "comm", nil, "only calls by these command names")
	fl.UintSliceVar(&f.uids, "uid", nil, "only calls by these user ids (real or effective)")
	fl.StringSliceVar(&f.syscalls, "syscall", nil, "only these syscalls: kexec_load, kexec_file_load (or load, file_load)")
	fl.BoolVar(&f.failed, "failed", false, "only calls that failed or did not finish")
	fl.StringVar(&f.since, "since", "", "only calls at or after this time: RFC3339, or a duration after the capture start (90s, 2h)")
	fl.StringVar(&f.until, "until", "", "only calls before this time: RFC3339, or a duration after the capture start")
}

// bound is a --since/--until value: absolute wall time, or an offset from
// the capture's start (resolved per file).
type bound struct {
	set   bool
	abs   time.Time
	rel   time.Duration
	isRel bool
}

func parseBound(flag, s string) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bound{set: true, abs: t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return bound{set: true, rel: d, isRel: true}, nil
	}
	return bound{}, fmt.Errorf("--%s %q: want RFC3339 (2026-11-29T12:00:00Z) or a duration (90s)", flag, s)
}

// compiled is a filter ready to test calls of one capture.
type compiled struct {
	f            *callFilter
	since, until bound
	syscalls     map[string]bool
}

func (f *callFilter) compile() (*compiled, error) {
	c := &compiled{f: f}
	var err error
	if c.since, err = parseBound("since", f.since); err != nil {
		return nil, err
	}
	if c.until, err = parseBound("until", f.until); err != nil {
		return nil, err
	}
	if len(f.syscalls) > 0 {
		c.syscalls = map[string]bool{}
		for _, s := range f.syscalls {
			s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "kexec_")
			if s != "load" && s != "file_load" {
				return nil, fmt.Errorf("--syscall %q: want kexec_load or kexec_file_load", s)
			}
			c.syscalls["kexec_"+s] = true
		}
	}
	return c, nil
}

// match says whether a call of a capture whose start is (wall, bootNS) passes.
func (c *compiled) match(call *replay.Call, wall time.Time, bootNS uint64) bool {
	f := c.f
	if len(f.pids) > 0 && !containsU32(f.pids, call.Caller.PID) {
		return false
	}
	if len(f.uids) > 0 && !containsU32(f.uids, call.Caller.UID) && !containsU32(f.uids, call.Caller.EUID) {
		return false
	}
	if len(f.comms) > 0 {
		ok := false
		for _, s := range f.comms {
			ok = ok || s == call.Caller.Comm
		}
		if !ok {
			return false
		}
	}
	if c.syscalls != nil && !c.syscalls[call.Syscall] {
		return false
	}
	if f.failed && call.Outcome == "ok" {
		return false
	}
	if c.since.set && !c.inBound(c.since, call, bootNS, true) {
		return false
	}
	if c.until.set && !c.inBound(c.until, call, bootNS, false) {
		return false
	}
	return true
}

func (c *compiled) inBound(b bound, call *replay.Call, bootNS uint64, since bool) bool {
	if b.isRel {
		if bootNS == 0 || call.BootNS == 0 {
			return false // no time base: cannot say, so do not claim it matches
		}
		off := time.Duration(int64(call.BootNS - bootNS))
		if since {
			return off >= b.rel
		}
		return off < b.rel
	}
	if call.Time.IsZero() {
		return false
	}
	if since {
		return !call.Time.Before(b.abs)
	}
	return call.Time.Before(b.abs)
}

func containsU32(s []uint, v uint32) bool {
	for _, x := range s {
		if x == uint(v) {
			return true
		}
	}
	return false
}

type showOptions struct {
	ios        *IOStreams
	files      []string
	format     string
	wide       bool
	hexdump    int
	noIdentify bool
	filter     callFilter
}

func newShowCmd(ios *IOStreams) *cobra.Command {
	opts := &showOptions{ios: ios}
	cmd := &cobra.Command{
		Use:   "show FILE...",
		Short: "Decode and print the calls in captures",
		Long: `show decodes every kexec_load and kexec_file_load call in each capture and
prints an index (one row per call: time, pid and comm, syscall, number of
segments or files, captured bytes, result, flags), then each call: caller, arguments with flags by name (unknown bits in hex), result
with errno name, and a table of segments or payloads with their sizes,
captured bytes, SHA-256, completeness and where the bytes were read. Unless
--no-identify is given it also says what each payload is (kernel version,
command line, initramfs files) and recomputes kexec-tools' purgatory digest;
a mismatch is flagged with "!!! PURGATORY DIGEST MISMATCH".

--format json prints one JSON array with an object per file (header, calls,
status); --format ndjson prints one call object per line. Field names are
stable.

A damaged capture is shown as far as it can be read, then what was wrong is
printed on stderr and the exit status is 2. A capture that is intact but was
not stopped cleanly (no trailer, e.g. the recorder was killed) is shown with
a warning on stderr and exit status 0.`,
		Example: `  kexecrec show capture.krec
  kexecrec show --failed --syscall kexec_load capture.krec
  kexecrec show --since 10m --until 1h --comm kexec capture.krec
  kexecrec show --format ndjson capture.krec | jq .caller.exe
  kexecrec show --hexdump 64 --wide capture.krec`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.files = args
			return runShow(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.format, "format", "table", "output format: table, json or ndjson")
	fl.BoolVar(&opts.wide, "wide", false, "full SHA-256 values and one line per segment (wider than 80 columns)")
	fl.IntVar(&opts.hexdump, "hexdump", 0, "print the first `N` bytes of every payload (table format)")
	fl.BoolVar(&opts.noIdentify, "no-identify", false, "do not read payload bytes to say what they are")
	opts.filter.register(cmd)
	return cmd
}

func runShow(opts *showOptions) error {
	softMemoryLimit(showMemLimit)
	switch opts.format {
	case "table", "json", "ndjson":
	default:
		return trouble(fmt.Errorf("--format %q: want table, json or ndjson", opts.format))
	}
	if opts.hexdump < 0 || opts.hexdump > 1<<20 {
		return trouble(fmt.Errorf("--hexdump %d: want 0..1048576", opts.hexdump))
	}
	if opts.hexdump > 0 && opts.format != "table" {
		return trouble(errors.New("--hexdump needs --format table"))
	}
	flt, err := opts.filter.compile()
	if err != nil {
		return trouble(err)
	}
	out := bufio.NewWriterSize(opts.ios.Out, 64<<10)
	defer out.Flush()
	if opts.format == "json" {
		fmt.Fprintln(out, "[")
	}
	files, err := replay.ExpandPrefixes(opts.files) // s3://BUCKET/PREFIX/: every capture under it
	if err != nil {
		return trouble(err)
	}
	var bad []string
	for i, path := range files {
		ok, err := showFile(out, opts, flt, path, i)
		if err != nil {
			return trouble(err) // output itself failed
		}
		if !ok {
			bad = append(bad, path)
		}
	}
	if opts.format == "json" {
		fmt.Fprintln(out, "]")
	}
	if err := out.Flush(); err != nil {
		return trouble(err)
	}
	if len(bad) > 0 {
		// Each problem was already said on its own line: exit 2 without
		// repeating it.
		return &exitError{code: ExitTrouble}
	}
	return nil
}

// showFile prints one capture. ok is false when the file could not be read
// entirely; err only when writing the output failed.
func showFile(out *bufio.Writer, opts *showOptions, flt *compiled, path string, n int) (ok bool, err error) {
	errOut := opts.ios.ErrOut
	// Rendering keeps nothing of a call (Reuse) and, except for hex dumps,
	// which read payload bytes through the capture, runs while the next
	// calls are decoded on another goroutine (Pipelined).
	hexdumps := opts.format == "table" && opts.hexdump > 0
	c, oerr := replay.Open(path, replay.OpenOptions{Salvage: true, Identify: !opts.noIdentify,
		Reuse: true, Pipelined: !hexdumps})
	if oerr != nil {
		out.Flush()
		fmt.Fprintf(errOut, "kexecrec: %s\n", oneLine(oerr.Error()))
		if opts.format == "json" {
			sep := ""
			if n > 0 {
				sep = ","
			}
			b, _ := json.Marshal(map[string]any{"file": path, "error": oerr.Error(), "calls": []any{}})
			fmt.Fprintf(out, "%s%s\n", sep, b)
		}
		return false, nil
	}
	defer c.Close()
	h := c.Header()
	topts := replay.TableOptions{Wide: opts.wide, HexDump: opts.hexdump, Payload: c.Payload}
	shown, total := 0, 0
	first := true
	switch opts.format {
	case "table":
		replay.RenderHeader(out, path, h, topts)
		if rows := indexRows(path, flt, h); len(rows) > 0 {
			if err := replay.RenderIndex(out, rows, topts); err != nil {
				return false, err
			}
			fmt.Fprintln(out)
		}
	case "json":
		sep := ""
		if n > 0 {
			sep = ","
		}
		hb, _ := json.Marshal(replay.NewHeaderJSON(h))
		fmt.Fprintf(out, "%s{\"file\":%s,\"header\":%s,\"calls\":[\n", sep, jsonString(path), hb)
	}
	var werr error
	rerr := c.Calls(func(call *replay.Call) error {
		total++
		if !flt.match(call, h.WallStart, h.BootStartNS) {
			return nil
		}
		shown++
		switch opts.format {
		case "table":
			werr = replay.RenderTable(out, call, topts)
		case "ndjson":
			werr = replay.RenderJSON(out, call)
		case "json":
			if !first {
				out.WriteString(",")
			}
			first = false
			werr = replay.RenderJSON(out, call)
		}
		return werr
	})
	if werr != nil {
		return false, werr
	}
	_ = rerr // reported through Trouble below, with everything else
	damage, warnings := c.Trouble()
	switch opts.format {
	case "table":
		fmt.Fprintf(out, "%d of %d calls shown\n", shown, total)
		if len(damage) > 0 {
			fmt.Fprintln(out, "PARTIAL: the capture is damaged, see stderr")
		} else if !c.Status().Clean {
			fmt.Fprintln(out, "unclean stop: no trailer (see stderr)")
		}
	case "json":
		sb, _ := json.Marshal(replay.NewStatusJSON(c))
		fmt.Fprintf(out, "],\"shown\":%d,\"total\":%d,\"status\":%s}\n", shown, total, sb)
	}
	// Output first, then the diagnosis, so the two streams read in order.
	if err := out.Flush(); err != nil {
		return false, err
	}
	for _, d := range damage {
		fmt.Fprintf(errOut, "kexecrec: %s: DAMAGED: %s\n", path, oneLine(d))
	}
	for _, w := range warnings {
		fmt.Fprintf(errOut, "kexecrec: %s: warning: %s\n", path, oneLine(w))
	}
	return len(damage) == 0, nil
}

// maxIndexRows bounds the call index (it needs a first pass over the file
// and its rows in memory); longer captures get the details only.
const maxIndexRows = 5000

// indexRows reads the capture once, cheaply (no payload bytes), for the
// call index. Problems are left to the main pass, which reports them.
func indexRows(path string, flt *compiled, h format.Header) [][]string {
	c, err := replay.Open(path, replay.OpenOptions{Salvage: true, NoCmdline: true, Reuse: true, Pipelined: true})
	if err != nil {
		return nil
	}
	defer c.Close()
	var rows [][]string
	_ = c.Calls(func(call *replay.Call) error {
		if !flt.match(call, h.WallStart, h.BootStartNS) {
			return nil
		}
		if len(rows) == maxIndexRows {
			rows = nil
			return replay.ErrStop
		}
		rows = append(rows, replay.IndexRow(call))
		return nil
	})
	if len(rows) < 2 {
		return nil // one call: the details say it all
	}
	return rows
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var _ io.Writer = (*bufio.Writer)(nil)
