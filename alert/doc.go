// Package alert tells someone the moment a kexec call completes: it runs a
// command with the call's JSON on stdin (--on-call) and sends an RFC 5424
// syslog message with the call in structured data (--syslog).
//
// Nothing here may hold up the recorder: Notify only puts the call on a
// bounded queue (a full queue drops the alert and counts it; the capture
// file still has the call), workers do the rest with bounded concurrency and
// a time limit per alert, and failures are logged, one line each.
package alert

import (
	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/replay"
)

// Event is one completed call with what the alert needs about the host.
type Event struct {
	Call   *replay.Call
	JSON   []byte // the call as record --json prints it, newline-terminated
	Header format.Header
}
