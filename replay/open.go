package replay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify"
)

// OpenOptions say how much work Open and Calls do besides decoding.
type OpenOptions struct {
	// Salvage: read past damaged chunks (format.ReaderOptions.Salvage); the
	// damage is still reported by Trouble and Status.
	Salvage bool
	// Identify: say what every captured payload is (identify.Identify) and,
	// for kexec_load, recompute the purgatory digest. Reads payload bytes.
	Identify bool
	// IdentifyOptions bound identification (zero: identify's defaults).
	IdentifyOptions identify.Options
	// NoCmdline: do not read kexec_file_load command lines from their
	// payload blobs (they need the payload index: one extra pass over the file).
	NoCmdline bool
	// PublicKey checks the trailer's signature (format.ReaderOptions.PublicKey).
	PublicKey ed25519.PublicKey
	// Follow: keep reading as the file grows (like tail -f) until the
	// trailer is read or Context is done.
	Follow bool
	// Context stops a Follow (nil: never).
	Context context.Context
	// PollInterval is how often a Follow looks for new data (default 200 ms).
	PollInterval time.Duration
	// Reuse: the *Call passed to a Calls callback is valid only until the
	// callback returns; its memory then serves later calls. For consumers
	// that keep nothing of a call but copies of its values (show, summarize):
	// most of the decoder's allocation and garbage collection goes away.
	Reuse bool
	// Pipelined: Calls reads and decodes on another goroutine, ahead of the
	// callback (two cores: decoding overlaps with what the callback does).
	// The callback must not use the Capture (Payload, Stats ...) while
	// Calls runs. Ignored with Follow, which hands calls over as they come.
	Pipelined bool
	// Stdin serves the path "-" (StdinName): the capture is read from it
	// as it arrives, with a private copy for random access (see Stdin).
	Stdin *Stdin
	// HashFile: hash the file's bytes as the stream reads them, so that
	// its size and SHA-256 (FileSum) cost no read of their own. Ignored
	// with Follow and for standard input.
	HashFile bool
}

// Capture is an open capture file: its header, its calls (streamed through
// the Decoder), its status and random access to its payload bytes.
type Capture struct {
	path    string
	f       CaptureFile // nil for standard input
	ra      io.ReaderAt
	size    func() (int64, error)
	stdin   *Stdin
	opts    OpenOptions
	r       *format.Reader
	dec     *Decoder
	readErr error
	read    bool

	// fileHash hashes what the stream reads (OpenOptions.HashFile).
	fileHash *hashingReader
	// streamDone: the format reader returned its last record; streamErr
	// is what ended it early (nil at its end).
	streamDone bool
	streamErr  error

	// pending is a record read ahead (HeaderNotes), given to decode first.
	pending    *format.Record
	pendingErr error
	headNotes  int  // notes read before the first other record
	headerDone bool // headNotes is final

	// live serves the blobs the stream has passed (the recorder writes a
	// payload's blob before the record naming it); ix, a full pass over the
	// file, is built only for blobs the stream has not reached.
	live  *format.Index
	ix    *format.Index
	ixErr error
	ixAt  int64 // file size when ix was built (Follow re-indexes when it grew)

	purCache map[string]*identify.PurgatoryVerdict
	purKey   []byte // reused to build purCache keys
}

