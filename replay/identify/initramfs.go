package identify

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// initramfs walks the payload the way init/initramfs.c unpack_to_rootfs does:
// skip NUL padding, then either an uncompressed newc archive or a compressed
// stream whose output is a sequence of archives, repeat.
func (id *identifier) initramfs() {
	r := id.r
	ir := &Initramfs{}
	files := 0
	var comps []string
	off := int64(0)
	for off < id.size {
		next, ok := id.skipZeros(off)
		if !ok {
			break
		}
		off = next
		head := readAtMost(id.ra, id.size, off, 8)
		if bytes.HasPrefix(head, []byte("07070")) {
			in := bufio.NewReaderSize(io.NewSectionReader(id.ra, off, id.size-off), 64<<10)
			a := Archive{Offset: off, Compression: "none"}
			p := &cpioParser{r: in, maxFiles: id.o.MaxFiles - files, warn: id.warn}
			err := p.archive(&a)
			files += len(a.Files)
			ir.Archives = append(ir.Archives, a)
			comps = append(comps, "none")
			if err != nil {
				id.warn(fmt.Sprintf("cpio archive at offset %d: %v", off, err))
				break
			}
			off += p.pos
			continue
		}
		comp := detectCompression(head)
		if comp == "" {
			id.warn(fmt.Sprintf("%d bytes of unrecognised data at offset %d after the archives (the kernel would reject this initramfs)", id.size-off, off))
			break
		}
		comps = append(comps, comp)
		if id.o.NoDecompress {
			ir.Archives = append(ir.Archives, Archive{Offset: off, Compression: comp, Truncated: true})
			break
		}
		consumed, exact, n := id.compressedArchives(ir, off, comp, id.o.MaxFiles-files)
		files += n
		if !exact || consumed <= 0 {
			break
		}
		off += consumed
	}
	r.Initramfs = ir
	r.Compression = strings.Join(uniq(comps), "+")
	if !hasCpio(ir) {
		r.Type = "unknown"
		r.Initramfs = nil
		why := "not a cpio archive"
		if id.o.NoDecompress {
			why = "not decompressed"
		} else if len(ir.Archives) > 0 && ir.Archives[0].Truncated {
			why = "could not be decompressed (see warnings)"
		}
		r.Summary = fmt.Sprintf("%s-compressed data (%d bytes), %s", r.Compression, id.size, why)
		return
	}
	r.Type = "initramfs"
	init := ""
	for _, a := range ir.Archives {
		for _, f := range a.Files {
			if f.Path == "init" || f.Path == "/init" {
				init = ", /init sha256 " + shortHash(f.SHA256)
			}
		}
	}
	r.Summary = fmt.Sprintf("initramfs: %d archive(s) (%s), %d files%s", len(ir.Archives), r.Compression, files, init)
}

func hasCpio(ir *Initramfs) bool {
	for _, a := range ir.Archives {
		if a.Files != nil {
			return true
		}
	}
	return false
}

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// skipZeros returns the offset of the next non-NUL byte at or after off.
func (id *identifier) skipZeros(off int64) (int64, bool) {
	buf := make([]byte, 4096)
	for off < id.size {
		b := readAtMost(id.ra, id.size, off, len(buf))
		if len(b) == 0 {
			return off, false
		}
		for i, c := range b {
			if c != 0 {
				return off + int64(i), true
			}
		}
		off += int64(len(b))
	}
	return off, false
}

// compressedArchives lists the archives in the compressed stream at off. It
// returns how many compressed bytes the stream took and whether that count
// is exact (so that the walk can go on after it).
func (id *identifier) compressedArchives(ir *Initramfs, off int64, comp string, maxFiles int) (consumed int64, exact bool, files int) {
	deadline := id.deadline()
	in := newCountingReader(io.NewSectionReader(id.ra, off, id.size-off), deadline)
	what := fmt.Sprintf("%s stream at offset %d", comp, off)
	d, err := openDecompressor(comp, in, id.o.MaxDecompressed)
	if err != nil {
		ir.Archives = append(ir.Archives, Archive{Offset: off, Compression: comp, Truncated: true})
		id.warn(boundWarning(what, err, id.o))
		return 0, false, 0
	}
	defer d.close()
	// All streams of one payload share one output budget, so a bomb split
	// into many members does not get the cap many times over.
	budget := id.o.MaxDecompressed - id.spent
	bounded := newBounded(d, budget, deadline)
	defer func() { id.spent += bounded.n }()
	out := bufio.NewReaderSize(bounded, 64<<10)
	first := true
	for {
		// NUL padding between archives inside the stream is skipped too.
		if err := skipZeroBytes(out); err != nil {
			if err != io.EOF {
				id.warn(boundWarning(what, err, id.o))
				if first {
					ir.Archives = append(ir.Archives, Archive{Offset: off, Compression: comp, Truncated: true})
				}
				return in.n, false, files
			}
			break
		}
		peek, _ := out.Peek(5)
		if string(peek) != "07070" {
			if first {
				ir.Archives = append(ir.Archives, Archive{Offset: off, Compression: comp})
				return in.n, false, files
			}
			id.warn(fmt.Sprintf("%s: data after the last archive is not cpio", what))
			return in.n, false, files
		}
		first = false
		a := Archive{Offset: off, Compression: comp}
		p := &cpioParser{r: out, maxFiles: maxFiles - files, warn: id.warn}
		err := p.archive(&a)
		files += len(a.Files)
		ir.Archives = append(ir.Archives, a)
		if err != nil {
			id.warn(boundWarning(fmt.Sprintf("cpio archive in the %s", what), err, id.o))
			return in.n, false, files
		}
	}
	return in.n, d.exactEnd, files
}

