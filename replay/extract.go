package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"syscall"
)

// ManifestEntry describes one extracted payload file.
type ManifestEntry struct {
	File     string   `json:"file"` // name inside the directory ("" when not written)
	SHA256   string   `json:"sha256"`
	Size     uint64   `json:"size"`     // bytes written (= captured)
	Total    uint64   `json:"total"`    // original length
	Complete bool     `json:"complete"` // every byte of the original was captured
	Reasons  []string `json:"reasons,omitempty"`
	Missing  []Range  `json:"missing,omitempty"` // not captured: zero-filled in the file below Captured, absent past it
	Verified bool     `json:"verified"`          // re-hashed while writing and equal to sha256
	Error    string   `json:"error,omitempty"`
	Origin   Origin   `json:"origin"`
}

// Origin says where in the capture a payload came from.
type Origin struct {
	CallID  uint64 `json:"call_id"`
	Syscall string `json:"syscall"`
	Kind    string `json:"kind"`
	Index   int    `json:"index"`
	Source  string `json:"source"`
	PID     uint32 `json:"pid"`
	Comm    string `json:"comm"`
}

// Manifest is manifest.json.
type Manifest struct {
	Capture string          `json:"capture"`
	FileID  string          `json:"file_id"`
	Files   []ManifestEntry `json:"files"`
}

// ManifestName is the manifest's file name inside the directory.
const ManifestName = "manifest.json"

// Extractor writes payloads into one directory. Every file is created
// through an os.Root (no path can leave the directory, symlinks included)
// with O_EXCL|O_NOFOLLOW, and names are made only from numbers, the
// decoder's own kind words and hex digits: nothing from capture strings.
type Extractor struct {
	root  *os.Root
	force bool
	m     Manifest
}

// NewExtractor opens (creating it if needed) dir. With force, existing files
// of the same names are replaced (the entries themselves, never what a
// symlink points at).
func NewExtractor(dir string, force bool) (*Extractor, error) {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Extractor{root: root, force: force, m: Manifest{Files: []ManifestEntry{}}}, nil
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validKind: the decoder's kind words ("segment", "kind-7" ...): letters, digits, '-'.
var validKind = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// FileName is the name a payload gets: <call-id>-<kind><index>-<sha12>.bin.
func FileName(call *Call, p *Payload) string {
	kind := p.Kind
	if !validKind.MatchString(kind) {
		kind = "payload"
	}
	sha := "nohash000000"
	if hexSHA.MatchString(p.SHA256) {
		sha = p.SHA256[:shortHashLen]
	}
	return strconv.FormatUint(call.ID, 10) + "-" + kind + strconv.Itoa(p.Index) + "-" + sha + ".bin"
}

func (x *Extractor) create(name string) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL | syscall.O_NOFOLLOW
	f, err := x.root.OpenFile(name, flags, 0o644)
	if err != nil && x.force && errors.Is(err, fs.ErrExist) {
		// Remove the entry itself (a planted symlink goes, its target stays).
		if rerr := x.root.Remove(name); rerr != nil {
			return nil, rerr
		}
		f, err = x.root.OpenFile(name, flags, 0o644)
	}
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists (use --force to replace it)", name)
	}
	return f, err
}

// Extract writes every payload of a call; open reads a payload's bytes.
// Errors are recorded in the manifest entries; the returned count is the
// number of payloads that could not be written or did not verify.
func (x *Extractor) Extract(call *Call, open func(sha string) (io.ReadCloser, error)) int {
	bad := 0
	for _, p := range call.Payloads {
		e := ManifestEntry{
			SHA256: p.SHA256, Total: p.Total, Complete: p.Complete, Reasons: p.Reasons, Missing: p.Missing,
			Origin: Origin{CallID: call.ID, Syscall: call.Syscall, Kind: p.Kind, Index: p.Index, Source: p.Source,
				PID: call.Caller.PID, Comm: call.Caller.Comm},
		}
		if err := x.write(&e, call, p, open); err != nil {
			e.Error = err.Error()
			bad++
		}
		x.m.Files = append(x.m.Files, e)
	}
	return bad
}

func (x *Extractor) write(e *ManifestEntry, call *Call, p *Payload, open func(string) (io.ReadCloser, error)) error {
	if !hexSHA.MatchString(p.SHA256) {
		return fmt.Errorf("payload has no valid SHA-256 (%q): bytes not in the capture", p.SHA256)
	}
	rc, err := open(p.Blob)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := FileName(call, p)
	f, err := x.create(name)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	e.File, e.Size = name, uint64(n)
	if err != nil {
		return fmt.Errorf("%s: written %d bytes, then: %w", name, n, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != p.SHA256 {
		return fmt.Errorf("%s: bytes hash to %s, the capture says %s", name, got, p.SHA256)
	}
	if uint64(n) != p.Captured {
		return fmt.Errorf("%s: %d bytes, the capture says %d were captured", name, n, p.Captured)
	}
	e.Verified = true
	return nil
}

// Close writes manifest.json (capture path and file id given) and closes the directory.
func (x *Extractor) Close(capture, fileID string) error {
	defer x.root.Close()
	x.m.Capture, x.m.FileID = capture, fileID
	b, err := json.MarshalIndent(x.m, "", "  ")
	if err != nil {
		return err
	}
	f, err := x.create(ManifestName)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Manifest returns what was extracted so far.
func (x *Extractor) Manifest() Manifest { return x.m }
