package replay

import (
	"io"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// The recorder writes, right after a file's header, a note for each thing
// it could not hook on the kernel it ran on (and, in a rotated set, which
// part came before). Those notes describe the recording as a whole, like the
// header: readers show them with the header, not as warnings about the file.

// Note is a recorder note (layout.RecNote).
type Note = layout.Note

// next returns the next record: the one HeaderNotes read ahead, if any,
// then the reader's.
func (c *Capture) next() (format.Record, error) {
	var rec format.Record
	var err error
	if c.pending != nil {
		rec, err = *c.pending, c.pendingErr
		c.pending, c.pendingErr = nil, nil
	} else {
		rec, err = c.r.Next()
	}
	if err != nil {
		c.streamDone = true
		if err != io.EOF {
			c.streamErr = err
		}
	}
	if !c.headerDone && (err != nil || rec.Type != layout.RecNote) {
		// The decoder has not seen rec yet: the notes so far are the
		// header's.
		c.headNotes, c.headerDone = len(c.dec.Notes()), true
	}
	return rec, err
}

// HeaderNotes are the recorder notes at the start of the file, before any
// call. Called before Calls it reads just past them (the record after them
// is kept for Calls).
func (c *Capture) HeaderNotes() []layout.Note {
	for !c.headerDone && !c.read {
		rec, err := c.r.Next()
		if err == nil && rec.Type == layout.RecNote {
			if _, err := c.dec.Add(rec); err == nil {
				continue
			}
		}
		if err == nil {
			rec.Data = append([]byte(nil), rec.Data...) // valid only until the next Next
		}
		c.pending, c.pendingErr = &rec, err
		c.headNotes, c.headerDone = len(c.dec.Notes()), true
	}
	notes := c.dec.Notes()
	if !c.headerDone {
		return notes // Calls is running or the file held notes only
	}
	return notes[:c.headNotes]
}

// laterNotes are the notes after the header's.
func (c *Capture) laterNotes() []layout.Note {
	notes := c.dec.Notes()
	if !c.headerDone {
		return nil
	}
	return notes[c.headNotes:]
}

// NoteLines are the header notes as "level: message" lines, for the header
// block of a table (the JSON keeps them as objects).
func NoteLines(notes []layout.Note) []string {
	lines := make([]string, 0, len(notes))
	for _, n := range notes {
		lines = append(lines, n.Level+": "+n.Message)
	}
	return lines
}

// headerNoteRows are the notes as rows of a header block.
func headerNoteRows(notes []layout.Note) [][2]string {
	rows := make([][2]string, 0, len(notes))
	for _, l := range NoteLines(notes) {
		rows = append(rows, [2]string{"note", l})
	}
	return rows
}
