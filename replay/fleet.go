package replay

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// FleetRow is one capture in the fleet table of an S3 prefix: where it was
// recorded, how many calls, how many of them loaded a kernel, and whether
// the file is intact.
type FleetRow struct {
	Capture       string `json:"capture"`
	Host          string `json:"host"`
	MachineID     string `json:"machine_id"`
	BootID        string `json:"boot_id"`
	Part          uint32 `json:"part"`
	Calls         int    `json:"calls"`
	KernelsLoaded int    `json:"kernels_loaded"` // calls that succeeded: a kernel is staged
	Verdict       string `json:"verdict"`        // "intact", "unclean" or "damaged"
}

// Fleet makes one row per summary (per file, in the order given).
func Fleet(files []*Summary) []FleetRow {
	rows := make([]FleetRow, 0, len(files))
	for _, s := range files {
		r := FleetRow{Calls: s.Calls, Verdict: Verdict(s)}
		if s.File != nil {
			r.Capture = s.File.Path
		}
		if s.Host != nil {
			r.Host, r.MachineID, r.BootID, r.Part = s.Host.Hostname, s.Host.MachineID, s.Host.BootID, s.Host.Part
		}
		for _, c := range s.ByOutcome {
			if c.Key == "ok" {
				r.KernelsLoaded = c.Calls
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// Verdict is "damaged" when the file could not be read entirely or failed
// a check, "unclean" when it is intact but has no trailer (the recorder was
// killed, or the part is still being written), else "intact". Warnings such
// as recorder notes do not change it: show and summarize list them.
func Verdict(s *Summary) string {
	switch {
	case len(s.Damage) > 0 || s.Partial:
		return "damaged"
	case s.Stream == nil || !s.Stream.Clean:
		return "unclean"
	}
	return "intact"
}

// RenderFleet prints the fleet table. Strings from the captures are shown
// inert (quoted when they hold anything but printable characters); a boot
// id is cut to its first 8 characters unless wide.
func RenderFleet(w io.Writer, rows []FleetRow, wide bool) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tBOOT\tPART\tCALLS\tKERNELS LOADED\tVERDICT\tCAPTURE")
	for _, r := range rows {
		boot := r.BootID
		if !wide && len(boot) > 8 {
			boot = boot[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", inert(r.Host), inert(boot), r.Part, r.Calls, r.KernelsLoaded, r.Verdict, inert(r.Capture))
	}
	return tw.Flush()
}

// inert quotes s when it holds anything but printable characters (and a
// tab, which would move tabwriter's columns); "-" when empty.
func inert(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !strconv.IsPrint(r) || r == '\t' {
			return strconv.Quote(s)
		}
	}
	return s
}
