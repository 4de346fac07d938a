package ship

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kexecrec/kexecrec/format"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

// writePart writes a small complete capture part (header, one blob of
// random bytes so parts differ, trailer) as part n of set.
func writePart(t *testing.T, path string, set [16]byte, n uint32) format.Header {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := format.Header{Hostname: "node-1", MachineID: "0123456789abcdef0123456789abcdef", BootID: "6a1d0c6e-1b5a-4f0e-9f5e-2c3a9b8d7e61",
		Arch: "amd64", ByteOrder: "little", WriterVersion: "test", SetID: set, Part: n, WallStart: time.Now()}
	w, err := format.NewWriter(f, h, format.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := w.NewBlob()
	junk := make([]byte, 3000)
	rand.Read(junk)
	b.Write(junk)
	if _, err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

type fixture struct {
	srv    *testenv.S3Server
	client *s3.Client
	loc    Location
	dir    string
	set    [16]byte
	logMu  sync.Mutex
	log    []string
}

func newFixture(t *testing.T, lock bool) *fixture {
	t.Helper()
	srv := testenv.StartS3Server(t)
	srv.Setenv(t)
	c, err := NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{srv: srv, client: c, loc: Location{Bucket: "evidence", Prefix: "fleet/kexec"}, dir: t.TempDir()}
	rand.Read(fx.set[:])
	in := &s3.CreateBucketInput{Bucket: aws.String(fx.loc.Bucket)}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(context.Background(), in); err != nil {
		t.Fatalf("creating the bucket: %v", err)
	}
	if !lock { // versions show whether anything was uploaded twice
		_, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(fx.loc.Bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		if err != nil {
			t.Fatalf("enabling versioning: %v", err)
		}
	}
	return fx
}

func (fx *fixture) shipper(keep int, retain time.Duration) *Shipper {
	return New(Config{Client: fx.client, Location: fx.loc, KeepLocal: keep, Retain: retain,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Log: func(s string) { fx.logMu.Lock(); fx.log = append(fx.log, s); fx.logMu.Unlock() }})
}

// record makes parts first..last the way the recorder does: opened
// (marker), written, sealed.
func (fx *fixture) record(t *testing.T, s *Shipper, first, last uint32) []string {
	var names []string
	for n := first; n <= last; n++ {
		name := filepath.Join(fx.dir, "kexec.kxr")
		if n > 0 {
			name += "." + string(rune('0'+n))
		}
		if err := s.Opened(name); err != nil {
			t.Fatal(err)
		}
		writePart(t, name, fx.set, n)
		s.Sealed(name)
		names = append(names, name)
	}
	return names
}

// checkStored: every part is in the bucket at its key, byte for byte, with
// its SHA-256 as the stored checksum, in exactly one version.
func (fx *fixture) checkStored(t *testing.T, content map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	versions := map[string]int{}
	out, err := fx.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(fx.loc.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out.Versions {
		versions[aws.ToString(v.Key)]++
	}
	if len(versions) != len(content) {
		t.Errorf("bucket holds %v, want %d objects", versions, len(content))
	}
	for key, want := range content {
		if versions[key] != 1 {
			t.Errorf("%s stored %d times, want once", key, versions[key])
		}
		got, err := fx.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		sum := sha256.Sum256(want)
		if !bytes.Equal(b, want) {
			t.Errorf("%s: %d bytes stored differ from the %d of the part", key, len(b), len(want))
		}
		if c := aws.ToString(got.ChecksumSHA256); c != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("%s: stored checksum %q, want the part's SHA-256", key, c)
		}
	}
}

func (fx *fixture) contents(t *testing.T, names []string, m map[string][]byte) map[string][]byte {
	if m == nil {
		m = map[string][]byte{}
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		r, err := format.NewReader(bytes.NewReader(b), format.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := r.Header()
		r.Close()
		m[ObjectKey(fx.loc.Prefix, h)] = b
	}
	return m
}

func drain(t *testing.T, s *Shipper) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Run(ctx, true)
	if st := s.Status(); st.Pending != 0 {
		t.Fatalf("after draining: %+v", st)
	}
}

func localFiles(t *testing.T, dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadRotatedParts(t *testing.T) {
	fx := newFixture(t, false)
	s := fx.shipper(2, 0)
	names := fx.record(t, s, 0, 3)
	want := fx.contents(t, names, nil)
	drain(t, s)
	fx.checkStored(t, want)
	if st := s.Status(); st.Shipped != 4 {
		t.Errorf("status %+v, want 4 shipped", st)
	}
	// --max-files 2: the two newest stay, the older ones (uploaded) went;
	// no marker is left.
	if got := strings.Join(localFiles(t, fx.dir), " "); got != "kexec.kxr.2 kexec.kxr.2.shipped kexec.kxr.3 kexec.kxr.3.shipped" {
		t.Errorf("local files %q, want the two newest parts, marked shipped", got)
	}
	if got, want := LocalState(names[3]), "shipped to s3://evidence/"+ObjectKey(fx.loc.Prefix, headerOf(t, names[3])); got != want {
		t.Errorf("LocalState %q, want %q", got, want)
	}
	if want := "fleet/kexec/node-1/0123456789abcdef0123456789abcdef/6a1d0c6e-1b5a-4f0e-9f5e-2c3a9b8d7e61/"; !strings.HasPrefix(ObjectKey(fx.loc.Prefix, format.Header{Hostname: "node-1",
		MachineID: "0123456789abcdef0123456789abcdef", BootID: "6a1d0c6e-1b5a-4f0e-9f5e-2c3a9b8d7e61"}), want) {
		t.Errorf("key layout is not PREFIX/HOST/MACHINE-ID/BOOT-ID/...")
	}
}

// TestServerChecksChecksum: the store itself refuses a body whose SHA-256
// is not the one sent, so a part damaged in transit is never stored.
func TestServerChecksChecksum(t *testing.T) {
	fx := newFixture(t, false)
	body := []byte("the part's bytes")
	other := sha256.Sum256([]byte("other bytes"))
	_, err := fx.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String("x"),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(other[:]))})
	if err == nil {
		t.Fatal("the store accepted a body with a wrong SHA-256")
	}
	if !strings.Contains(err.Error(), "BadDigest") && !strings.Contains(err.Error(), "Checksum") {
		t.Fatalf("refused, but not for the checksum: %v", err)
	}
	t.Logf("the store says: %s", oneLine(err))
}

func TestStoreDownAtStartAndMidRun(t *testing.T) {
	fx := newFixture(t, false)
	fx.srv.Stop()
	s := fx.shipper(1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, false); close(done) }()

	want := fx.contents(t, fx.record(t, s, 0, 2), nil)
	waitFor(t, "the failure to be noticed", func() bool { return s.Status().Failing != "" })
	if st := s.Status(); st.Shipped != 0 || st.Pending != 3 {
		t.Fatalf("store down: %+v, want 3 pending", st)
	}
	if st := LocalState(filepath.Join(fx.dir, "kexec.kxr")); st != "pending upload" {
		t.Errorf("LocalState %q while the store is down", st)
	}
	// Nothing is removed while it is not uploaded, --max-files or not.
	if n := len(localFiles(t, fx.dir)); n != 6 {
		t.Fatalf("store down: %d local files (parts and markers), want 6: %v", n, localFiles(t, fx.dir))
	}
	fx.srv.Start()
	waitFor(t, "the queue to drain", func() bool { return s.Status().Pending == 0 })

	fx.srv.Stop() // down again mid-run
	fx.contents(t, fx.record(t, s, 3, 4), want)
	waitFor(t, "the second failure", func() bool { return s.Status().Failing != "" })
	fx.srv.Start()
	waitFor(t, "the queue to drain again", func() bool { return s.Status().Pending == 0 })
	cancel()
	<-done

	fx.checkStored(t, want)
	if got := strings.Join(localFiles(t, fx.dir), " "); got != "kexec.kxr.4 kexec.kxr.4.shipped" {
		t.Errorf("local files %q, want only the newest part", got)
	}
	fx.logMu.Lock()
	defer fx.logMu.Unlock()
	if len(fx.log) == 0 || !strings.Contains(strings.Join(fx.log, "\n"), "works again") {
		t.Errorf("log %q does not tell the failure and the recovery", fx.log)
	}
}