// Open opens a capture and reads its header. The error is one line that
// names the file.
func Open(path string, o OpenOptions) (*Capture, error) {
	if path == StdinName {
		return openStdin(o)
	}
	f, err := OpenFile(path) // a file, or an object in S3 (s3://BUCKET/KEY)
	if err != nil {
		return nil, err
	}
	if _, local := f.(*os.File); o.Follow && !local {
		f.Close()
		return nil, fmt.Errorf("%s: cannot follow a stored object", path)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	var src io.Reader = f
	var tail *tailReader
	if o.Follow {
		ctx := o.Context
		if ctx == nil {
			ctx = context.Background()
		}
		poll := o.PollInterval
		if poll <= 0 {
			poll = 200 * time.Millisecond
		}
		tail = &tailReader{f: f, ctx: ctx, poll: poll}
		src = tail
	}
	var fileHash *hashingReader
	if o.HashFile && !o.Follow {
		fileHash = newHashingReader(f)
		src = fileHash
	}
	// A follower reads what is there and then waits: no reading ahead.
	r, err := format.NewReader(src, format.ReaderOptions{Salvage: o.Salvage, PublicKey: o.PublicKey, IndexPieces: true,
		Prefetch: !o.Follow})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tail != nil {
		// The format reader peeks past the trailer to make sure nothing
		// follows it; a follower must not wait for bytes that never come.
		tail.done = func() bool { return r.Status().Clean }
	}
	size := func() (int64, error) {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	return &Capture{
		path:     path,
		f:        f,
		fileHash: fileHash,
		ra:       f,
		size:     size,
		opts:     o,
		r:        r,
		dec:      NewDecoder(r.Header()),
		live:     r.Index(f),
		purCache: make(map[string]*identify.PurgatoryVerdict),
	}, nil
}

// Path is the file name given to Open.
func (c *Capture) Path() string { return c.path }

// Header is the capture's header.
func (c *Capture) Header() format.Header { return c.r.Header() }

// Status is what the format reader checked (complete once Calls returned).
func (c *Capture) Status() format.Status { return c.r.Status() }

// Stats are the recorder's counters from the last STATS chunk read (nil when none).
func (c *Capture) Stats() format.Stats { return c.r.Stats() }

// DecodeStats are the decoder's counts.
func (c *Capture) DecodeStats() DecodeStats { return c.dec.Stats() }

// Decoder gives access to capture-level problems and notes.
func (c *Capture) Decoder() *Decoder { return c.dec }

// ReadErr is the error that stopped reading early (nil when the file was
// read to its end).
func (c *Capture) ReadErr() error { return c.readErr }

// Close stops the reading ahead and closes the file.
func (c *Capture) Close() error {
	c.r.Close()
	if c.f == nil {
		return nil // standard input's copy stays for another pass
	}
	return c.f.Close()
}

// ErrStop may be returned by a Calls callback to stop early without error.
var ErrStop = errors.New("stop")

// Calls streams every call in file order to fn: completed calls as their
// exit is read, then the unfinished ones. Memory stays bounded (one chunk
// plus the open calls). It returns the first error from fn (except ErrStop),
// or the format error that stopped reading: the calls before the damage
// have been passed to fn already. Calls reads the file once.
//
// With OpenOptions.Reuse a call is valid only until fn returns. With
// OpenOptions.Pipelined reading and decoding run on another goroutine,
// ahead of fn, and fn must not use the Capture.
func (c *Capture) Calls(fn func(*Call) error) error {
	if c.read {
		return errors.New("replay: Calls called twice")
	}
	c.read = true
	if c.opts.Pipelined && !c.opts.Follow {
		return c.pipelined(fn)
	}
	return c.decode(func(call *Call) error {
		err := fn(call)
		if c.opts.Reuse {
			c.dec.Release(call)
		}
		return err
	})
}

// decode reads every record and passes each decoded, enriched call to emit.
func (c *Capture) decode(emit func(*Call) error) error {
	emitAll := func(calls []*Call) error {
		for _, call := range calls {
			c.enrich(call)
			if err := emit(call); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		rec, err := c.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.readErr = err
			break
		}
		calls, err := c.dec.Add(rec)
		if err != nil {
			c.readErr = err
			break
		}
		if err := emitAll(calls); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	if err := emitAll(c.dec.Flush()); err != nil && err != ErrStop {
		return err
	}
	if c.readErr != nil {
		return fmt.Errorf("%s: %w", c.path, c.readErr)
	}
	return nil
}

// Pipelining: calls go from the decoding goroutine to fn in batches, so
// that the hand-over costs two channel operations per batch, not per call.
// Batches come back, with their calls when Reuse is set, for reuse.
const (
	pipeBatch   = 128
	pipeBatches = 4 // in flight: bounds memory to pipeBatch*pipeBatches calls
)

func (c *Capture) pipelined(fn func(*Call) error) (ferr error) {
	full := make(chan []*Call, pipeBatches)
	back := make(chan []*Call, pipeBatches+2)
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(full)
		var b []*Call
		take := func() {
			select {
			case used := <-back:
				if c.opts.Reuse {
					for _, call := range used {
						c.dec.Release(call)
					}
				}
				b = used[:0]
			default:
				b = make([]*Call, 0, pipeBatch)
			}
		}
		stopped := false
		send := func() {
			select {
			case full <- b:
			case <-stop:
				stopped = true
			}
		}
		take()
		err := c.decode(func(call *Call) error {
			select {
			case <-stop: // fn failed: decode no further
				stopped = true
				return ErrStop
			default:
			}
			b = append(b, call)
			if len(b) < pipeBatch {
				return nil
			}
			if send(); stopped {
				return ErrStop
			}
			take()
			return nil
		})
		// The last batch goes out whatever ended decoding: the calls read
		// before a read error are fn's too.
		if !stopped && len(b) > 0 {
			send()
		}
		errc <- err // decode returns nil for ErrStop
	}()
	// However this returns (fn's error, or a panic in fn), the decoding
	// goroutine is told to stop and waited for.
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
		}
		for range full {
		}
	}()
	for b := range full {
		for _, call := range b {
			if ferr == nil {
				if ferr = fn(call); ferr != nil {
					close(stop) // the decoder ends; keep draining until it does
					stopped = true
				}
			}
		}
		select {
		case back <- b:
		default:
		}
	}
	rerr := <-errc
	if ferr != nil {
		if ferr == ErrStop {
			return nil
		}
		return ferr
	}
	return rerr
}

