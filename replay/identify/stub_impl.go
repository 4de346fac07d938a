package identify

// TEMPORARY placeholder; the implementation replaces this file.

import "io"

func identify(io.ReaderAt, int64, Options) *Report {
	return &Report{Type: "unknown", Summary: "not identified (identify not implemented yet)"}
}

func checkPurgatory([]Segment, uint64) PurgatoryVerdict {
	return PurgatoryVerdict{Detail: "purgatory check not implemented yet"}
}
