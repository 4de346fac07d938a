package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/replay"
)

// view is the report's content, already in words: the HTML and Markdown
// renderers lay out the same view, so both say the same things. Strings
// from the capture are Printable here; escaping for the output format is
// the renderer's job.
type view struct {
	Title     string
	Tool      string
	Generated string
	Verdict   verdictView
	Findings  []Finding
	Custody   []custodyView
	Timeline  *timeline
	Calls     tableView
	CallsNote string
	Details   []detailView
	Diff      *diffView
}

type verdictView struct {
	Verified bool
	Headline string
	Lines    []string
}

type custodyView struct {
	Name   string
	SHA256 string
	Rows   [][2]string
}

type tableView struct {
	Header []string
	Rows   []rowView
}

type rowView struct {
	Class string // outcome: ok, error, unfinished
	Cells []string
}

type detailView struct {
	Anchor    string
	Title     string
	Class     string
	Rows      [][2]string
	Segments  tableView
	Initramfs []initramfsView
	Problems  []string
}

type initramfsView struct {
	Title string
	Files tableView
}

type diffView struct {
	Headline string
	Error    string
	Changed  []diffItem
	OnlyBase []string
	OnlyNew  []string
}

type diffItem struct {
	Title string
	Lines []string
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000 UTC")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newView(e *Evidence) *view {
	v := &view{Title: "kexec incident report", Tool: Printable(e.Tool)}
	if !e.Generated.IsZero() {
		v.Generated = timeText(e.Generated)
	}
	v.Verdict = verdict(e)
	v.Findings = Findings(e)
	for _, cp := range e.Captures {
		v.Custody = append(v.Custody, custody(cp))
	}
	v.Timeline = newTimeline(e)
	v.Calls, v.CallsNote = callsTable(e)
	for i, cp := range e.Captures {
		for _, c := range cp.Calls {
			v.Details = append(v.Details, detail(i, cp, c, len(e.Captures) > 1))
		}
	}
	if e.Baseline != nil {
		v.Diff = diff(e.Baseline)
	}
	return v
}

// verdict is the banner: verified or not, and why not; who signed; what
// the recording lost.
func verdict(e *Evidence) verdictView {
	vv := verdictView{Verified: e.Verified()}
	n := len(e.Captures)
	if vv.Verified {
		vv.Headline = fmt.Sprintf("VERIFIED: %d of %d capture files pass every integrity check", n, n)
	} else {
		bad := 0
		for _, c := range e.Captures {
			if !c.Verify.Verified {
				bad++
			}
		}
		vv.Headline = fmt.Sprintf("NOT VERIFIED: %d of %d capture files fail an integrity check", bad, n)
		if n == 0 {
			vv.Headline = "NOT VERIFIED: no capture was read"
		}
	}
	for _, cp := range e.Captures {
		name := Printable(cp.Path)
		if cp.Verify.Error != "" {
			vv.Lines = append(vv.Lines, name+": UNREADABLE: "+Printable(cp.Verify.Error))
		}
		for _, ch := range cp.Verify.Checks {
			if !ch.OK {
				vv.Lines = append(vv.Lines, fmt.Sprintf("%s: check %s FAILED: %s", name, ch.Name, Printable(ch.Detail)))
			}
		}
		s := cp.Summary
		if s == nil {
			continue
		}
		st := s.Stream
		switch {
		case st.Signed && !st.SignatureOK:
			vv.Lines = append(vv.Lines, fmt.Sprintf("%s: signature by Ed25519 key %s DOES NOT VERIFY", name, st.SignerKey))
		case st.Signed && st.KeyTrusted:
			vv.Lines = append(vv.Lines, fmt.Sprintf("%s: signed by Ed25519 key %s (verified against the given public key)", name, st.SignerKey))
		case st.Signed:
			vv.Lines = append(vv.Lines, fmt.Sprintf("%s: signed by Ed25519 key %s (verified against the key the file names; pass --pubkey to prove who signed)", name, st.SignerKey))
		default:
			vv.Lines = append(vv.Lines, name+": not signed")
		}
		if s.Host != nil && !st.Clean {
			vv.Lines = append(vv.Lines, name+": UNCLEAN STOP: no trailer (recorder killed, disk full or file cut short); contents up to the last sealed chunk")
		}
		if s.Partial || cp.ReadError != "" {
			vv.Lines = append(vv.Lines, fmt.Sprintf("%s: PARTIAL: read %d calls, %d chunks, %d records before the damage", name, s.Calls, st.Chunks, st.Records))
		}
		var drops []string
		for _, k := range slices.Sorted(maps.Keys(s.Stats)) {
			if (strings.HasSuffix(k, "_dropped") || k == "read_errors") && s.Stats[k] > 0 {
				drops = append(drops, fmt.Sprintf("%s = %d", k, s.Stats[k]))
			}
		}
		if len(drops) > 0 {
			vv.Lines = append(vv.Lines, name+": DROPS: "+strings.Join(drops, ", "))
		}
		if s.Truncated > 0 {
			var why, cuts []string
			for _, r := range s.TruncatedByReason {
				why = append(why, fmt.Sprintf("%s %d", r.Key, r.Calls))
				if r.Key == "ring-full" || r.Key == "loop-limit" {
					cuts = append(cuts, fmt.Sprintf("%s %d", r.Key, r.Calls))
				}
			}
			vv.Lines = append(vv.Lines, fmt.Sprintf("%s: TRUNCATED payloads: %d (%s)", name, s.Truncated, Printable(strings.Join(why, ", "))))
			if len(cuts) > 0 {
				vv.Lines = append(vv.Lines, fmt.Sprintf("%s: POLICY CUTS (time policy bounded the copy): %s", name, strings.Join(cuts, ", ")))
			}
		} else if s.Host != nil {
			vv.Lines = append(vv.Lines, name+": no drops, no truncated payloads, no policy cuts")
		}
	}
	return vv
}

