package format

import (
	"errors"
	"fmt"
)

// Sentinel errors; a *FormatError wraps one of them (errors.Is works).
var (
	ErrHeader    = errors.New("invalid chunk header")       // bad magic, CRC or impossible sizes
	ErrChecksum  = errors.New("body hash mismatch")         // body SHA-256 or zstd checksum wrong
	ErrChain     = errors.New("hash chain broken")          // chain value does not follow
	ErrSequence  = errors.New("chunk sequence gap")         // seq not previous+1
	ErrTooLarge  = errors.New("size over limit")            // declared size above MaxChunk
	ErrTruncated = errors.New("truncated")                  // file ends inside a chunk
	ErrCritical  = errors.New("unknown critical type")      // must not be skipped
	ErrVersion   = errors.New("unsupported format version") // major version unknown
	ErrSignature = errors.New("signature invalid")
	ErrNoHeader  = errors.New("not a kexecrec capture")
)

// FormatError says what is wrong and where (byte offset in the file).
type FormatError struct {
	Off int64
	Err error  // one of the sentinels
	Msg string // detail
}

func (e *FormatError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("kexecrec capture: offset %d: %v", e.Off, e.Err)
	}
	return fmt.Sprintf("kexecrec capture: offset %d: %v: %s", e.Off, e.Err, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }
