package vmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay/identify/fdt"
)

// Capture is a capture file decoded with format and bpf/layout directly
// (independently of replay and of `kexecrec show`), so the bed checks the
// recorder against the raw contract.
type Capture struct {
	Header format.Header
	Status format.Status
	Stats  format.Stats
	Calls  []*CapCall // in order of their ENTER record
	Notes  []layout.Note
	// Blobs are the bytes of the payloads up to smallBlob bytes, by
	// SHA-256 (a device tree, a command line), for checks on their content.
	Blobs map[string][]byte
}

// smallBlob is the largest payload ReadCapture keeps in Capture.Blobs.
const smallBlob = 4 << 20

// CapCall is everything recorded for one call id.
type CapCall struct {
	ID       uint64
	Enter    *layout.Enter
	Segments *layout.Segments
	Exit     *layout.Exit
	Files    []layout.File
	Payloads []layout.Payload
	Process  *layout.Process
	// Caller and Argv are read by BPF at syscall entry; Env only with
	// record --env. Records counts them, so a duplicate is seen.
	Caller    *layout.Caller
	Argv, Env *layout.Args
	Records   map[uint16]int
	// Loaded: the segments the kernel staged, read back at the exit (their
	// small copies' bytes: loadedBytes).
	Loaded []layout.Loaded
	// LoadedEndNS is the time of the read-back's last PAYLOAD_END: the
	// read-back ran from the exit's time (taken as the exit hook starts)
	// to this.
	LoadedEndNS uint64
}

// maxKeptLoaded is the largest read-back copy loadedBytes gives: boot
// parameters and setup data, not the kernel or initrd.
const maxKeptLoaded = 64 << 10

// loadedBytes is the read-back copy of segment idx when it is at most
// maxKeptLoaded bytes (ReadCapture keeps it in blobs), else nil.
func loadedBytes(cc *CapCall, blobs map[string][]byte, idx uint16) []byte {
	for _, p := range cc.Payloads {
		if p.Kind == layout.KindLoaded && p.Index == idx && p.Captured <= maxKeptLoaded {
			return blobs[p.SHA256]
		}
	}
	return nil
}

