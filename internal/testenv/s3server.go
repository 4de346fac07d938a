package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// VersityGWVersion is the S3 server the shipping tests run against; the
// test set-up installs it into CacheDir()/bin (go install, from the module
// proxy).
const VersityGWVersion = "v1.8.0"

// S3Server is a real S3-compatible server (versitygw, posix backend) on
// 127.0.0.1, storing into a temporary directory, versioning and object lock
// available. Stop and Start take it down and bring it back on the same
// address with the same data.
type S3Server struct {
	Endpoint       string // http://127.0.0.1:PORT
	Access, Secret string // the root user's keys
	Root           string // the posix backend's directory: buckets are its subdirectories

	t    testing.TB
	bin  string
	addr string
	args []string
	cmd  *exec.Cmd
}

// versitygwBinary finds versitygw on PATH, in the cache or in GOPATH/bin.
func versitygwBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	cands := []string{filepath.Join(CacheDir(), "bin", "versitygw")}
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		cands = append(cands, filepath.Join(string(trimNL(gp)), "bin", "versitygw"))
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	Skip(t, "versitygw not installed (bash .ci/setup installs it: go install github.com/versity/versitygw/cmd/versitygw@"+VersityGWVersion+")")
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// StartS3Server starts versitygw for the test; it is stopped at cleanup.
func StartS3Server(t testing.TB) *S3Server {
	t.Helper()
	bin := versitygwBinary(t)
	dir := t.TempDir()
	s := &S3Server{Access: "kexecrec-test-access", Secret: "kexecrec-test-secret-0123456789", Root: filepath.Join(dir, "data"), t: t, bin: bin}
	for _, d := range []string{s.Root, filepath.Join(dir, "versions")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	s.Endpoint = "http://" + s.addr
	s.args = []string{"--port", s.addr, "--access", s.Access, "--secret", s.Secret, "--region", "us-east-1", "--quiet",
		"posix", "--versioning-dir", filepath.Join(dir, "versions"), s.Root}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start runs the server (again) and waits until it accepts connections.
func (s *S3Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, s.args...)
	var out SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting versitygw: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("versitygw did not listen on %s: %s", s.addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop takes the server down (its data stays).
func (s *S3Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Setenv points the standard AWS environment at this server for the test.
func (s *S3Server) Setenv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_S3", s.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_PROFILE", "")
	// No shared files or instance metadata of the machine running the tests.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func (s *S3Server) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }
