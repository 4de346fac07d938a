package replay

import "fmt"

// DiffOptions tune DiffFiles.
type DiffOptions struct {
	// Identify reads payload bytes to compare what they are (kernel
	// version, initramfs files, kexec_load command line), not only hashes.
	Identify bool
	// Stdin serves the path "-" (either side, or both: it is read once).
	Stdin *Stdin
}

// DiffFiles compares the calls of capture a with those of capture b (see
// DiffResult). A file that cannot be read or is damaged is an error: a
// comparison that silently skipped calls would be a wrong answer.
func DiffFiles(a, b string, o DiffOptions) (*DiffResult, error) {
	// One digester for both files: a body common to A and B is held once.
	g := NewDigester()
	da, cleanA, err := ReadDigests(a, g, o)
	if err != nil {
		return nil, err
	}
	db, cleanB, err := ReadDigests(b, g, o)
	if err != nil {
		return nil, err
	}
	r := Diff(da, db)
	r.A, r.B = a, b
	r.UncleanA, r.UncleanB = !cleanA, !cleanB
	return r, nil
}

// ReadDigests reads every call of a capture into g; clean says it had a
// trailer. A damaged file is an error.
func ReadDigests(path string, g *Digester, o DiffOptions) (ds []*CallDigest, clean bool, err error) {
	c, err := Open(path, OpenOptions{Identify: o.Identify, Stdin: o.Stdin})
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	err = c.Calls(func(call *Call) error {
		ds = append(ds, g.Digest(len(ds), call))
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if damage, _ := c.Trouble(); len(damage) > 0 {
		return nil, false, fmt.Errorf("%s: damaged: %s", path, damage[0])
	}
	return ds, c.Status().Clean, nil
}
