package report

import (
	"fmt"
	"time"
)

// timeline is the data of the inline SVG: time on x, one lane per syscall,
// one mark per call coloured by outcome. Coordinates are computed here so
// the template only places them.
type timeline struct {
	Width, Height int
	Lanes         []lane
	Marks         []mark
	Start, End    string // axis labels
	Span          string
	AxisY         int
}

type lane struct {
	Y      int
	LabelY int
	Name   string
}

type mark struct {
	X, Y1, Y2 int
	Class     string // ok, error, unfinished
	Title     string // tooltip: call, time, result
	Href      string
}

const (
	tlWidth   = 900
	tlLeft    = 130 // room for lane names
	tlRight   = 20
	tlLaneH   = 34
	tlTop     = 10
	tlAxisPad = 26
)

// newTimeline lays out every kept call; nil when there are none.
func newTimeline(e *Evidence) *timeline {
	type pt struct {
		t       time.Time
		syscall string
		outcome string
		title   string
		href    string
	}
	var pts []pt
	var first, last time.Time
	for i, cp := range e.Captures {
		for _, c := range cp.Calls {
			if c.Time.IsZero() {
				continue
			}
			if first.IsZero() || c.Time.Before(first) {
				first = c.Time
			}
			if c.Time.After(last) {
				last = c.Time
			}
			pts = append(pts, pt{c.Time, c.Syscall, c.Outcome,
				fmt.Sprintf("call %d %s %s: %s", c.ID, c.Syscall, timeText(c.Time), resultText(c)), "#" + callAnchor(i, c)})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	laneOf := map[string]int{}
	tl := &timeline{Width: tlWidth}
	for _, name := range []string{"kexec_load", "kexec_file_load"} {
		laneOf[name] = len(tl.Lanes)
		tl.Lanes = append(tl.Lanes, lane{Name: name})
	}
	for _, p := range pts {
		if _, ok := laneOf[p.syscall]; !ok {
			laneOf[p.syscall] = len(tl.Lanes)
			tl.Lanes = append(tl.Lanes, lane{Name: p.syscall})
		}
	}
	for i := range tl.Lanes {
		tl.Lanes[i].Y = tlTop + i*tlLaneH + tlLaneH/2
		tl.Lanes[i].LabelY = tl.Lanes[i].Y + 4
	}
	tl.AxisY = tlTop + len(tl.Lanes)*tlLaneH
	tl.Height = tl.AxisY + tlAxisPad
	span := last.Sub(first)
	plot := tlWidth - tlLeft - tlRight
	for _, p := range pts {
		x := tlLeft + plot/2
		if span > 0 {
			x = tlLeft + int(float64(plot)*float64(p.t.Sub(first))/float64(span))
		}
		y := tl.Lanes[laneOf[p.syscall]].Y
		tl.Marks = append(tl.Marks, mark{X: x, Y1: y - tlLaneH/2 + 5, Y2: y + tlLaneH/2 - 5, Class: p.outcome, Title: Printable(p.title), Href: p.href})
	}
	tl.Start, tl.End = timeText(first), timeText(last)
	tl.Span = span.String()
	return tl
}
