package replay

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// ExtractResult is what ExtractFile did (the JSON document of extract).
type ExtractResult struct {
	Capture  string   `json:"capture"`
	Dir      string   `json:"dir"`
	Manifest string   `json:"manifest"` // path of manifest.json
	Calls    int      `json:"calls"`
	Written  int      `json:"written"` // payload files written and verified
	Failed   int      `json:"failed"`  // payloads that could not be written or did not verify
	Damage   []string `json:"damage"`  // the capture could not be read entirely: extraction is partial
	Warnings []string `json:"warnings"`
	// ProblemKind says what Damage is: "damage" of the capture, or "input"
	// (standard input cut at the limit on its copy).
	ProblemKind string `json:"-"`
	// Entries lists every payload with where it went (manifest.json's files).
	Entries []ManifestEntry `json:"-"`
}

// ExtractFile writes every captured payload of the capture at path into
// dir, with manifest.json (see Extractor). A payload that fails is counted
// and described in its entry; the error is only for a capture that cannot
// be opened, a directory that cannot be used or a manifest that cannot be
// written.
func ExtractFile(path, dir string, force bool, stdin *Stdin) (*ExtractResult, error) {
	c, err := Open(path, OpenOptions{Salvage: true, NoCmdline: true, Stdin: stdin})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	x, err := NewExtractor(dir, force)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	res := &ExtractResult{Capture: path, Dir: dir, Manifest: filepath.Join(dir, ManifestName)}
	_ = c.Calls(func(call *Call) error { // read errors come back through Trouble
		res.Calls++
		res.Failed += x.Extract(call, c.Payload)
		return nil
	})
	res.Entries = x.Manifest().Files
	for _, e := range res.Entries {
		if e.Error == "" {
			res.Written++
		}
	}
	h := c.Header()
	if err := x.Close(path, hex.EncodeToString(h.FileID[:])); err != nil {
		return nil, fmt.Errorf("extract: %s: %w", ManifestName, err)
	}
	res.Damage, res.Warnings = c.Trouble()
	res.ProblemKind = c.ProblemKind()
	if res.Damage == nil {
		res.Damage = []string{}
	}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	return res, nil
}
