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
}

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
	// Loaded: the segments the kernel staged, read back at the exit;
	// LoadedBytes holds the bytes of the small read-back copies (boot
	// parameters, setup data: at most maxKeptLoaded) by segment index.
	Loaded      []layout.Loaded
	LoadedBytes map[uint16][]byte
	// LoadedEndNS is the time of the read-back's last PAYLOAD_END: the
	// read-back ran from the exit's time (taken as the exit hook starts)
	// to this.
	LoadedEndNS uint64
}

// maxKeptLoaded bounds the read-back copies ReadCapture keeps in memory.
const maxKeptLoaded = 64 << 10

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
	for _, cc := range c.Calls {
		for _, p := range cc.Payloads {
			b, err := checkBlob(ix, p)
			if err != nil {
				return nil, fmt.Errorf("%s: call %d payload kind %d index %d: %v", path, cc.ID, p.Kind, p.Index, err)
			}
			if b != nil && p.Kind == layout.KindLoaded {
				if cc.LoadedBytes == nil {
					cc.LoadedBytes = map[uint16][]byte{}
				}
				cc.LoadedBytes[p.Index] = b
			}
		}
	}
	return c, nil
}

// checkBlob re-hashes p's blob; it returns the bytes of a small one
// (at most maxKeptLoaded).
func checkBlob(ix *format.Index, p layout.Payload) ([]byte, error) {
	var sum [32]byte
	b, err := hex.DecodeString(p.SHA256)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("bad sha256 %q", p.SHA256)
	}
	copy(sum[:], b)
	if p.Captured == 0 {
		if sum != sha256.Sum256(nil) {
			return nil, fmt.Errorf("empty payload with sha256 %s", p.SHA256)
		}
		return nil, nil
	}
	rc, _, err := ix.Blob(sum)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := sha256.New()
	var kept bytes.Buffer
	w := io.Writer(h)
	if p.Captured <= maxKeptLoaded {
		w = io.MultiWriter(h, &kept)
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
	if p.Captured <= maxKeptLoaded {
		return kept.Bytes(), nil
	}
	return nil, nil
}

// Sha256Hex is the hex SHA-256 of b.
func Sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
