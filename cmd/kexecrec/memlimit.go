package main

import (
	"os"
	"runtime/debug"
)

// Soft heap limits. Every command keeps little live data (a chunk, the open
// calls or payload pieces), but it allocates fast, and on a busy machine the
// garbage collector falls behind and lets garbage pile up to several times
// the live heap. A soft limit makes it collect sooner. The reading commands
// promise < 64 MiB RSS, the recorder < 100 MiB (its ring buffer mapping
// counts too).
const (
	showMemLimit   = 32 << 20
	recordMemLimit = 48 << 20
)

// softMemoryLimit sets the limit unless GOMEMLIMIT says otherwise.
func softMemoryLimit(bytes int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(bytes)
	}
}
