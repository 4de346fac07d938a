package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// outDisk appends tar entries to the raw results disk. The host made the
// disk image all zeros, so whatever has been appended so far is always a
// valid tar stream (zero blocks read as the end of the archive): results
// written before a crash or before kexec -e survive.
type outDisk struct {
	f  *os.File
	tw *tar.Writer
}

func openOutDisk(dev string, wait time.Duration) (*outDisk, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(dev, os.O_WRONLY, 0)
		if err == nil {
			return &outDisk{f: f, tw: tar.NewWriter(f)}, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// add appends one entry and makes it durable before returning.
func (o *outDisk) add(name string, r io.Reader, size int64) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Now(), Typeflag: tar.TypeReg}
	if err := o.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("results disk: %s: %v", name, err)
	}
	if n, err := io.Copy(o.tw, r); err != nil {
		return fmt.Errorf("results disk: %s: %v (after %d bytes)", name, err, n)
	}
	if err := o.tw.Flush(); err != nil {
		return fmt.Errorf("results disk: %s: %v", name, err)
	}
	return o.f.Sync()
}

func (o *outDisk) addBytes(name string, b []byte) error {
	return o.add(name, bytes.NewReader(b), int64(len(b)))
}

func (o *outDisk) addFile(name, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), o.add(name, f, st.Size())
}

// Close syncs without writing the tar end marker: the zeros after the last
// entry already are one, and a later entry could not follow a written one.
func (o *outDisk) Close() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	o.f = nil
	return err
}