// custody is one file's chain-of-custody block.
func custody(cp *Capture) custodyView {
	cv := custodyView{Name: Printable(cp.Path), SHA256: cp.SHA256}
	add := func(k, v string) { cv.Rows = append(cv.Rows, [2]string{k, v}) }
	add("file", Printable(cp.Path))
	add("size", fmt.Sprintf("%d bytes", cp.Size))
	add("sha256", dash(cp.SHA256))
	add("sha256sum line", dash(sumLine(cp)))
	s := cp.Summary
	if s == nil || s.Host == nil {
		add("header", "not readable")
		return cv
	}
	h := s.Host
	add("host", dash(Printable(h.Hostname)))
	add("machine id", dash(Printable(h.MachineID)))
	add("boot id", dash(Printable(h.BootID)))
	add("kernel", dash(Printable(strings.TrimSpace(h.KernelRelease+" "+h.KernelVersion))))
	add("arch", dash(Printable(h.Arch)))
	add("recorder version", dash(Printable(h.RecorderVersion)))
	add("attach mode", dash(Printable(h.AttachMode)))
	if h.SetID != "" {
		add("rotation set", fmt.Sprintf("%s part %d", h.SetID, h.Part))
	}
	add("recording start", timeText(s.Span.RecordStart))
	if s.Span.RecordEnd.IsZero() {
		add("recording end", "- (no trailer)")
	} else {
		add("recording end", timeText(s.Span.RecordEnd))
	}
	add("first call", timeText(s.Span.FirstCall))
	add("last call", timeText(s.Span.LastCall))
	var opts []string
	for _, k := range slices.Sorted(maps.Keys(h.Options)) {
		opts = append(opts, Printable(k+"="+h.Options[k]))
	}
	add("options in force", dash(strings.Join(opts, " ")))
	add("calls", fmt.Sprint(s.Calls))
	add("chunks / records", fmt.Sprintf("%d / %d", s.Stream.Chunks, s.Stream.Records))
	return cv
}

// sumLine is the line `sha256sum FILE` prints (two spaces, then the name).
func sumLine(cp *Capture) string {
	if cp.SHA256 == "" {
		return ""
	}
	return cp.SHA256 + "  " + Printable(cp.Path)
}

func callsTable(e *Evidence) (tableView, string) {
	tv := tableView{Header: []string{"#", "time (UTC)", "syscall", "caller", "uid", "result", "kernel", "cmdline"}}
	if len(e.Captures) > 1 {
		tv.Header = append([]string{"file"}, tv.Header...)
	}
	omitted := 0
	for _, cp := range e.Captures {
		omitted += cp.CallsOmitted
		for _, c := range cp.Calls {
			row := []string{fmt.Sprint(c.ID), timeText(c.Time), c.Syscall, Printable(replay.ProcessKey(c)),
				replay.UserKey(c), resultText(c), dash(kernelsText(c)), dash(Printable(replay.EffectiveCmdline(c)))}
			if len(e.Captures) > 1 {
				row = append([]string{Printable(cp.Path)}, row...)
			}
			tv.Rows = append(tv.Rows, rowView{Class: c.Outcome, Cells: row})
		}
	}
	note := ""
	if omitted > 0 {
		note = fmt.Sprintf("%d more calls are counted in the summary but not listed here (the report keeps the first %d calls of each file; `kexecrec show` lists them all).", omitted, MaxCalls)
	}
	return tv, note
}

func kernelsText(c *replay.Call) string {
	var vs []string
	for _, p := range c.Payloads {
		if p != nil && p.Identity != nil && p.Identity.KernelVersion != "" && !slices.Contains(vs, p.Identity.KernelVersion) {
			vs = append(vs, p.Identity.KernelVersion)
		}
	}
	return Printable(strings.Join(vs, ", "))
}

func callAnchor(fileIdx int, c *replay.Call) string {
	return fmt.Sprintf("call-%d-%d", fileIdx, c.ID)
}
