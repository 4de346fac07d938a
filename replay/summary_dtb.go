package replay

// add counts one verdict (examples capped at MaxExamples).
func (d *DTBInitrdSummary) add(c *Call, match bool, detail string) {
	d.Checked++
	if match {
		d.Match++
		return
	}
	d.Mismatch++
	if len(d.Mismatches) < MaxExamples {
		d.Mismatches = append(d.Mismatches, DTBInitrdMismatch{CallID: c.ID, Time: c.Time, Detail: detail})
	}
}

// merge adds another summary's counts (a TOTAL).
func (d *DTBInitrdSummary) merge(o DTBInitrdSummary) {
	d.Checked += o.Checked
	d.Match += o.Match
	d.Mismatch += o.Mismatch
	for _, m := range o.Mismatches {
		if len(d.Mismatches) < MaxExamples {
			d.Mismatches = append(d.Mismatches, m)
		}
	}
}
