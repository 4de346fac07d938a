package replay

import (
	"strings"
	"testing"
)

// The notes the recorder wrote after the header come back as the header's,
// whether asked for before Calls (read ahead) or after; reading them ahead
// loses no call; and they are not warnings about the file.
func TestHeaderNotes(t *testing.T) {
	const sample = "../testdata/samples/real-6.12-fentry-einval.zst"
	count := func(before bool) (int, []Note, []string) {
		c, err := Open(sample, OpenOptions{NoCmdline: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var notes []Note
		if before {
			notes = c.HeaderNotes()
		}
		n := 0
		if err := c.Calls(func(*Call) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if !before {
			notes = c.HeaderNotes()
		}
		_, warnings := c.Trouble()
		return n, notes, warnings
	}
	nBefore, notesBefore, warnings := count(true)
	nAfter, notesAfter, _ := count(false)
	if nBefore != 2 || nAfter != 2 {
		t.Errorf("calls: %d with notes read ahead, %d without; want 2", nBefore, nAfter)
	}
	for _, notes := range [][]Note{notesBefore, notesAfter} {
		if len(notes) != 1 || notes[0].Level != "warn" || !strings.Contains(notes[0].Message, "__x32_compat_sys_kexec_load") {
			t.Errorf("header notes %+v", notes)
		}
	}
	if len(warnings) != 0 {
		t.Errorf("a header note came back as a warning: %q", warnings)
	}
	if l := NoteLines(notesBefore); len(l) != 1 || !strings.HasPrefix(l[0], "warn: no fentry hook") {
		t.Errorf("note lines %q", l)
	}
}
