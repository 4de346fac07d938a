package replay

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The payload part of a call's table: one row per segment (kexec_load) or
// payload (kexec_file_load) with its sizes, hash, completeness and what it
// is, then hex dumps.

func status(p *Payload) string {
	if p == nil {
		return "NOT CAPTURED"
	}
	if p.Complete {
		return "complete"
	}
	return "TRUNCATED(" + strings.Join(p.Reasons, ",") + ")"
}

func what(p *Payload) string {
	if p == nil || p.Identity == nil {
		return ""
	}
	if p.Identity.Summary != "" {
		return sanitize(p.Identity.Summary)
	}
	return p.Identity.Type
}

func shortSource(s string) string {
	switch s {
	case "syscall-entry":
		return "entry"
	case "kernel-read":
		return "kread"
	}
	return s
}

func statusLines(p *Payload) string {
	if p == nil {
		return "NOT CAPTURED"
	}
	if p.Complete {
		return "complete"
	}
	return "TRUNCATED\n" + strings.Join(p.Reasons, "\n")
}

func payloadTable(w io.Writer, c *Call, o TableOptions) error {
	linked := map[*Payload]bool{}
	if len(c.Segments) > 0 {
		t := &table{header: []string{"#", "BUF/MEM", "BUFSZ/MEMSZ", "CAPTURED", "SHA256/STATUS", "WHAT"}}
		if o.Wide {
			t.header = []string{"#", "BUF", "BUFSZ", "MEM", "MEMSZ", "CAPTURED", "SOURCE", "SHA256", "STATUS", "WHAT"}
		}
		for _, s := range c.Segments {
			p := s.Payload
			linked[p] = true
			capd, src, sha := "-", "-", "-"
			if p != nil {
				capd, src, sha = strconv.FormatUint(p.Captured, 10), shortSource(p.Source), o.hash(p.SHA256)
			}
			if o.Wide {
				t.add(strconv.Itoa(s.Index), fmt.Sprintf("%#x", s.Buf), strconv.FormatUint(s.BufSz, 10),
					fmt.Sprintf("%#x", s.Mem), strconv.FormatUint(s.MemSz, 10), capd, src, sha, status(p), what(p))
			} else {
				t.add(strconv.Itoa(s.Index),
					fmt.Sprintf("%#x\n%#x", s.Buf, s.Mem),
					fmt.Sprintf("%d\n%d", s.BufSz, s.MemSz),
					capd+"\n"+src,
					sha+"\n"+statusLines(p),
					what(p))
			}
		}
		if err := t.render(w, o); err != nil {
			return err
		}
	}
	// Payloads not tied to a segment: kexec_file_load's kernel, initrd and
	// cmdline, or segment payloads whose table was lost.
	var rest []*Payload
	for _, p := range c.Payloads {
		if !linked[p] && !isLoadedPayload(p) {
			rest = append(rest, p)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	if len(c.Segments) > 0 {
		fmt.Fprintln(w)
	}
	t := &table{header: []string{"PAYLOAD", "TOTAL", "CAPTURED", "SHA256/STATUS", "WHAT"}}
	if o.Wide {
		t.header = []string{"PAYLOAD", "TOTAL", "CAPTURED", "SOURCE", "SHA256", "STATUS", "WHAT"}
	}
	for _, p := range rest {
		name := p.Kind
		if p.Kind == "segment" {
			name += " " + strconv.Itoa(p.Index)
		}
		if o.Wide {
			t.add(name, strconv.FormatUint(p.Total, 10), strconv.FormatUint(p.Captured, 10),
				p.Source, o.hash(p.SHA256), status(p), what(p))
		} else {
			t.add(name, strconv.FormatUint(p.Total, 10),
				strconv.FormatUint(p.Captured, 10)+"\n"+shortSource(p.Source),
				o.hash(p.SHA256)+"\n"+statusLines(p), what(p))
		}
	}
	return t.render(w, o)
}

func hexDump(w io.Writer, p *Payload, o TableOptions) {
	label := p.Kind
	if p.Kind == "segment" {
		label += " " + strconv.Itoa(p.Index)
	}
	if p.SHA256 == "" || p.Captured == 0 {
		fmt.Fprintf(w, "\n  %s: no bytes captured\n", label)
		return
	}
	rc, err := o.Payload(p.Blob)
	if err != nil {
		fmt.Fprintf(w, "\n  %s: cannot read payload: %s\n", label, sanitize(err.Error()))
		return
	}
	defer rc.Close()
	n := min(uint64(o.HexDump), p.Captured)
	buf := make([]byte, n)
	got, err := io.ReadFull(rc, buf)
	fmt.Fprintf(w, "\n  %s: first %d of %d bytes\n", label, got, p.Captured)
	d := hex.Dumper(w)
	d.Write(buf[:got])
	d.Close()
	if err != nil {
		fmt.Fprintf(w, "  (read stopped: %s)\n", sanitize(err.Error()))
	}
}
