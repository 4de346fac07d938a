// Package replay turns a capture's raw records back into kexec calls. The
// live `record --json` output and every reading command use this one decoder.
//
// # Decoding records (live or from a file)
//
//	d := replay.NewDecoder(hdr)          // format.Header: byte order, layout, time pair
//	calls, err := d.Add(rec)             // one format.Record at a time, in file order
//	rest := d.Flush()                    // calls with no exit, Outcome "unfinished"
//	d.Stats(); d.Problems(); d.Notes()   // counts, capture-level problems, recorder notes
//
// Add returns the calls a record completed (a call is complete when its EXIT
// record arrives). Its error is only ErrLayout (byte order or record layout
// this decoder cannot read); damaged, unknown, orphan and late records are
// counted in DecodeStats and described in Call.Problems or Decoder.Problems,
// never a panic. At most MaxOpenCalls calls are kept open.
//
// # Reading a capture file
//
//	c, err := replay.Open(path, replay.OpenOptions{Salvage: true, Identify: true})
//	defer c.Close()
//	c.Header()                           // format.Header
//	err = c.Calls(func(call *replay.Call) error { ...; return nil })  // streaming, bounded memory
//	c.Status()                           // format.Status (complete after Calls)
//	c.Stats()                            // format.Stats: the recorder's counters
//	c.DecodeStats()                      // decoder counts
//	damage, warnings := c.Trouble()      // one line each; damage => exit ExitTrouble
//	rc, err := c.Payload(sha)            // payload bytes by hex SHA-256 (lazy index)
//
// Calls returns the format error that stopped reading (after passing every
// call read before it), or nil. With OpenOptions.Identify each payload gets
// Payload.Identity and each kexec_load call Call.Purgatory.
//
// Naming helpers: KexecLoadFlags, KexecFileLoadFlags, ErrnoName,
// SyscallName, ABIName, KindName, SourceName. Renderers for calls:
// RenderTable, RenderJSON (render.go).
package replay
