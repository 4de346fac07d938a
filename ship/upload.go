package ship

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kexecrec/kexecrec/format"
)

// ErrConflict: an object with other content is already at the part's key.
// It is never replaced; the part stays pending and local.
var ErrConflict = errors.New("an object with different content is already stored at this key")

// uploader puts one part. Retain > 0 locks the object (compliance mode)
// until that long after the upload.
type uploader struct {
	client *s3.Client
	loc    Location
	retain time.Duration
}

// partInfo is what is needed to upload one local part.
type partInfo struct {
	key    string
	sha256 string // base64, as x-amz-checksum-sha256 carries it
	size   int64
}

// inspect reads a part's header (for its key) and its SHA-256.
func (u *uploader) inspect(path string) (partInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return partInfo{}, err
	}
	defer f.Close()
	r, err := format.NewReader(f, format.ReaderOptions{})
	if err != nil {
		return partInfo{}, fmt.Errorf("%s: reading its header: %w", path, err)
	}
	h := r.Header()
	r.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return partInfo{}, err
	}
	sum := sha256.New()
	n, err := io.Copy(sum, f)
	if err != nil {
		return partInfo{}, err
	}
	return partInfo{key: ObjectKey(u.loc.Prefix, h), sha256: base64.StdEncoding.EncodeToString(sum.Sum(nil)), size: n}, nil
}

// upload stores the part at p.key unless an identical object is already
// there (a previous run uploaded it and stopped before it could note that).
// It never replaces an object: If-None-Match: * makes the store refuse.
// The store checks the SHA-256 against the bytes it received and refuses a
// mismatch; the answer's checksum is compared with ours as well.
func (u *uploader) upload(ctx context.Context, path string, p partInfo) error {
	if same, err := u.alreadyStored(ctx, p); err != nil || same {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	in := &s3.PutObjectInput{
		Bucket:            aws.String(u.loc.Bucket),
		Key:               aws.String(p.key),
		Body:              io.NewSectionReader(f, 0, p.size),
		ContentLength:     aws.Int64(p.size),
		ContentType:       aws.String("application/vnd.kexecrec.capture"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(p.sha256),
		IfNoneMatch:       aws.String("*"),
	}
	if u.retain > 0 {
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(time.Now().Add(u.retain).UTC().Truncate(time.Second))
	}
	out, err := u.client.PutObject(ctx, in)
	if err != nil {
		if isPreconditionFailed(err) {
			// Someone (an earlier attempt whose answer was lost) stored it
			// between the check and the put.
			if same, herr := u.alreadyStored(ctx, p); herr == nil && same {
				return nil
			}
			return ErrConflict
		}
		return err
	}
	if out.ChecksumSHA256 != nil && *out.ChecksumSHA256 != p.sha256 {
		return fmt.Errorf("the store answered checksum %s for a part whose SHA-256 is %s", *out.ChecksumSHA256, p.sha256)
	}
	return nil
}

// alreadyStored reports whether the object is there with this checksum;
// an object with another is ErrConflict.
func (u *uploader) alreadyStored(ctx context.Context, p partInfo) (bool, error) {
	head, err := u.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(u.loc.Bucket), Key: aws.String(p.key), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		var nf *types.NotFound
		var api smithy.APIError
		if errors.As(err, &nf) || errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey") {
			return false, nil
		}
		return false, err
	}
	if head.ChecksumSHA256 != nil && *head.ChecksumSHA256 == p.sha256 && aws.ToInt64(head.ContentLength) == p.size {
		return true, nil
	}
	return false, ErrConflict
}

func isPreconditionFailed(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict")
}
