package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/replay"
)

// attach is recorder.Attach; tests replace it with a fake source.
var attach = recorder.Attach

type recordOptions struct {
	IO *IOStreams

	Output       string
	Duration     time.Duration
	Count        uint64
	Snaplen      recByteSize
	NoPayload    bool
	RingSize     recByteSize
	RingWait     time.Duration
	RingWaitUnpr time.Duration
	Attach       string
	RotateSize   recByteSize
	RotateEvery  time.Duration
	MaxFiles     int
	MaxTotal     recByteSize
	MinFree      string
	KeepEvidence bool
	SignKey      string
	SealInterval time.Duration
	SealSize     recByteSize
	Fsync        bool
	JSON         bool
	Force        bool
	Verbose      bool
	MaxArgs      recByteSize
	Env          bool
	Upload       string
	UploadRetain string
	OnCall       string
	Syslog       string

	UnprivSnaplen   recByteSize
	UnprivRate      unprivRate
	UnprivTotalRate totalRate
	UnprivRingShare ringShare

	// ctx is the parent context (tests cancel it instead of sending a signal).
	ctx context.Context
}

func newRecordCmd(ios *IOStreams) *cobra.Command {
	opts := &recordOptions{IO: ios, SealSize: 1 << 20, MaxArgs: recorder.DefaultMaxArgs, KeepEvidence: true,
		UnprivSnaplen: recorder.DefaultUnprivilegedSnaplen, UnprivRate: defaultUnprivRate(),
		UnprivRingShare: recorder.DefaultUnprivilegedRingShare}
	cmd := &cobra.Command{
		Use:   "record -o FILE",
		Short: "Record every kexec_load and kexec_file_load call into a capture file",
		Long: `Record every kexec_load and kexec_file_load call on this machine (successful
or failed) with its caller, arguments, return value and the full bytes of every
segment, kernel and initrd, until interrupted (SIGINT/SIGTERM stop cleanly and
exit 0), --duration passes or --count calls completed. Needs root (CAP_BPF and
CAP_PERFMON, or CAP_SYS_ADMIN).

The capture is sealed in chunks at least every --seal-interval: after a crash
or kill -9 the file is valid up to its last sealed chunk. Files are created
mode 0600 and never overwritten without --force; --force replaces an existing
file (a symlink at the name is removed, never followed). "{start}" in FILE is
replaced by the start time (UTC, 20261203T143005Z): a service that restarts
begins a new set instead of colliding with the last one.

Rotation (like tcpdump -C/-G/-W): with --rotate-size and/or --rotate-every the
capture is a set of files FILE, FILE.1, FILE.2, ... each a complete capture
with its own header and trailer (same set id, part number = suffix). A new
file is only started between calls, so no call is split across files. With
--max-files N only the newest N files are kept. A rotating recording refuses
to start while FILE or any FILE.N exists (without --force).

Disk bound: --max-total SIZE bounds the total size of every part FILE names in
its directory, earlier "{start}" sets included (so disk stays bounded across
service restarts): the oldest parts are removed first, never the part being
written; with --keep-evidence (the default) a part holding a call the kernel
did not refuse with EPERM (a caller that may hold CAP_SYS_BOOT, or a call with
no exit) goes only after every part holding none. With --upload a part is
removed only once its upload is confirmed: when the bound can only be met by
removing parts not uploaded yet, nothing is removed, a warning says so once,
and stats and status line show over_max_total. The part being written notes
which parts were removed and why (summarize lists the notes).

Disk guard: below --min-free of free space on the output's filesystem (a size,
or a percentage of the filesystem; default 5% or 1G, whichever is smaller; 0 =
off) payload bytes are no longer written (the payloads say "disk-guard") while
every call is still recorded; a warning line says so. Below half of it the
recording stops: the file gets a note saying why, then its trailer, and record
exits 2 with a one-line error.

Time policy: the BPF programs copy segments at syscall entry, before the
kernel checks permissions, with preemption off or inside an RCU read section,
so each hook invocation (a call's entry with all its segments, each file
kexec_file_load reads, the exit) is bounded. For a caller that passes the
kernel's CAP_SYS_BOOT check (the capability, in the initial user namespace) it
may wait, in total, --ring-wait for the reader to free ring space (at most 10s;
0 = never wait); for any other caller, whose call the kernel will refuse,
--ring-wait-unprivileged (default: never), so no user can stall a CPU for long.
On top of its wait an invocation gets 5s for copying (100ms for the refused
caller). With one CPU online nobody waits (the reader could not run). A
payload cut by these bounds is marked truncated (ring-full or loop-limit),
never silently short; every file's header records the values in force and
the number of online CPUs.

Unprivileged policy: for a caller that fails the same CAP_SYS_BOOT check,
whose call the kernel refuses, BPF records the call, its caller and its
segment table, but at most --unprivileged-snaplen bytes of each payload
(default 64K; 0 = all), at most --unprivileged-rate payload bytes per uid
(RATE[/BURST]: default 1M/16M, 1 MiB per second with bursts of 16 MiB; BURST
defaults to 16 s of RATE; 0 = no bound), at most --unprivileged-total-rate
for all such uids together (default 4 times --unprivileged-rate: 4M/64M; 0 =
no bound), and nothing while the ring holds --unprivileged-ring-share of its
size (default 0.25; 0 = no cap). --unprivileged-snaplen 0 --unprivileged-rate 0
--unprivileged-ring-share 0 capture everything. What the policy cut is marked
truncated (reason policy) and counted (policy_calls, policy_bytes); the
header records the values.

Sizes take an optional suffix: K, M, G (powers of 1024, "KiB" etc. accepted).`,
		Example: `  sudo kexecrec record -o kexec.kxr
  sudo kexecrec record -o kexec.kxr --json > calls.ndjson
  sudo kexecrec record -o - --no-payload | ssh loghost 'cat > kexec.kxr'
  sudo kexecrec record -o kexec.kxr --rotate-size 1G --max-files 10 --sign-key recorder.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ctx == nil {
				opts.ctx = cmd.Context()
			}
			return runRecord(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "capture file to write (\"-\" = stdout)")
	f.DurationVar(&opts.Duration, "duration", 0, "stop after this long (0 = until interrupted)")
	f.Uint64Var(&opts.Count, "count", 0, "stop after this many completed calls (0 = no limit)")
	f.Var(&opts.Snaplen, "snaplen", "capture at most this many bytes of each payload (0 = all)")
	f.BoolVar(&opts.NoPayload, "no-payload", false, "record calls and payload sizes but not payload bytes")
	f.Var(&opts.RingSize, "ringbuf-size", fmt.Sprintf("BPF ring buffer size, a power of two (0 = %d MiB)", recorder.DefaultRingBytes>>20))
	f.DurationVar(&opts.RingWait, "ring-wait", recorder.DefaultRingWait, "total wait for ring space per hook invocation of a caller with CAP_SYS_BOOT (0 = never wait)")
	f.DurationVar(&opts.RingWaitUnpr, "ring-wait-unprivileged", recorder.DefaultRingWaitUnprivileged, "the same for callers without CAP_SYS_BOOT, whose calls the kernel refuses")
	f.Var(&opts.UnprivSnaplen, "unprivileged-snaplen", "capture at most this many bytes of each payload of a caller without CAP_SYS_BOOT (0 = all)")
	f.Var(&opts.UnprivRate, "unprivileged-rate", "payload bytes per second per uid for callers without CAP_SYS_BOOT, and the burst (0 = no bound)")
	f.Var(&opts.UnprivTotalRate, "unprivileged-total-rate", "payload bytes per second for all callers without CAP_SYS_BOOT together, and the burst (default: 4 times --unprivileged-rate; 0 = no bound)")
	f.Var(&opts.UnprivRingShare, "unprivileged-ring-share", "part of the ring the payloads of callers without CAP_SYS_BOOT may fill (0 = no cap)")
	f.StringVar(&opts.Attach, "attach", "auto", "attach mode: auto, fentry, kprobe, raw or lsm (fentry, else raw, with kexec_file_load's files read by the BPF-LSM hook)")
	f.Var(&opts.RotateSize, "rotate-size", "start a new file when the current one reaches this size")
	f.DurationVar(&opts.RotateEvery, "rotate-every", 0, "start a new file this often")
	f.IntVar(&opts.MaxFiles, "max-files", 0, "keep only the newest N files of a rotated set (0 = all)")
	f.Var(&opts.MaxTotal, "max-total", "bound the total size of the parts FILE names, earlier {start} sets included (oldest removed first; 0 = no bound)")
	f.StringVar(&opts.MinFree, "min-free", "", "disk guard: below this free space (SIZE or PERCENT of the filesystem; default 5% or 1G, whichever is smaller; 0 = off) payload bytes are held back, below half recording stops")
	f.BoolVar(&opts.KeepEvidence, "keep-evidence", true, "with --max-total, remove parts holding a call not refused with EPERM only after parts holding none")
	f.StringVar(&opts.SignKey, "sign-key", "", "Ed25519 private key (from 'kexecrec keygen') to sign each file's trailer")
	f.DurationVar(&opts.SealInterval, "seal-interval", time.Second, "seal pending records at least this often")
	f.Var(&opts.SealSize, "seal-size", "seal pending records at this many uncompressed bytes")
	f.BoolVar(&opts.Fsync, "fsync", false, "fsync the file after every sealed chunk")
	f.BoolVar(&opts.JSON, "json", false, "also print each completed call as a JSON line on stdout")
	f.BoolVar(&opts.Force, "force", false, "overwrite existing output files (regular files only)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "also print the full error behind each limitation (the capture header keeps it too)")
	f.Var(&opts.MaxArgs, "max-args", fmt.Sprintf("record at most this many bytes of the caller's argv (and environment), read at syscall entry (0 = %d, at most %d)", recorder.DefaultMaxArgs, recorder.MaxArgsLimit))
	f.BoolVar(&opts.Env, "env", false, "also record the caller's environment (bounded by --max-args)")
	f.StringVar(&opts.Upload, "upload", "", "upload each complete part to s3://BUCKET/PREFIX (credentials, region, endpoint: the standard AWS_* environment)")
	f.StringVar(&opts.UploadRetain, "upload-retain", "", "lock each uploaded part against deletion for this long (90d; the bucket needs object lock)")
	f.StringVar(&opts.OnCall, "on-call", "", "run this shell command for each completed call, the call's JSON on its stdin (4 at once, 30s each)")
	f.StringVar(&opts.Syslog, "syslog", "", "send an RFC 5424 message per call to the local syslog socket, or to --syslog=udp://HOST:PORT, tcp://HOST:PORT, unix:///PATH")
	f.Lookup("syslog").NoOptDefVal = syslogLocal
	cmd.MarkFlagRequired("output")
	return cmd
}

func runRecord(o *recordOptions) error {
	ios := o.IO
	softMemoryLimit(recordMemLimit)
	pattern := o.Output
	o.Output = recorder.ExpandOutputName(o.Output, time.Now())
	toStdout := o.Output == "-"
	switch {
	case o.Output == "":
		return trouble(errors.New("record: -o FILE is required"))
	case toStdout && ios.OutIsTerminal:
		return trouble(errors.New("record: refusing to write a binary capture to a terminal (redirect stdout or use -o FILE)"))
	case toStdout && o.JSON:
		return trouble(errors.New("record: --json prints on stdout, which cannot also carry the capture (-o -)"))
	case toStdout && (o.RotateSize > 0 || o.RotateEvery > 0 || o.MaxFiles > 0):
		return trouble(errors.New("record: rotation needs a file name, not -o -"))
	case o.MaxFiles < 0:
		return trouble(errors.New("record: --max-files must not be negative"))
	case o.MaxFiles > 0 && o.RotateSize == 0 && o.RotateEvery == 0:
		return trouble(errors.New("record: --max-files needs --rotate-size or --rotate-every"))
	case o.Duration < 0 || o.RotateEvery < 0 || o.SealInterval < 0:
		return trouble(errors.New("record: durations must not be negative"))
	}
	if err := o.checkMaxTotal(); err != nil {
		return trouble(err)
	}
	for _, w := range []struct {
		flag string
		d    time.Duration
	}{{"--ring-wait", o.RingWait}, {"--ring-wait-unprivileged", o.RingWaitUnpr}} {
		if w.d < 0 || w.d > recorder.MaxRingWait {
			return trouble(fmt.Errorf("record: %s %v: want 0 (never wait) to %v (BPF waits with preemption off or inside an RCU read section)", w.flag, w.d, recorder.MaxRingWait))
		}
	}
	switch {
	case o.SealSize > 64<<20:
		return trouble(errors.New("record: --seal-size above 64 MiB"))
	case o.RingSize > 1<<30:
		return trouble(errors.New("record: --ringbuf-size above 1 GiB"))
	case o.MaxArgs > recorder.MaxArgsLimit:
		return trouble(fmt.Errorf("record: --max-args %d: at most %d bytes", uint64(o.MaxArgs), recorder.MaxArgsLimit))
	}
	switch o.Attach {
	case recorder.ModeAuto, recorder.ModeFentry, recorder.ModeKprobe, recorder.ModeRaw, recorder.ModeLSM:
	default:
		return trouble(fmt.Errorf("record: --attach %q: want auto, fentry, kprobe, raw or lsm", o.Attach))
	}
	acfg := o.attachConfig()
	limits, err := acfg.TimeLimits()
	if err != nil {
		return trouble(fmt.Errorf("record: %s", strings.TrimPrefix(err.Error(), "recorder: ")))
	}

	var key ed25519.PrivateKey
	if o.SignKey != "" {
		k, err := format.LoadPrivateKey(o.SignKey)
		if err != nil {
			return trouble(fmt.Errorf("record: --sign-key: %w", err))
		}
		key = k
	}

	guard, err := o.diskGuard(ios.ErrOut)
	if err != nil {
		return trouble(fmt.Errorf("record: %v", err))
	}

	// The output exists, or the error is said, before anything is loaded
	// into the kernel.
	var sink recorder.Sink
	if toStdout {
		sink = &recorder.StreamSink{W: ios.Out, Label: "<stdout>"}
	} else {
		out, err := recorder.OpenOutput(recorder.OutputConfig{Base: o.Output, Force: o.Force, MaxFiles: o.sinkMaxFiles(),
			Rotating: o.RotateSize > 0 || o.RotateEvery > 0})
		if err != nil {
			return trouble(fmt.Errorf("record: %v", err))
		}
		defer out.Abandon() // removes the new, empty file if recording never starts
		if len(out.Replaced) > 0 {
			// Later parts are replaced (unlinked, never followed) when the
			// new set reaches their number; any beyond stay, with another set id.
			fmt.Fprintf(ios.ErrOut, "kexecrec: --force: will replace %s\n", recorder.ListNames(out.Replaced))
		}
		sink = out
	}
	shipping, err := o.setUpShipping(context.Background(), ios.ErrOut)
	if err != nil {
		return trouble(fmt.Errorf("record: %v", err))
	}
	alerts, err := o.setUpAlerts(ios.ErrOut)
	if err != nil {
		return trouble(fmt.Errorf("record: %v", err))
	}

	src, err := attach(acfg)
	if err != nil {
		return trouble(fmt.Errorf("record: %s", strings.TrimPrefix(err.Error(), "recorder: ")))
	}
	fileHook := recorder.FileHook(src)
	fmt.Fprintf(ios.ErrOut, "kexecrec: attach mode %s%s; recording to %s\n", src.Mode(), fileHookSuffix(fileHook), o.describeOutput())
	for _, l := range recorder.Limitations(src) {
		fmt.Fprintf(ios.ErrOut, "kexecrec: warning: %s\n", l.Plain)
		if o.Verbose && l.Detail != l.Plain {
			fmt.Fprintf(ios.ErrOut, "kexecrec:   because: %s\n", l.Detail)
		}
	}

	h := recorder.HostHeader(versionString())
	h.Options = o.headerOptions(limits)
	if fileHook != "" {
		h.Options["file_hook"] = fileHook
		h.Options["file_hook_order"] = recorder.FileHookOrder
	}
	if guard != nil {
		h.Options["min_free"] = strconv.FormatInt(guard.MinFree, 10)
	}
	wopts := format.WriterOptions{SealBytes: int(o.SealSize), SealInterval: o.SealInterval, SignKey: key}
	if o.Fsync {
		wopts.Sync = format.SyncOnSeal
	}
	cfg := recorder.Config{
		Source: src, Sink: sink, Header: h, Writer: wopts,
		Rotate:  recorder.Rotation{Size: int64(o.RotateSize), Every: o.RotateEvery},
		Count:   o.Count,
		Snaplen: uint64(o.Snaplen),
		Bound:   o.totalBound(pattern, ios.ErrOut),
		Guard:   guard,
	}
	var js *recordJSON
	if o.JSON {
		js = &recordJSON{out: ios.Out, errOut: ios.ErrOut}
		cfg.OnPart = js.part
		cfg.OnRecord = js.record
	}

	if shipping != nil {
		shipping.hook(&cfg)
		shipping.start()
	}
	if alerts != nil {
		alerts.hook(&cfg)
	}

	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}

	rec := recorder.New(cfg)
	var status *statusLine
	if ios.ErrIsTerminal {
		var extra func() string
		if shipping != nil {
			extra = shipping.statusText
		}
		status = startStatusLine(ios.ErrOut, rec, extra)
	}
	sum, err := rec.Run(ctx)
	if status != nil {
		status.stop()
	}
	if alerts != nil {
		alerts.finish()
	}
	if shipping != nil {
		shipping.finish()
	}
	if js != nil {
		js.flush()
	}
	if err != nil {
		var full *recorder.DiskFullError
		var guarded *recorder.DiskGuardError
		if errors.As(err, &guarded) {
			return trouble(fmt.Errorf("record: %v (%d calls recorded)", guarded, sum.CallsCompleted))
		}
		if errors.As(err, &full) {
			return trouble(fmt.Errorf("record: %v (%d calls recorded)", full, sum.CallsCompleted))
		}
		return trouble(fmt.Errorf("record: %s", strings.TrimPrefix(err.Error(), "recorder: ")))
	}
	files := strings.Join(sum.Files, ", ")
	fmt.Fprintf(ios.ErrOut, "kexecrec: %d calls recorded (%d seen entering), %s of payload, %d records dropped by BPF; wrote %s\n",
		sum.CallsCompleted, sum.CallsSeen, replay.HumanBytes(sum.PayloadBytes), sum.Dropped, files)
	return nil
}

func (o *recordOptions) describeOutput() string {
	if o.Output == "-" {
		return "<stdout>"
	}
	if o.RotateSize > 0 || o.RotateEvery > 0 {
		return o.Output + " (rotating: " + o.Output + ".1, " + o.Output + ".2, ...)"
	}
	return o.Output
}

// attachConfig is the BPF side of the options. A wait of 0 on the command
// line means no wait; AttachConfig spells that as negative (its 0 is the
// default).
func (o *recordOptions) attachConfig() recorder.AttachConfig {
	noZero := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	return recorder.AttachConfig{Mode: o.Attach, Snaplen: uint64(o.Snaplen), NoPayload: o.NoPayload, RingBytes: int(o.RingSize),
		RingWait: noZero(o.RingWait), RingWaitUnprivileged: noZero(o.RingWaitUnpr), MaxArgs: int(o.MaxArgs), Env: o.Env,
		Unprivileged: o.unprivilegedPolicy()}
}

// headerOptions are the recording settings written into every file's
// header, with the time policy as resolved (a reader explaining a payload
// cut by it needs the values, not the flags).
// fileHookSuffix names, after the attach mode, the hook kexec_file_load's
// files are read through when it is not the mode's own.
func fileHookSuffix(fileHook string) string {
	if fileHook == "" || fileHook == recorder.FileHookNone {
		return "" // a limitation line says why, or the kernel has no kexec
	}
	return ", kexec_file_load files via " + fileHook
}

func (o *recordOptions) headerOptions(limits recorder.TimeLimits) map[string]string {
	m := map[string]string{
		"ring_wait":               limits.Wait.String(),
		"ring_wait_unprivileged":  limits.WaitUnprivileged.String(),
		"time_limit":              limits.Limit.String(),
		"time_limit_unprivileged": limits.LimitUnprivileged.String(),
		"online_cpus":             strconv.Itoa(recorder.OnlineCPUs()),
		"attach":                  o.Attach,
		"snaplen":                 strconv.FormatUint(uint64(o.Snaplen), 10),
		"no_payload":              strconv.FormatBool(o.NoPayload),
		"max_args":                strconv.FormatUint(uint64(cmp.Or(o.MaxArgs, recorder.DefaultMaxArgs)), 10),
		"env":                     strconv.FormatBool(o.Env),
		"ringbuf_size":            strconv.FormatUint(uint64(o.RingSize), 10),
		"seal_interval":           o.SealInterval.String(),
		"seal_size":               strconv.FormatUint(uint64(o.SealSize), 10),
		"fsync":                   strconv.FormatBool(o.Fsync),
		"signed":                  strconv.FormatBool(o.SignKey != ""),
	}
	maps.Copy(m, o.unprivilegedPolicy().HeaderOptions())
	m["unprivileged_ring_share"] = o.UnprivRingShare.String()
	if o.RotateSize > 0 {
		m["rotate_size"] = strconv.FormatUint(uint64(o.RotateSize), 10)
	}
	if o.RotateEvery > 0 {
		m["rotate_every"] = o.RotateEvery.String()
	}
	if o.MaxFiles > 0 {
		m["max_files"] = strconv.Itoa(o.MaxFiles)
	}
	if o.MaxTotal > 0 {
		m["max_total"] = strconv.FormatUint(uint64(o.MaxTotal), 10)
		m["keep_evidence"] = strconv.FormatBool(o.KeepEvidence)
	}
	if o.Count > 0 {
		m["count"] = strconv.FormatUint(o.Count, 10)
	}
	if o.Duration > 0 {
		m["duration"] = o.Duration.String()
	}
	return m
}

// recordJSON prints calls as they complete, decoded by the same decoder the
// reading commands use, fed with exactly the records written to the file,
// and encoded by the same encoder as show --format ndjson.
type recordJSON struct {
	out, errOut io.Writer
	dec         *replay.Decoder
	failed      bool
}

func (j *recordJSON) part(h format.Header, _ string) {
	if j.dec == nil { // parts never split a call: one decoder serves the set
		j.dec = replay.NewDecoder(h)
	}
}

func (j *recordJSON) record(r format.Record) {
	if j.dec == nil || j.failed {
		return
	}
	calls, err := j.dec.Add(r)
	if err != nil {
		j.fail(err)
		return
	}
	j.print(calls)
}

// flush prints the calls still open when the recording stopped (outcome
// "unfinished"), so the JSON stream says what the file says.
func (j *recordJSON) flush() {
	if j.dec != nil && !j.failed {
		j.print(j.dec.Flush())
	}
}

func (j *recordJSON) print(calls []*replay.Call) {
	for _, c := range calls {
		if err := replay.RenderJSON(j.out, c); err != nil {
			j.fail(err)
			return
		}
	}
}

// fail stops the JSON output; recording goes on (the file is what matters).
func (j *recordJSON) fail(err error) {
	j.failed = true
	fmt.Fprintf(j.errOut, "kexecrec: warning: --json output stopped: %v (still recording)\n", err)
}

// statusRefresh is how often the status line is redrawn (tests shorten it).
var statusRefresh = 500 * time.Millisecond

// statusLine redraws one line on a terminal stderr about twice a second.
type statusLine struct {
	w     io.Writer
	rec   *recorder.Recorder
	extra func() string // more to say at the end of the line (nil: nothing)
	done  chan struct{}
	wg    sync.WaitGroup
}

func startStatusLine(w io.Writer, rec *recorder.Recorder, extra func() string) *statusLine {
	s := &statusLine{w: w, rec: rec, extra: extra, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(statusRefresh)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p := rec.Progress()
				extra := ""
				if s.extra != nil {
					extra = s.extra()
				}
				if p.OverMaxTotal > 0 {
					extra += "  over_max_total " + replay.HumanBytes(uint64(p.OverMaxTotal))
				}
				fmt.Fprintf(w, "\r\x1b[Kcalls %d  payload %s  drops %d  file %s (%s)%s",
					p.CallsCompleted, replay.HumanBytes(p.PayloadBytes), p.Dropped, p.File, replay.HumanBytes(uint64(max(p.Bytes, 0))), extra)
			case <-s.done:
				fmt.Fprint(w, "\r\x1b[K")
				return
			}
		}
	}()
	return s
}

func (s *statusLine) stop() {
	close(s.done)
	s.wg.Wait()
}

// recByteSize is a byte count flag with an optional K/M/G suffix (powers of 1024).
type recByteSize uint64

func (b *recByteSize) String() string { return strconv.FormatUint(uint64(*b), 10) }
func (b *recByteSize) Type() string   { return "bytes" }

func (b *recByteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = recByteSize(v)
	return nil
}

func parseByteSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift > 0 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v > (^uint64(0))>>shift {
		return 0, fmt.Errorf("invalid size %q (want a number of bytes, optionally with K, M or G)", s)
	}
	return v << shift, nil
}