// TestRestartPicksUpUnsentParts: parts with a marker, left by a run that
// stopped (or crashed) before it could upload them, are shipped by the next;
// one that was uploaded but whose marker survived is not uploaded twice.
func TestRestartPicksUpUnsentParts(t *testing.T) {
	fx := newFixture(t, false)
	first := fx.shipper(0, 0)
	names := fx.record(t, first, 0, 2)
	// The first run shipped part 0 only, and died before removing its marker.
	p0, err := first.up.inspect(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := first.up.upload(context.Background(), names[0], p0); err != nil {
		t.Fatal(err)
	}
	second := fx.shipper(0, 0)
	n, err := second.Recover(fx.dir)
	if err != nil || n != 3 {
		t.Fatalf("recovered %d (%v), want 3", n, err)
	}
	drain(t, second)
	fx.checkStored(t, fx.contents(t, names, nil))
	for _, name := range names {
		if _, err := os.Stat(name + PendingSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still marked pending", name)
		}
	}
}

// TestObjectLockRefusesDelete: an object uploaded with --upload-retain
// cannot be deleted or replaced, even with the uploader's own credentials.
func TestObjectLockRefusesDelete(t *testing.T) {
	fx := newFixture(t, true)
	s := fx.shipper(0, time.Hour)
	names := fx.record(t, s, 0, 0)
	drain(t, s)
	key := ObjectKey(fx.loc.Prefix, format.Header{Hostname: "node-1", MachineID: "0123456789abcdef0123456789abcdef",
		BootID: "6a1d0c6e-1b5a-4f0e-9f5e-2c3a9b8d7e61", SetID: fx.set})
	ctx := context.Background()
	ret, err := fx.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("reading the retention: %v", err)
	}
	if ret.Retention.Mode != types.ObjectLockRetentionModeCompliance || time.Until(aws.ToTime(ret.Retention.RetainUntilDate)) < 50*time.Minute {
		t.Fatalf("retention %+v, want compliance for an hour", ret.Retention)
	}
	head, err := fx.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key), VersionId: head.VersionId}); err == nil {
		t.Fatal("a locked capture was deleted")
	}
	if _, err := fx.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key),
		VersionId: head.VersionId, BypassGovernanceRetention: aws.Bool(true)}); err == nil {
		t.Fatal("a locked capture was deleted bypassing governance retention (compliance mode must refuse)")
	}
	// Writing over it makes a new version at best; the locked one stays.
	fx.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key), Body: strings.NewReader("forged"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if _, err := fx.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key),
		VersionId: head.VersionId, Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance,
			RetainUntilDate: aws.Time(time.Now().Add(time.Minute))}}); err == nil {
		t.Error("the retention of a compliance-locked capture was shortened")
	}
	got, err := fx.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key), VersionId: head.VersionId})
	if err != nil {
		t.Fatalf("the locked capture is gone: %v", err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	want, _ := os.ReadFile(names[0])
	if !bytes.Equal(b, want) {
		t.Fatal("the locked capture changed")
	}
}

func TestCredentialErrors(t *testing.T) {
	fx := newFixture(t, false)
	ctx := context.Background()

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	c, err := NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckBucket(ctx, c, fx.loc.Bucket)
	var access *AccessError
	if !errors.As(err, &access) {
		t.Fatalf("wrong secret: %v, want an AccessError", err)
	}
	t.Logf("wrong secret: %v", err)
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "evidence") || !strings.Contains(msg, "credentials") {
		t.Errorf("wrong secret: %q, want one line naming the bucket", msg)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := NewClient(ctx); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func headerOf(t *testing.T, path string) format.Header {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := format.NewReader(bytes.NewReader(b), format.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.Header()
}

// TestNeverReplaces: an object already at a part's key with other content
// is left alone; the part stays local and pending, and the others ship.
func TestNeverReplaces(t *testing.T) {
	fx := newFixture(t, false)
	s := fx.shipper(0, 0)
	names := fx.record(t, s, 0, 1)
	key := ObjectKey(fx.loc.Prefix, headerOf(t, names[0]))
	if _, err := fx.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key),
		Body: strings.NewReader("someone else's"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Run(ctx, true)
	if st := s.Status(); st.Shipped != 1 || st.Pending != 1 {
		t.Errorf("status %+v, want 1 shipped, 1 pending", st)
	}
	if LocalState(names[0]) != "pending upload" || !strings.HasPrefix(LocalState(names[1]), "shipped to ") {
		t.Errorf("states %q %q", LocalState(names[0]), LocalState(names[1]))
	}
	got, err := fx.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(fx.loc.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "someone else's" || !strings.Contains(strings.Join(fx.log, "\n"), "different content") {
		t.Errorf("object %q, log %q", b, fx.log)
	}
}

// TestKeepLocalAcrossRestarts: parts an earlier run shipped count against
// KeepLocal, so a restarted recorder (a new set) keeps the disk bounded.
func TestKeepLocalAcrossRestarts(t *testing.T) {
	fx := newFixture(t, false)
	first := fx.shipper(2, 0)
	fx.record(t, first, 0, 2)
	drain(t, first)
	if got := len(localFiles(t, fx.dir)); got != 4 {
		t.Fatalf("first run left %d files, want 2 parts with their markers", got)
	}
	second := fx.shipper(2, 0)
	if n, err := second.Recover(fx.dir); err != nil || n != 0 {
		t.Fatalf("recovered %d to upload (%v), want 0: all were shipped", n, err)
	}
	rand.Read(fx.set[:]) // a new set, as after a restart
	for n := uint32(0); n <= 1; n++ {
		name := filepath.Join(fx.dir, "next.kxr"+map[uint32]string{0: "", 1: ".1"}[n])
		if err := second.Opened(name); err != nil {
			t.Fatal(err)
		}
		writePart(t, name, fx.set, n)
		second.Sealed(name)
	}
	drain(t, second)
	if got := strings.Join(localFiles(t, fx.dir), " "); got != "next.kxr next.kxr.1 next.kxr.1.shipped next.kxr.shipped" {
		t.Errorf("local files %q, want only the new set's two parts", got)
	}
}
