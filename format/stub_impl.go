package format

// TEMPORARY: placeholder so dependants compile while the implementation is
// written. The format implementation replaces this file entirely.

import (
	"errors"
	"io"
)

var errTODO = errors.New("format: not implemented yet")

type writer struct {
	err     error
	written int64
}

func newWriter(io.Writer, Header, WriterOptions) (*Writer, error) { return nil, errTODO }
func (w *writer) writeRecord(Record) error                        { return errTODO }
func (w *writer) tick() error                                     { return errTODO }
func (w *writer) seal() error                                     { return errTODO }
func (w *writer) newBlob() *BlobWriter                            { return &BlobWriter{&blobWriter{}} }
func (w *writer) writeStats(Stats) error                          { return errTODO }
func (w *writer) close() error                                    { return errTODO }

type blobWriter struct{}

func (b *blobWriter) write([]byte) (int, error) { return 0, errTODO }
func (b *blobWriter) close() (BlobRef, error)   { return BlobRef{}, errTODO }

type reader struct {
	header Header
	blobs  map[[32]byte]BlobInfo
	stats  Stats
}

func newReader(io.Reader, ReaderOptions) (*Reader, error) { return nil, errTODO }
func (r *reader) next() (Record, error)                   { return Record{}, errTODO }
func (r *reader) status() Status                          { return Status{} }

type index struct{}

func openIndex(io.ReaderAt, int64, ReaderOptions) (*Index, error) { return nil, errTODO }
func (ix *index) blob([32]byte) (io.ReadCloser, BlobInfo, error)  { return nil, BlobInfo{}, errTODO }
