package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// ShowOptions tune Show.
type ShowOptions struct {
	Format string // "table", "json" (one array, an object per file) or "ndjson" (a call per line)
	// Table: Wide and HexDump for the table format (Payload is set per file).
	Table    TableOptions
	Identify bool        // say what each payload is (reads payload bytes)
	Filter   *CallFilter // nil: every call
	// Problem is told what was wrong with a file, after the file's output
	// (so the two streams read in order): kind "error" (it could not be
	// opened; msg names it), "damage", "input" (standard input was cut at
	// the limit on its copy) or "warning".
	Problem func(path, kind, msg string)
	// Stdin serves the path "-" (NewStdin); nil: "-" is refused.
	Stdin *Stdin
}

// maxIndexRows bounds the call index (it needs a first pass over the file
// and its rows in memory); longer captures get the details only.
const maxIndexRows = 5000

// Show writes the calls of each capture. It returns the files that could
// not be read entirely (each problem went to o.Problem); its error is only
// a failure to write the output.
func Show(w io.Writer, paths []string, o ShowOptions) (bad []string, err error) {
	out := bufio.NewWriterSize(w, 64<<10)
	if o.Format == "json" {
		fmt.Fprintln(out, "[")
	}
	for i, path := range paths {
		ok, err := showFile(out, path, i, o)
		if err != nil {
			return bad, err
		}
		if !ok {
			bad = append(bad, path)
		}
	}
	if o.Format == "json" {
		fmt.Fprintln(out, "]")
	}
	return bad, out.Flush()
}

func (o *ShowOptions) problem(path, kind, msg string) {
	if o.Problem != nil {
		o.Problem(path, kind, msg)
	}
}

// showFile prints one capture (the n-th). ok is false when the file could
// not be read entirely; err only when writing the output failed.
func showFile(out *bufio.Writer, path string, n int, o ShowOptions) (ok bool, err error) {
	sep := ""
	if n > 0 {
		sep = ","
	}
	// Rendering keeps nothing of a call (Reuse) and, except for hex dumps,
	// which read payload bytes through the capture, runs while the next
	// calls are decoded on another goroutine (Pipelined).
	hexdumps := o.Format == "table" && o.Table.HexDump > 0
	c, oerr := Open(path, OpenOptions{Salvage: true, Identify: o.Identify, Reuse: true, Pipelined: !hexdumps, Stdin: o.Stdin})
	if oerr != nil {
		if err := out.Flush(); err != nil {
			return false, err
		}
		o.problem(path, "error", oerr.Error())
		if o.Format == "json" {
			b, _ := json.Marshal(map[string]any{"file": path, "error": oerr.Error(), "calls": []any{}})
			fmt.Fprintf(out, "%s%s\n", sep, b)
		}
		return false, nil
	}
	defer c.Close()
	h := c.Header()
	topts := o.Table
	topts.Payload = c.Payload
	topts.HeaderNotes = c.HeaderNotes()
	shown, total := 0, 0
	switch o.Format {
	case "table":
		RenderHeader(out, path, h, topts)
		if rows := indexRows(path, o.Filter, h.BootStartNS, o.Stdin); len(rows) > 0 {
			if err := RenderIndex(out, rows, topts); err != nil {
				return false, err
			}
			fmt.Fprintln(out)
		}
	case "json":
		hj := NewHeaderJSON(h)
		hj.Notes = topts.HeaderNotes
		hb, _ := json.Marshal(hj)
		pb, _ := json.Marshal(path)
		fmt.Fprintf(out, "%s{\"file\":%s,\"header\":%s,\"calls\":[\n", sep, pb, hb)
	}
	var werr error
	_ = c.Calls(func(call *Call) error { // a read error is reported through Trouble below
		total++
		if !o.Filter.Match(call, h.BootStartNS) {
			return nil
		}
		shown++
		switch o.Format {
		case "table":
			werr = RenderTable(out, call, topts)
		case "json":
			if shown > 1 {
				out.WriteString(",")
			}
			werr = RenderJSON(out, call)
		default:
			werr = RenderJSON(out, call)
		}
		return werr
	})
	if werr != nil {
		return false, werr
	}
	damage, warnings := c.Trouble()
	switch o.Format {
	case "table":
		fmt.Fprintf(out, "%d of %d calls shown\n", shown, total)
		if len(damage) > 0 {
			fmt.Fprintln(out, "PARTIAL: the capture is damaged, see stderr")
		} else if !c.Status().Clean {
			fmt.Fprintln(out, "unclean stop: no trailer (see stderr)")
		}
	case "json":
		sb, _ := json.Marshal(NewStatusJSON(c))
		fmt.Fprintf(out, "],\"shown\":%d,\"total\":%d,\"status\":%s}\n", shown, total, sb)
	}
	// Output first, then the diagnosis, so the two streams read in order.
	if err := out.Flush(); err != nil {
		return false, err
	}
	for _, d := range damage {
		o.problem(path, c.ProblemKind(), d)
	}
	for _, w := range warnings {
		o.problem(path, "warning", w)
	}
	return len(damage) == 0, nil
}

// indexRows reads the capture once, cheaply (no payload bytes), for the
// call index. Problems are left to the main pass, which reports them.
func indexRows(path string, flt *CallFilter, startBootNS uint64, stdin *Stdin) [][]string {
	c, err := Open(path, OpenOptions{Salvage: true, NoCmdline: true, Reuse: true, Pipelined: true, Stdin: stdin})
	if err != nil {
		return nil
	}
	defer c.Close()
	var rows [][]string
	_ = c.Calls(func(call *Call) error {
		if !flt.Match(call, startBootNS) {
			return nil
		}
		if len(rows) == maxIndexRows {
			rows = nil
			return ErrStop
		}
		rows = append(rows, IndexRow(call))
		return nil
	})
	if len(rows) < 2 {
		return nil // one call: the details say it all
	}
	return rows
}
