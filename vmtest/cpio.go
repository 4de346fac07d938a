package vmtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// newcWriter writes an uncompressed cpio "newc" archive, the initramfs
// format the kernel unpacks (no compression: TCG decompresses slowly).
type newcWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

func newNewcWriter(w io.Writer) *newcWriter {
	return &newcWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1, dirs: map[string]bool{".": true, "/": true}}
}

const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioChar = 0o020000
)

func (c *newcWriter) header(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	name = strings.TrimPrefix(name, "/")
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
}

func (c *newcWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *newcWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// Dir adds a directory and its missing parents.
func (c *newcWriter) Dir(name string) {
	name = path.Clean("/" + name)
	if c.dirs[name] {
		return
	}
	c.Dir(path.Dir(name))
	c.dirs[name] = true
	c.header(name, cpioDir|0o755, 0, 0, 0)
}

// CharDev adds a character device node.
func (c *newcWriter) CharDev(name string, major, minor uint32) {
	c.Dir(path.Dir(path.Clean("/" + name)))
	c.header(name, cpioChar|0o600, 0, major, minor)
}

// Bytes adds a regular file with the given content.
func (c *newcWriter) Bytes(name string, perm uint32, b []byte) {
	c.Dir(path.Dir(path.Clean("/" + name)))
	c.header(name, cpioReg|perm, int64(len(b)), 0, 0)
	c.write(b)
	c.pad(len(b))
}

// File adds a regular file copied from the host (symlinks followed).
func (c *newcWriter) File(name string, perm uint32, hostPath string) {
	if c.err != nil {
		return
	}
	b, err := os.ReadFile(hostPath)
	if err != nil {
		c.err = err
		return
	}
	c.Bytes(name, perm, b)
}

// Close writes the trailer and flushes.
func (c *newcWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}
