// Package testenv decides whether a test that needs something from the
// machine (root, BPF, qemu, a Debian kernel) can run. Locally such a test
// skips with the reason; in CI (KEXECREC_REQUIRE_ALL=1, set by the test
// command) the same condition is a failure, so nothing is silently skipped.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireAllVar is the environment variable the test command sets.
const RequireAllVar = "KEXECREC_REQUIRE_ALL"

// Strict reports whether skips are failures.
func Strict() bool { return os.Getenv(RequireAllVar) == "1" }

// Skip skips t, or fails it in strict mode.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required test cannot run (%s=1): %s", RequireAllVar, reason)
	}
	t.Skip(reason)
}

// Root requires euid 0.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root")
	}
}

// Tool requires an executable on PATH and returns its path.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, name+" not installed")
	}
	return p
}

// Short skips expensive tests under -short, except in strict mode where
// everything runs.
func Short(t testing.TB, reason string) {
	t.Helper()
	if testing.Short() && !Strict() {
		t.Skip("-short: " + reason)
	}
}

// ArtifactDir is where tests leave files a person looks at after the run
// (screenshots, the qemu bed's results table): $KEXECREC_ARTIFACTS when
// set (CI names its artifact directory there), else kexecrec-artifacts in
// the temporary directory.
func ArtifactDir(t testing.TB) string {
	dir := os.Getenv("KEXECREC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kexecrec-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
