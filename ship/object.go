package ship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Object is a stored capture read in place: Read streams it front to back
// in one GET, ReadAt fetches byte ranges (for the payload index) through a
// small cache of aligned blocks. Nothing is downloaded whole.
type Object struct {
	client *s3.Client
	bucket string
	key    string
	size   int64
	mtime  time.Time
	ctx    context.Context

	body io.ReadCloser // the streaming GET, opened on first Read
	off  int64

	mu     sync.Mutex
	blocks map[int64][]byte
	order  []int64 // cached blocks, oldest first
}

const (
	objectBlock  = 1 << 20 // ReadAt fetches this much at a time
	objectBlocks = 8       // and keeps this many blocks (8 MiB at most)
)

// OpenObject looks the object up (its size) without reading it.
func OpenObject(ctx context.Context, c *s3.Client, bucket, key string) (*Object, error) {
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, objectError(bucket, key, err)
	}
	return &Object{client: c, bucket: bucket, key: key, size: aws.ToInt64(head.ContentLength), mtime: aws.ToTime(head.LastModified),
		ctx: ctx, blocks: map[int64][]byte{}}, nil
}

func objectError(bucket, key string, err error) error {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return fmt.Errorf("s3://%s/%s: no such object (%w)", bucket, key, fs.ErrNotExist)
	}
	return fmt.Errorf("s3://%s/%s: %s", bucket, key, oneLine(err))
}

func (o *Object) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.body == nil {
		out, err := o.client.GetObject(o.ctx, &s3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key),
			Range: aws.String(fmt.Sprintf("bytes=%d-", o.off))})
		if err != nil {
			return 0, objectError(o.bucket, o.key, err)
		}
		o.body = out.Body
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	if err == io.EOF && o.off < o.size {
		err = fmt.Errorf("s3://%s/%s: stream ended at %d of %d bytes: %w", o.bucket, o.key, o.off, o.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= o.size {
			return n, io.EOF
		}
		b, err := o.block(at / objectBlock)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[at%objectBlock:])
	}
	return n, nil
}

func (o *Object) block(i int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.blocks[i]; ok {
		return b, nil
	}
	start := i * objectBlock
	end := min(start+objectBlock, o.size) - 1
	out, err := o.client.GetObject(o.ctx, &s3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end))})
	if err != nil {
		return nil, objectError(o.bucket, o.key, err)
	}
	defer out.Body.Close()
	b := make([]byte, end-start+1)
	if _, err := io.ReadFull(out.Body, b); err != nil {
		return nil, fmt.Errorf("s3://%s/%s: reading bytes %d-%d: %w", o.bucket, o.key, start, end, err)
	}
	if len(o.order) == objectBlocks {
		delete(o.blocks, o.order[0])
		o.order = o.order[1:]
	}
	o.blocks[i] = b
	o.order = append(o.order, i)
	return b, nil
}

func (o *Object) Close() error {
	if o.body != nil {
		return o.body.Close()
	}
	return nil
}

// Stat describes the object as a read-only regular file.
func (o *Object) Stat() (fs.FileInfo, error) { return objectInfo{o}, nil }

type objectInfo struct{ o *Object }

func (i objectInfo) Name() string       { return path.Base(i.o.key) }
func (i objectInfo) Size() int64        { return i.o.size }
func (i objectInfo) Mode() fs.FileMode  { return 0o444 }
func (i objectInfo) ModTime() time.Time { return i.o.mtime }
func (i objectInfo) IsDir() bool        { return false }
func (i objectInfo) Sys() any           { return nil }

// List returns the keys of every object under loc's prefix (a prefix is a
// "directory": s3://b/fleet/ lists fleet/..., never fleet2/...), sorted.
func List(ctx context.Context, c *s3.Client, loc Location) ([]string, error) {
	prefix := loc.Prefix
	if prefix != "" {
		prefix += "/"
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(loc.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s/: %s", loc, oneLine(err))
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); !strings.HasSuffix(k, "/") {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}
