package recorder

import (
	"strings"
	"time"
)

// StartPlaceholder in an output name is replaced by the recording's start
// time (UTC, 20261203T143005Z). A service that restarts then begins a new
// capture set beside the earlier ones instead of refusing to start on them
// (they are evidence: never overwritten) or needing --force.
const StartPlaceholder = "{start}"

// ExpandOutputName replaces every StartPlaceholder in name with t.
func ExpandOutputName(name string, t time.Time) string {
	if !strings.Contains(name, StartPlaceholder) {
		return name
	}
	return strings.ReplaceAll(name, StartPlaceholder, t.UTC().Format("20060102T150405Z"))
}