// ReadCapture decodes a capture and re-hashes every payload blob through
// the format's random-access index: a payload's recorded SHA-256 must be the
// hash of the bytes actually stored.
func ReadCapture(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{SkipBlobData: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	c := &Capture{Header: r.Header()}
	var bo binary.ByteOrder = binary.LittleEndian
	if c.Header.ByteOrder == "big" {
		bo = binary.BigEndian
	}
	byID := map[uint64]*CapCall{}
	call := func(id uint64) *CapCall {
		cc := byID[id]
		if cc == nil {
			cc = &CapCall{ID: id, Records: map[uint16]int{}}
			byID[id] = cc
			c.Calls = append(c.Calls, cc)
		}
		return cc
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		switch rec.Type {
		case layout.RecEnter:
			e, err := layout.ParseEnter(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			call(e.CallID).Enter = &e
		case layout.RecSegments:
			s, err := layout.ParseSegments(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			call(s.CallID).Segments = &s
		case layout.RecExit:
			x, err := layout.ParseExit(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			call(x.CallID).Exit = &x
		case layout.RecPayloadEnd:
			e, err := layout.ParsePayloadEnd(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			if cc := call(e.CallID); e.Source == layout.SrcKernelPages && e.TimeNS > cc.LoadedEndNS {
				cc.LoadedEndNS = e.TimeNS
			}
		case layout.RecLoaded:
			l, err := layout.ParseLoaded(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			cc := call(l.CallID)
			cc.Loaded = append(cc.Loaded, l)
		case layout.RecFile:
			fl, err := layout.ParseFile(rec.Data, bo)
			if err != nil {
				return nil, err
			}
			cc := call(fl.CallID)
			cc.Files = append(cc.Files, fl)
		case layout.RecPayload:
			var p layout.Payload
			if err := json.Unmarshal(rec.Data, &p); err != nil {
				return nil, fmt.Errorf("payload record: %v", err)
			}
			cc := call(p.CallID)
			cc.Payloads = append(cc.Payloads, p)
		case layout.RecProcess:
			var p layout.Process
			if err := json.Unmarshal(rec.Data, &p); err != nil {
				return nil, fmt.Errorf("process record: %v", err)
			}
			call(p.CallID).Process = &p
		case layout.RecCaller:
			k, err := layout.ParseCaller(rec.Data, bo)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			cc := call(k.CallID)
			cc.Caller = &k
			cc.Records[rec.Type]++
		case layout.RecArgs:
			a, err := layout.ParseArgs(rec.Data, bo)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			a.Data = slices.Clone(a.Data) // it aliases the reader's buffer
			cc := call(a.CallID)
			if a.Kind == layout.ArgsEnv {
				cc.Env = &a
			} else {
				cc.Argv = &a
			}
			cc.Records[rec.Type]++
		case layout.RecNote:
			var n layout.Note
			if err := json.Unmarshal(rec.Data, &n); err == nil {
				c.Notes = append(c.Notes, n)
			}
		case layout.RecPiece:
			return nil, fmt.Errorf("%s: a PIECE record was stored (the contract says never)", path)
		}
	}
	c.Status = r.Status()
	c.Stats = r.Stats()

	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ix, err := format.OpenIndex(f, st.Size(), format.ReaderOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: index: %v", path, err)
	}
	c.Blobs = map[string][]byte{}
	for _, cc := range c.Calls {
		for i := range cc.Payloads {
			p := &cc.Payloads[i] // checkBlob fills a 1.1 payload's SHA-256
			data, err := checkBlob(ix, p)
			if err != nil {
				return nil, fmt.Errorf("%s: call %d payload kind %d index %d: %v", path, cc.ID, p.Kind, p.Index, err)
			}
			if data != nil {
				c.Blobs[p.SHA256] = data
			}
		}
	}
	return c, nil
}

// checkBlob re-hashes a payload's stored bytes and returns them when they
// are at most smallBlob bytes. The blob is named by its SHA-256 (format
// 1.0) or by its piece list (1.1: the SHA-256 is then the bytes', as
// readers compute it, and checkBlob fills it in).
func checkBlob(ix *format.Index, p *layout.Payload) ([]byte, error) {
	b, err := hex.DecodeString(p.BlobID())
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("bad blob id %q", p.BlobID())
	}
	id := [32]byte(b)
	if p.Blob != "" {
		sum, err := ix.BlobSHA256(id)
		if err != nil {
			return nil, err
		}
		if p.SHA256 != "" && p.SHA256 != hex.EncodeToString(sum[:]) {
			return nil, fmt.Errorf("payload says sha256 %s, its blob's bytes hash to %x", p.SHA256, sum)
		}
		p.SHA256 = hex.EncodeToString(sum[:])
	}
	if p.Captured == 0 {
		if p.SHA256 != emptySHA256 {
			return nil, fmt.Errorf("empty payload with sha256 %s", p.SHA256)
		}
		return nil, nil
	}
	rc, _, err := ix.Blob(id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := sha256.New()
	var keep bytes.Buffer
	w := io.Writer(h)
	if p.Captured <= smallBlob {
		w = io.MultiWriter(h, &keep)
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return nil, err
	}
	if uint64(n) != p.Captured {
		return nil, fmt.Errorf("blob holds %d bytes, payload says %d captured", n, p.Captured)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return nil, fmt.Errorf("blob bytes hash to %s, payload says %s", got, p.SHA256)
	}
	if p.Captured <= smallBlob {
		return keep.Bytes(), nil
	}
	return nil, nil
}

// dtbProblem checks the call's device tree segment (arm64): one segment
// parses as a flattened device tree whose /chosen bootargs is exactly
// cmdline and whose linux,initrd-start/end span exactly the segment that
// holds the initrd (start = its destination, length = its buffer size, as
// kexec-tools writes them). It returns "" when that holds.
func dtbProblem(cc *CapCall, blobs map[string][]byte, cmdline, initrdSHA string) string {
	if cc.Segments == nil {
		return "no SEGMENTS record"
	}
	var initrd *layout.Segment
	for _, p := range cc.Payloads {
		if p.Kind == layout.KindSegment && p.SHA256 == initrdSHA && int(p.Index) < len(cc.Segments.Segs) {
			initrd = &cc.Segments.Segs[p.Index]
		}
	}
	problem := "no segment is a device tree"
	for _, p := range cc.Payloads {
		d := blobs[p.SHA256]
		if p.Kind != layout.KindSegment || d == nil {
			continue
		}
		tree, err := fdt.Parse(d)
		if err != nil {
			continue
		}
		if got, _ := tree.Bootargs(); got != cmdline {
			problem = fmt.Sprintf("device tree in segment %d: bootargs %q, want %q", p.Index, got, cmdline)
			continue
		}
		start, end, ok, err := tree.InitrdRange()
		switch {
		case err != nil || !ok:
			return fmt.Sprintf("device tree in segment %d: no initrd range (%v)", p.Index, err)
		case initrd == nil:
			return "no segment holds the initrd"
		case start != initrd.Mem || end != initrd.Mem+initrd.BufSz:
			return fmt.Sprintf("device tree in segment %d: initrd %#x-%#x, the initrd segment is %#x+%#x", p.Index, start, end, initrd.Mem, initrd.BufSz)
		}
		return ""
	}
	return problem
}

// Sha256Hex is the hex SHA-256 of b.
func Sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// emptySHA256 is the SHA-256 of no bytes.
var emptySHA256 = fmt.Sprintf("%x", sha256.Sum256(nil))
