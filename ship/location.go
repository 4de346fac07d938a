package ship

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Location is an s3://BUCKET/PREFIX URL.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slash; may be empty
}

func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// IsS3URL reports whether s names an object or prefix in S3 (s3://...).
func IsS3URL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseLocation parses s3://BUCKET[/PREFIX].
func ParseLocation(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3://BUCKET/PREFIX URL", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("%q has no bucket name", s)
	}
	if strings.ContainsAny(bucket, " \t\r\n?#") {
		return Location{}, fmt.Errorf("%q: invalid bucket name", s)
	}
	return Location{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
}

// ParseRetention parses a retention period: a number of days ("90d") or a
// Go duration ("2160h", "10m").
func ParseRetention(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("retention %q: want a positive number of days (90d) or a duration (2160h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, fmt.Errorf("retention %q: want a positive number of days (90d) or a duration (2160h)", s)
	}
	return dur, nil
}
