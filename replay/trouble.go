package replay

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// Trouble sorts what went wrong into damage (the file could not be read
// entirely or failed a check: exit ExitTrouble) and warnings (the file is
// intact but the recording is not clean or not complete). Call it after Calls.
func (c *Capture) Trouble() (damage, warnings []string) {
	if c.stdin != nil && errors.Is(c.stdin.Err(), ErrStdinLimit) {
		// Not damage of the capture: what stopped reading is all there is
		// to say (the cut it made is no finding about the file).
		return []string{c.stdin.Err().Error()}, nil
	}
	st := c.r.Status()
	if c.readErr != nil {
		damage = append(damage, "reading stopped: "+c.readErr.Error())
	}
	for _, d := range st.Damage {
		if c.readErr != nil && d.Error() == c.readErr.Error() {
			continue
		}
		damage = append(damage, d.Error())
	}
	for _, g := range st.Gaps {
		damage = append(damage, fmt.Sprintf("chunks %d..%d missing", g.From, g.To))
	}
	// An unclean file has no trailer head to check the chain against (the
	// reader then says ChainOK false); broken links show up in Damage.
	if st.Clean && !st.ChainOK && c.readErr == nil && len(st.Damage) == 0 {
		damage = append(damage, "hash chain does not verify")
	}
	if st.Signed && !st.SignatureOK {
		damage = append(damage, "signature does not verify")
	}
	ds := c.dec.Stats()
	if ds.Malformed > 0 {
		damage = append(damage, fmt.Sprintf("%d malformed records", ds.Malformed))
	}
	if !st.Clean {
		warnings = append(warnings, "no trailer: the recorder did not stop cleanly (data up to the last sealed chunk is intact)")
	}
	for _, p := range c.dec.Problems() {
		if !strings.HasPrefix(p, "malformed ") {
			warnings = append(warnings, p)
		}
	}
	if n := ds.Problems - len(c.dec.Problems()); n > 0 {
		warnings = append(warnings, fmt.Sprintf("%d more decoder problems not listed", n))
	}
	if ds.Orphans > 0 {
		warnings = append(warnings, fmt.Sprintf("%d records belonged to calls whose entry record was lost", ds.Orphans))
	}
	if ds.Unfinished > 0 {
		warnings = append(warnings, fmt.Sprintf("%d calls have no exit record (unfinished)", ds.Unfinished))
	}
	if s := c.r.Stats(); s != nil {
		keys := make([]string, 0)
		for _, k := range layout.CounterNames {
			if strings.HasSuffix(k, "_dropped") || k == "read_errors" {
				if s[k] > 0 {
					keys = append(keys, k)
				}
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			warnings = append(warnings, fmt.Sprintf("recorder counted %s = %d", k, s[k]))
		}
	}
	// Notes the recorder wrote at the start of the file (what it could not
	// hook on that kernel) describe the recording: HeaderNotes shows them.
	// Later ones say that data of this file was cut or lost.
	for _, n := range c.laterNotes() {
		if n.Level == "warn" || n.Level == "error" {
			warnings = append(warnings, "recorder note: "+n.Message)
		}
	}
	return damage, warnings
}

// ProblemKind is how a reader reports what Trouble calls damage: "damage"
// of the capture, or "input" when reading was cut by the limit on the copy
// kept of standard input (that says nothing about the file).
func (c *Capture) ProblemKind() string {
	if c.stdin != nil && errors.Is(c.stdin.Err(), ErrStdinLimit) {
		return "input"
	}
	return "damage"
}
