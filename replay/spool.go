package replay

import (
	"bytes"
	"io"
	"os"
)

// spoolMem is the largest payload kept in memory for identification; larger
// ones go to an unlinked temporary file so memory stays bounded.
const spoolMem = 1 << 20

type spooled struct {
	io.ReaderAt
	size int64
	f    *os.File
}

func (s *spooled) Close() {
	if s.f != nil {
		s.f.Close()
	}
}

func spool(r io.Reader) (*spooled, error) {
	buf := make([]byte, 0, 64<<10)
	b := bytes.NewBuffer(buf)
	n, err := io.CopyN(b, r, spoolMem+1)
	if err == io.EOF || (err == nil && n <= spoolMem) {
		return &spooled{ReaderAt: bytes.NewReader(b.Bytes()), size: int64(b.Len())}, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "kexecrec-payload-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked: nothing left behind whatever happens
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return nil, err
	}
	m, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &spooled{ReaderAt: f, size: int64(b.Len()) + m, f: f}, nil
}