func skipZeroBytes(r *bufio.Reader) error {
	for {
		b, err := r.Peek(1)
		if err != nil {
			return err
		}
		if b[0] != 0 {
			return nil
		}
		// Skip a whole run at once.
		buf, _ := r.Peek(r.Buffered())
		n := len(buf) - len(bytes.TrimLeft(buf, "\x00"))
		r.Discard(max(n, 1))
	}
}

// cpioParser reads one newc ("070701") or newc+crc ("070702") archive, up to
// and including its TRAILER!!! entry. pos counts the bytes it consumed.
type cpioParser struct {
	r        *bufio.Reader
	pos      int64
	maxFiles int
	warn     func(string)
}

var errTruncated = errors.New("archive truncated")

const cpioHeaderLen = 110

func (p *cpioParser) read(b []byte) error {
	n, err := io.ReadFull(p.r, b)
	p.pos += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

func (p *cpioParser) skip(n int64) error {
	k, err := io.CopyN(io.Discard, p.r, n)
	p.pos += k
	if err == io.EOF {
		return errTruncated
	}
	return err
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func (p *cpioParser) archive(a *Archive) error {
	a.Files = []CpioFile{}
	var hdr [cpioHeaderLen]byte
	for {
		start := p.pos
		if err := p.read(hdr[:]); err != nil {
			a.Truncated = true
			return err
		}
		magic := string(hdr[:6])
		if magic != "070701" && magic != "070702" {
			a.Truncated = true
			return fmt.Errorf("bad cpio magic %q at archive offset %d", magic, start)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				a.Truncated = true
				return fmt.Errorf("bad cpio header field at archive offset %d", start+int64(6+8*i))
			}
			f[i] = uint32(v)
		}
		mode, size, namesize, check := f[1], int64(f[6]), int64(f[11]), f[12]
		if namesize < 1 || namesize > maxPathLen {
			a.Truncated = true
			return fmt.Errorf("cpio name size %d at archive offset %d is out of range", namesize, start)
		}
		name := make([]byte, namesize)
		if err := p.read(name); err != nil {
			a.Truncated = true
			return err
		}
		if err := p.skip(pad4(cpioHeaderLen + namesize)); err != nil {
			a.Truncated = true
			return err
		}
		path := string(bytes.TrimRight(name, "\x00"))
		if path == "TRAILER!!!" {
			// The trailer's own data (none) and padding.
			if err := p.skip(size + pad4(size)); err != nil {
				a.Truncated = true
				return err
			}
			return nil
		}
		if len(a.Files) >= p.maxFiles {
			a.Truncated = true
			p.warn(fmt.Sprintf("cpio listing stopped at the %d-entry cap", len(a.Files)))
			return nil
		}
		cf := CpioFile{Path: path, Mode: mode, Size: size}
		switch mode & 0o170000 {
		case 0o100000:
			h := sha256.New()
			var sum crcSum
			k, err := io.CopyN(io.MultiWriter(h, &sum), p.r, size)
			p.pos += k
			if err != nil {
				a.Truncated = true
				a.Files = append(a.Files, cf)
				if err == io.EOF {
					return errTruncated
				}
				return err
			}
			cf.SHA256 = hex.EncodeToString(h.Sum(nil))
			if magic == "070702" && uint32(sum) != check {
				p.warn(fmt.Sprintf("cpio crc mismatch for %s (header 0x%08x, data 0x%08x)", path, check, uint32(sum)))
			}
		case 0o120000:
			n := min(size, maxPathLen)
			link := make([]byte, n)
			if err := p.read(link); err != nil {
				a.Truncated = true
				return err
			}
			cf.Link = string(link)
			if err := p.skip(size - n); err != nil {
				a.Truncated = true
				return err
			}
		default:
			if err := p.skip(size); err != nil {
				a.Truncated = true
				return err
			}
		}
		a.Files = append(a.Files, cf)
		if err := p.skip(pad4(size)); err != nil {
			a.Truncated = true
			return err
		}
	}
}

// crcSum is the "crc" of the 070702 format: the 32-bit sum of the data bytes.
type crcSum uint32

func (c *crcSum) Write(b []byte) (int, error) {
	s := uint32(*c)
	for _, x := range b {
		s += uint32(x)
	}
	*c = crcSum(s)
	return len(b), nil
}
