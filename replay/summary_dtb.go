package replay

// add counts one verdict (examples capped at MaxExamples).
func (d *DTBInitrdSummary) add(c *Call, match bool, detail string) {
	d.Checked++
	if match {
		d.Match++
		return
	}
	d.Mismatch++
	d.Mismatches = addExamples(d.Mismatches, DTBInitrdMismatch{CallID: c.ID, Time: c.Time, Detail: detail})
}

// merge adds another summary's counts (a TOTAL).
func (d *DTBInitrdSummary) merge(o DTBInitrdSummary) {
	d.Checked += o.Checked
	d.Match += o.Match
	d.Mismatch += o.Mismatch
	d.Mismatches = addExamples(d.Mismatches, o.Mismatches...)
}
