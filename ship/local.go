package ship

import (
	"os"
	"strings"
)

// ShippedSuffix names the marker left beside a part once its upload is
// confirmed; it holds the object's s3:// URL. It goes with the part.
const ShippedSuffix = ".shipped"

// LocalState says what became of a local part: "shipped to s3://...",
// "pending upload", or "" when it was never marked for shipping.
func LocalState(path string) string {
	if _, err := os.Lstat(path + PendingSuffix); err == nil {
		return "pending upload"
	}
	if b, err := os.ReadFile(path + ShippedSuffix); err == nil {
		url := strings.TrimSpace(string(b))
		if len(url) > 1024 || !IsS3URL(url) || strings.ContainsFunc(url, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "shipped"
		}
		return "shipped to " + url
	}
	return ""
}
