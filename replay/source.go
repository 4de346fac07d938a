package replay

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kexecrec/kexecrec/ship"
)

// CaptureFile is what reading a capture needs: a stream front to back, random
// access for payloads, and its size (Stat). *os.File is one; an object in
// S3-compatible storage (s3://BUCKET/KEY) is another, streamed in place.
type CaptureFile interface {
	io.Reader
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// s3Client is made once per process from the standard AWS environment.
var s3Client = sync.OnceValues(func() (*s3.Client, error) { return ship.NewClient(context.Background()) })

// OpenFile opens a capture by name: a local path, or s3://BUCKET/KEY.
func OpenFile(name string) (CaptureFile, error) {
	if !ship.IsS3URL(name) {
		return os.Open(name)
	}
	loc, err := ship.ParseLocation(name)
	if err != nil {
		return nil, err
	}
	if loc.Prefix == "" || strings.HasSuffix(name, "/") {
		return nil, fmt.Errorf("%s: a prefix, not an object (summarize, show and verify take prefixes)", name)
	}
	c, err := s3Client()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return ship.OpenObject(context.Background(), c, loc.Bucket, loc.Prefix)
}

// IsRemote reports whether name is in S3 (s3://...), not a local file.
func IsRemote(name string) bool { return ship.IsS3URL(name) }

// IsPrefix reports whether name stands for every capture under an S3
// prefix: s3://BUCKET/ or s3://BUCKET/PREFIX/ (the trailing slash says so).
func IsPrefix(name string) bool {
	return ship.IsS3URL(name) && (strings.HasSuffix(name, "/") || !strings.Contains(strings.TrimPrefix(name, "s3://"), "/"))
}

// ExpandPrefixes replaces each S3 prefix among names by the objects under
// it (s3://BUCKET/KEY each, in key order); other names stay as they are. A
// prefix with nothing under it is an error.
func ExpandPrefixes(names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		if !IsPrefix(name) {
			out = append(out, name)
			continue
		}
		loc, err := ship.ParseLocation(name)
		if err != nil {
			return nil, err
		}
		c, err := s3Client()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		keys, err := ship.List(context.Background(), c, loc)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: no captures under this prefix", name)
		}
		for _, k := range keys {
			out = append(out, "s3://"+loc.Bucket+"/"+k)
		}
	}
	return out, nil
}
