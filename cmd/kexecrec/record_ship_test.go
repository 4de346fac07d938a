package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/ship"
)

// startStore starts a real S3 server with an empty bucket "evidence" and
// points the standard AWS environment at it.
func startStore(t *testing.T) (*testenv.S3Server, *s3.Client) {
	t.Helper()
	srv := testenv.StartS3Server(t)
	srv.Setenv(t)
	c, err := ship.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("evidence")}); err != nil {
		t.Fatal(err)
	}
	old := shipBackoff
	shipBackoff = 20 * time.Millisecond
	t.Cleanup(func() { shipBackoff = old })
	return srv, c
}

func storedKeys(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("evidence")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

var wroteRE = regexp.MustCompile(`; wrote (.*)\n`)

func wroteFiles(t *testing.T, stderr string) []string {
	m := wroteRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no 'wrote' line: %s", stderr)
	}
	return strings.Split(m[1], ", ")
}

func TestRecordUploadsRotatedParts(t *testing.T) {
	_, c := startStore(t)
	useFakeAttach(t, 5)
	dir := t.TempDir()
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "kexec-{start}.kxr"), "--count", "5", "--rotate-size", "100K", "--max-files", "2",
		"--upload", "s3://evidence/fleet/"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	files := wroteFiles(t, errOut.String())
	t.Logf("stderr:\n%s", errOut)
	keys := storedKeys(t, c)
	if len(keys) != len(files) {
		t.Fatalf("%d parts written (%v), %d stored (%v)", len(files), files, len(keys), keys)
	}
	for _, k := range keys {
		if !regexp.MustCompile(`^fleet/[^/]+/[^/]+/[^/]+/[0-9a-f]{32}/[0-9]+\.zst$`).MatchString(k) {
			t.Errorf("key %q is not PREFIX/HOST/MACHINE-ID/BOOT-ID/SET-ID/PART.zst", k)
		}
	}
	if !strings.Contains(errOut.String(), "shipped "+strconv.Itoa(len(files))+" part(s) to s3://evidence/fleet, 0 pending") {
		t.Errorf("stderr does not say what was shipped: %s", errOut)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.kxr*[0-9r]"))
	if want := min(2, len(files)); len(left) != want {
		t.Errorf("local files %v, want the %d newest (--max-files 2, all uploaded)", left, want)
	}
	// summarize of the local set says where each part went.
	code, out, _ := runCLI(t, append([]string{"summarize", "--format", "json"}, left...)...)
	if code != ExitOK || strings.Count(out, `"shipping": "shipped to s3://evidence/fleet/`) != len(left) {
		t.Errorf("summarize: exit %d\n%s", code, out)
	}
}

func TestRecordUploadStoreDownThenRestart(t *testing.T) {
	srv, c := startStore(t)
	srv.Stop()
	old := shipDrainTimeout
	shipDrainTimeout = 200 * time.Millisecond
	t.Cleanup(func() { shipDrainTimeout = old })
	useFakeAttach(t, 3)
	dir := t.TempDir()
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "a.kxr"), "--count", "3", "--rotate-size", "100K", "--max-files", "1",
		"--upload", "s3://evidence/fleet"); code != ExitOK {
		t.Fatalf("store down: exit %d: %s", code, errOut)
	}
	files := wroteFiles(t, errOut.String())
	if !strings.Contains(errOut.String(), "store not reachable") || !strings.Contains(errOut.String(), ", "+strconv.Itoa(len(files))+" pending") {
		t.Fatalf("store down: stderr %s", errOut)
	}
	for _, f := range files { // none removed: none uploaded
		if _, err := os.Stat(f + ship.PendingSuffix); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, out, _ := runCLI(t, "summarize", files[0])
	if code != ExitOK || !regexp.MustCompile(`(?m)^  shipping +pending upload$`).MatchString(out) {
		t.Errorf("summarize of an unsent part: exit %d\n%s", code, out)
	}

	srv.Start()
	useFakeAttach(t, 1)
	ios, _, errOut = testIO()
	if code := runRecordCLI(t, ios, "-o", filepath.Join(dir, "b.kxr"), "--count", "1", "--upload", "s3://evidence/fleet"); code != ExitOK {
		t.Fatalf("restart: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), strconv.Itoa(len(files))+" part(s) left unsent by an earlier run queued") {
		t.Errorf("restart: stderr %s", errOut)
	}
	if keys := storedKeys(t, c); len(keys) != len(files)+1 {
		t.Errorf("stored %v, want the %d parts of the first run and the one of the second", keys, len(files))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.pending")); len(left) != 0 {
		t.Errorf("still pending: %v", left)
	}
}

func TestRecordUploadCredentialErrors(t *testing.T) {
	startStore(t)
	useFakeAttach(t, 1)
	for name, env := range map[string][2]string{
		"wrong secret": {"kexecrec-test-access", "wrong"},
		"missing":      {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", env[0])
			t.Setenv("AWS_SECRET_ACCESS_KEY", env[1])
			ios, _, errOut := testIO()
			path := filepath.Join(t.TempDir(), "c.kxr")
			code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--upload", "s3://evidence/x")
			msg := errOut.String()
			if code != ExitTrouble || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "kexecrec: record: --upload s3://evidence/x: ") {
				t.Fatalf("exit %d, stderr %q: want one line", code, msg)
			}
			if strings.Contains(msg, "attach mode") {
				t.Error("attached before checking the credentials")
			}
		})
	}
}

func TestRecordUploadFlagErrors(t *testing.T) {
	useFakeAttach(t, 1)
	out := filepath.Join(t.TempDir(), "c.kxr")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", out, "--upload-retain", "90d"}, "--upload-retain needs --upload"},
		{[]string{"-o", out, "--upload", "evidence/x"}, "not an s3://BUCKET/PREFIX URL"},
		{[]string{"-o", out, "--upload", "s3://evidence", "--upload-retain", "forever"}, "--upload-retain: retention \"forever\""},
	} {
		ios, _, errOut := testIO()
		code := runRecordCLI(t, ios, tc.args...)
		if code != ExitTrouble || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	ios, out2, errOut := testIO()
	ios.OutIsTerminal = false
	if code := runRecordCLI(t, ios, "-o", "-", "--upload", "s3://evidence"); code != ExitTrouble || !strings.Contains(errOut.String(), "--upload needs -o FILE") || out2.Len() != 0 {
		t.Errorf("-o -: exit %d, stderr %q", code, errOut)
	}
}