// index opens the payload index on first use.
func (c *Capture) index() (*format.Index, error) {
	size, err := c.size()
	if err != nil {
		return nil, err
	}
	// Standard input's copy grows as it is read, like a followed file.
	growing := c.opts.Follow || c.stdin != nil
	if c.ix != nil && (!growing || size == c.ixAt) {
		return c.ix, nil
	}
	if c.ixErr != nil && !growing {
		return nil, c.ixErr
	}
	c.ix, c.ixErr = format.OpenIndex(c.ra, size, format.ReaderOptions{Salvage: true})
	c.ixAt = size
	return c.ix, c.ixErr
}

// Payload returns a reader of a payload's captured bytes by its blob id
// (hex, as in Payload.Blob). Bytes are checked against the piece ids as
// they are read.
func (c *Capture) Payload(blob string) (io.ReadCloser, error) {
	id, err := blobID(blob)
	if err != nil {
		return nil, err
	}
	if info, ok := c.live.Blobs()[id]; ok && info.Present {
		rc, _, err := c.live.Blob(id)
		if err != nil {
			return nil, fmt.Errorf("payload %s: %w", shortHash(blob, false), err)
		}
		return rc, nil
	}
	ix, err := c.index()
	if err != nil {
		return nil, fmt.Errorf("payload index: %w", err)
	}
	rc, _, err := ix.Blob(id)
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", shortHash(blob, false), err)
	}
	return rc, nil
}

// maxCmdline caps the command line read back from a blob (the kernel's
// COMMAND_LINE_SIZE is at most 4096 on x86 and 2048 on arm64).
const maxCmdline = 64 << 10

