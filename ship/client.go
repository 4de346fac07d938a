package ship

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// ErrNoCredentials: the standard configuration gave no credentials.
var ErrNoCredentials = errors.New("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared credentials file")

// NewClient builds an S3 client from the standard AWS environment and
// shared config files. A custom endpoint (AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL: a local MinIO, Ceph RGW, versitygw) gets path-style
// addressing, which such servers expect. Without a region, us-east-1.
// Credentials are looked up now (bounded by ctx), so that none at all is a
// clear error at start-up rather than a failing upload hours later.
func NewClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %v", oneLine(err))
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Credentials == nil {
		return nil, ErrNoCredentials
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	creds, err := cfg.Credentials.Retrieve(cctx)
	if err != nil || !creds.HasKeys() {
		return nil, ErrNoCredentials
	}
	custom := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" || cfg.BaseEndpoint != nil
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = custom
		// The recorder's own retry loop (backoff, resume after restarts)
		// decides about retries; the SDK tries a request a few times.
		o.RetryMaxAttempts = 2
	}), nil
}

// CheckBucket reports whether the bucket can be reached with these
// credentials. Refused credentials or a missing bucket are errors to stop
// on (*AccessError); a store that does not answer is not (the caller
// queues and retries), and comes back as a plain error.
func CheckBucket(ctx context.Context, c *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if refused(err) {
		return &AccessError{Bucket: bucket, Err: err}
	}
	return err
}

// AccessError: the store answered and refused (wrong credentials, no such
// bucket, no permission).
type AccessError struct {
	Bucket string
	Err    error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("bucket %s: %s", e.Bucket, oneLine(e.Err))
}

func (e *AccessError) Unwrap() error { return e.Err }

// refused reports whether err is the store's answer that this request is
// not allowed (as opposed to no answer at all).
func refused(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusForbidden, http.StatusUnauthorized, http.StatusNotFound, http.StatusBadRequest, http.StatusMovedPermanently:
			return true
		}
	}
	return false
}

// oneLine shortens an SDK error to one line: the API code and message
// when the store answered (the SDK's own text adds the operation, request
// ids and a wrapped chain), the network error when it did not.
func oneLine(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg := api.ErrorCode(), api.ErrorMessage()
		var re interface{ HTTPStatusCode() int }
		status := 0
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		if msg == code || msg == http.StatusText(status) {
			msg = "" // the SDK's stand-in when the answer had no body
		}
		switch {
		case code == "InvalidAccessKeyId":
			msg = "the access key is not known to the store (check AWS_ACCESS_KEY_ID)"
		case code == "SignatureDoesNotMatch":
			msg = "the secret key is wrong (check AWS_SECRET_ACCESS_KEY)"
		case msg == "" && status == http.StatusForbidden:
			// HEAD answers have no body: no code, no message.
			msg = "access denied (HTTP 403): check the credentials and the bucket policy"
		case msg == "" && status == http.StatusNotFound:
			msg = "not found (HTTP 404): check the bucket name"
		case msg == "":
			msg = "refused"
		}
		return code + ": " + strings.ReplaceAll(msg, "\n", " ")
	}
	s := err.Error()
	if i := strings.Index(s, "dial tcp"); i >= 0 {
		return s[i:] // "dial tcp 127.0.0.1:9000: connect: connection refused"
	}
	return strings.ReplaceAll(s, "\n", " ")
}
