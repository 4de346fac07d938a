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
//	defer c.Close()                      // required: the file is read ahead on another goroutine
//	c.Header()                           // format.Header
//	err = c.Calls(func(call *replay.Call) error { ...; return nil })  // streaming, bounded memory
//	c.Status()                           // format.Status (complete after Calls)
//	c.Stats()                            // format.Stats: the recorder's counters
//	c.DecodeStats()                      // decoder counts
//	damage, warnings := c.Trouble()      // one line each; damage => exit ExitTrouble
//	rc, err := c.Payload(p.Blob)         // payload bytes by blob id
//
// Calls returns the format error that stopped reading (after passing every
// call read before it), or nil. With OpenOptions.Identify each payload gets
// Payload.Identity and each kexec_load call Call.Purgatory. Payload serves
// the blobs the stream has passed from what the main pass saw; others cost
// one extra pass over the file. OpenOptions.Reuse (a call is valid only
// during the callback) and OpenOptions.Pipelined (decoding ahead of the
// callback on another goroutine) are for consumers that keep nothing of a
// call, like show and summarize.
//
// # What the commands run
//
// Show and Replay (calls, as tables or JSON, selected by a Filter),
// Summarize (a Summary per file and their TOTAL), DiffFiles (DiffResult),
// ExtractFile (payload files and manifest.json). Text renderers share one
// table style and helpers (text.go, table.go): RenderTable, RenderIndex,
// RenderHeader (render.go), RenderSummary, RenderDiff; RenderJSON is the
// one encoder of a call (render_json.go), used live by `record --json` too.
//
// Naming helpers: KexecLoadFlags, KexecFileLoadFlags, ErrnoName,
// SyscallName, ABIName, KindName, SourceName.
package replay