// enrich adds what needs payload bytes: the kexec_file_load command line,
// identification and the purgatory verdict. Failures become problems.
func (c *Capture) enrich(call *Call) {
	if c.fillSHA256(call) {
		// Format 1.1 names payloads by their piece lists: the read-back's
		// verdicts compare SHA-256s, known only now.
		judgeLoaded(call)
	}
	if !c.opts.NoCmdline && call.Cmdline == nil {
		for _, p := range call.Payloads {
			if p.Kind != "cmdline" || p.Blob == "" {
				continue
			}
			rc, err := c.Payload(p.Blob)
			if err != nil {
				call.Problems = append(call.Problems, "cmdline: "+err.Error())
				break
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxCmdline))
			rc.Close()
			if err != nil {
				call.Problems = append(call.Problems, "cmdline: "+err.Error())
				break
			}
			s := string(bytes.TrimRight(b, "\x00"))
			call.Cmdline = &s
			break
		}
	}
	c.locateDifferences(call)
	if !c.opts.Identify {
		return
	}
	if !needsPayloadBytes(call) {
		// Most calls of a large capture: nothing to spool or identify, so
		// none of the machinery below (it escapes to the heap) per call.
		c.checkPurgatory(call, nil)
		return
	}
	spools := map[string]*spooled{}
	defer func() {
		for _, s := range spools {
			s.Close()
		}
	}()
	// get spools a payload's bytes; the payload index is not safe for
	// concurrent use, so the identifications below take turns here.
	var spoolMu sync.Mutex
	get := func(p *Payload) (*spooled, error) {
		spoolMu.Lock()
		defer spoolMu.Unlock()
		if s, ok := spools[p.SHA256]; ok {
			return s, nil
		}
		rc, err := c.Payload(p.Blob)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		s, err := spool(rc)
		if err != nil {
			return nil, err
		}
		spools[p.SHA256] = s
		return s, nil
	}
	// The call's payloads are identified in parallel, each distinct one
	// once per run (identify.Shared, by SHA-256); identify bounds how many
	// decompress at once.
	errs := make([]error, len(call.Payloads))
	var wg sync.WaitGroup
	for i, p := range call.Payloads {
		if p.SHA256 == "" || p.Captured == 0 {
			continue
		}
		wg.Go(func() {
			p.Identity, errs[i] = identify.Shared.Identify(p.SHA256, c.opts.IdentifyOptions, func() (io.ReaderAt, int64, error) {
				s, err := get(p)
				if err != nil {
					return nil, 0, err
				}
				return s, s.size, nil
			})
		})
	}
	// The purgatory digest (it hashes every segment's memory) is computed
	// while the identifications run.
	c.checkPurgatory(call, get)
	wg.Wait()
	checkDTBInitrd(call)
	for i, err := range errs {
		if err != nil {
			p := call.Payloads[i]
			call.Problems = append(call.Problems, fmt.Sprintf("identify %s %d: %v", p.Kind, p.Index, err))
		}
	}
}

// needsPayloadBytes says whether identifying a call's payloads or its
// purgatory digest reads payload bytes: some payload was captured.
func needsPayloadBytes(call *Call) bool {
	for _, p := range call.Payloads {
		if p.SHA256 != "" && p.Captured > 0 {
			return true
		}
	}
	for _, s := range call.Segments {
		if s.Payload != nil && s.Payload.SHA256 != "" && s.Payload.Captured > 0 {
			return true
		}
	}
	return false
}

// checkPurgatory sets the purgatory verdict of a kexec_load call; get
// spools a segment's captured bytes (nil: no segment has any).
func (c *Capture) checkPurgatory(call *Call, get func(*Payload) (*spooled, error)) {
	if call.Syscall != "kexec_load" || len(call.Segments) == 0 || call.Args.Entry == nil {
		return
	}
	// The verdict depends on the entry point and on where each segment's
	// bytes go: computed once per distinct key (built without fmt: this
	// runs for every call).
	key := strconv.AppendUint(c.purKey[:0], *call.Args.Entry, 16)
	for _, s := range call.Segments {
		key = append(key, '|')
		key = strconv.AppendUint(key, s.Mem, 16)
		key = append(key, ',')
		key = strconv.AppendUint(key, s.MemSz, 16)
		key = append(key, ',')
		if s.Payload != nil {
			key = append(key, s.Payload.SHA256...)
		}
	}
	c.purKey = key
	if v, ok := c.purCache[string(key)]; ok {
		call.Purgatory = v
		return
	}
	segs := make([]identify.Segment, 0, len(call.Segments))
	for _, s := range call.Segments {
		is := identify.Segment{Index: s.Index, Mem: s.Mem, MemSz: s.MemSz}
		if get != nil && s.Payload != nil && s.Payload.SHA256 != "" && s.Payload.Captured > 0 {
			if sp, err := get(s.Payload); err == nil {
				is.Data, is.Size = sp, sp.size
			}
		}
		segs = append(segs, is)
	}
	v := identify.CheckPurgatory(segs, *call.Args.Entry)
	call.Purgatory = &v
	if len(c.purCache) > 1024 {
		clear(c.purCache)
	}
	c.purCache[string(key)] = &v
}
