package replay

import (
	"encoding/hex"
	"fmt"
)

// Format 1.1 payloads name their blob by its piece list; their plain
// SHA-256 (what sha256sum prints) is computed here from the blob's bytes.

func blobID(blob string) ([32]byte, error) {
	var id [32]byte
	b, err := hex.DecodeString(blob)
	if err != nil || len(b) != 32 {
		return id, fmt.Errorf("payload blob %q: not a 32-byte hex id", blob)
	}
	copy(id[:], b)
	return id, nil
}

// payloadSHA256 is the SHA-256 of a blob's bytes (format 1.1 payloads name
// their blob by its piece list): computed once per blob from its checked
// pieces, through the index that has the blob.
func (c *Capture) payloadSHA256(blob string) (string, error) {
	id, err := blobID(blob)
	if err != nil {
		return "", err
	}
	ix := c.live
	if info, ok := ix.Blobs()[id]; !ok || !info.Present {
		if ix, err = c.index(); err != nil {
			return "", fmt.Errorf("payload index: %w", err)
		}
	}
	sum, err := ix.BlobSHA256(id)
	if err != nil {
		return "", fmt.Errorf("payload %s: %w", shortHash(blob, false), err)
	}
	return hex.EncodeToString(sum[:]), nil
}

// fillSHA256 gives every payload of call its SHA-256 from the bytes when
// its blob is named by its piece list (format 1.1): the PAYLOAD record
// then names only the blob, or (recorded for live consumers) carries a
// SHA-256 that is checked here, not trusted.
func (c *Capture) fillSHA256(call *Call) (filled bool) {
	for _, p := range call.Payloads {
		if p.Blob == "" || !p.listed && !c.listedBlob(p.Blob) {
			continue // format 1.0: the blob is named by its SHA-256
		}
		recorded := p.SHA256
		p.SHA256 = ""
		sum, err := c.payloadSHA256(p.Blob)
		if err != nil {
			call.Problems = append(call.Problems, fmt.Sprintf("%s %d: SHA-256 of the captured bytes: %v", p.Kind, p.Index, err))
			continue
		}
		if recorded != "" && recorded != sum {
			call.Problems = append(call.Problems, fmt.Sprintf("%s %d: the SHA-256 the recorder wrote is not that of the captured bytes",
				p.Kind, p.Index))
		}
		p.SHA256 = sum
		filled = true
	}
	return filled
}

// listedBlob reports whether the stream has read a blob map that names
// this blob by its piece list.
func (c *Capture) listedBlob(blob string) bool {
	id, err := blobID(blob)
	return err == nil && c.live.Blobs()[id].Ref.ListID
}
