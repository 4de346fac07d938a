// Package content writes the content of a kexecrec capture: the records and
// payload blobs the recorder stores inside the container that package format
// defines. It is the one implementation of that content contract
// (format/CONTENT.md): the recorder writes through it, and so do the sample
// generator and the synthetic captures of the tests, so that what they write
// cannot drift from what the recorder writes.
//
// What it guarantees, whoever calls it:
//   - the header states the raw records' layout version and byte order;
//   - raw BPF records are stored verbatim, typed by their own header, and
//     never as PIECE records (pieces become blobs);
//   - the recorder's own records (process, payload, note) are JSON objects;
//   - a payload's blob is complete in the file (pieces and blob map) before
//     its PAYLOAD_END record, which comes right before its PAYLOAD record.
package content

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/kexecrec/kexecrec/bpf/layout"
	"github.com/kexecrec/kexecrec/format"
)

// ByteOrder is the byte order of the raw records: it reads them (their
// header names their type) and encodes them (layout's Marshal methods).
// binary.LittleEndian, binary.BigEndian and binary.NativeEndian are ones.
type ByteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// Options tune a Writer.
type Options struct {
	// Format tunes the container (sealing, piece size, signing, clock).
	Format format.WriterOptions
	// ByteOrder of the raw records written (default binary.NativeEndian:
	// BPF emits records in the recording host's order).
	ByteOrder ByteOrder
	// OnRecord, when set, sees every record as it is written, in file
	// order. Its Data must not be kept after the call returns.
	OnRecord func(format.Record)
	// PayloadSHA256: also compute each payload's SHA-256 as it is written
	// and put it in the PAYLOAD record beside its blob id, for consumers
	// of the live records (record --json, alerts), which have no blob to
	// read. It is a second hash pass over every payload byte; readers of
	// the file compute the SHA-256 from the blob whether it is there or not.
	PayloadSHA256 bool
}

// Writer writes one capture file's content. Like format.Writer it is not
// safe for concurrent use, and its errors are sticky.
type Writer struct {
	fw       *format.Writer
	h        format.Header
	bo       ByteOrder
	onRecord func(format.Record)
	sha256   bool
	records  uint64
}

// NewWriter writes the header h, with its RecordLayout and ByteOrder set to
// what this writer writes (whatever h said), and returns a Writer.
func NewWriter(dst io.Writer, h format.Header, o Options) (*Writer, error) {
	if o.ByteOrder == nil {
		o.ByteOrder = binary.NativeEndian
	}
	h.RecordLayout = layout.Version
	h.ByteOrder = ByteOrderName(o.ByteOrder)
	fw, err := format.NewWriter(dst, h, o.Format)
	if err != nil {
		return nil, err
	}
	return &Writer{fw: fw, h: h, bo: o.ByteOrder, onRecord: o.OnRecord, sha256: o.PayloadSHA256}, nil
}

// ByteOrderName is the header's name of a byte order: "little" or "big".
func ByteOrderName(bo binary.ByteOrder) string {
	var b [2]byte
	bo.PutUint16(b[:], 1)
	if b[0] == 1 {
		return "little"
	}
	return "big"
}

// Header is the header as written.
func (w *Writer) Header() format.Header { return w.h }

// ByteOrder is the byte order of the raw records.
func (w *Writer) ByteOrder() ByteOrder { return w.bo }

// Records is the number of records written so far.
func (w *Writer) Records() uint64 { return w.records }

// Written is the number of bytes written to the file so far.
func (w *Writer) Written() int64 { return w.fw.Written() }

func (w *Writer) write(typ uint16, data []byte) error {
	rec := format.Record{Type: typ, Data: data}
	if err := w.fw.WriteRecord(rec); err != nil {
		return err
	}
	w.records++
	if w.onRecord != nil {
		w.onRecord(rec)
	}
	return nil
}

// WriteRaw stores one BPF record exactly as the ring delivered it (trimmed
// to its header's size by the caller). Its type comes from its header: one
// of BPF's types other than PIECE (payload bytes go into blobs, see
// NewPayload), possibly a type a newer BPF object added.
func (w *Writer) WriteRaw(rec []byte) error {
	if len(rec) < layout.HeaderSize {
		return fmt.Errorf("content: raw record of %d bytes, shorter than its header", len(rec))
	}
	typ := w.bo.Uint16(rec)
	if typ == layout.RecPiece || typ >= layout.RecPayload {
		return fmt.Errorf("content: record type %d cannot be stored as a raw BPF record", typ)
	}
	return w.write(typ, rec)
}

func (w *Writer) writeJSON(typ uint16, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.write(typ, b)
}

// WriteProcess stores what user space read about a call's caller; it
// follows the call's ENTER record.
func (w *Writer) WriteProcess(p layout.Process) error { return w.writeJSON(layout.RecProcess, p) }

// WriteNote stores something the recorder did or saw ("info" or "warn").
func (w *Writer) WriteNote(level, message string) error {
	return w.writeJSON(layout.RecNote, layout.Note{Level: level, Message: message})
}

// WriteStats writes a STATS chunk: cumulative counters (see CONTENT.md for
// the names the recorder uses).
func (w *Writer) WriteStats(s format.Stats) error { return w.fw.WriteStats(s) }

// Tick seals pending records when the sealing interval has passed.
func (w *Writer) Tick() error { return w.fw.Tick() }

// Seal seals pending records now.
func (w *Writer) Seal() error { return w.fw.Seal() }

// Close seals pending records and writes the trailer (a clean stop). It
// does not close the underlying writer.
func (w *Writer) Close() error { return w.fw.Close() }
