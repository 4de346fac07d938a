package deploy

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
	"github.com/kexecrec/kexecrec/replay"
)

// serviceCommand is the unit's ExecStart as systemd would run it: the
// environment file's values substituted, %S the state directory root.
func serviceCommand(t *testing.T, stateRoot string) []string {
	return serviceCommandWith(t, stateRoot, nil)
}

// serviceCommandWith is serviceCommand with some of the environment file's
// values replaced.
func serviceCommandWith(t *testing.T, stateRoot string, override map[string]string) []string {
	u := parseUnit(t, unitFile)
	env := parseUnit(t, "kexecrec.env")
	for k, v := range override {
		if _, ok := env[k]; !ok {
			t.Fatalf("the environment file does not set %s", k)
		}
		env[k] = []string{v}
	}
	var argv []string
	for _, word := range strings.Fields(u.get(t, "Service.ExecStart")) {
		word = strings.ReplaceAll(word, "%S", stateRoot)
		if name, ok := strings.CutPrefix(word, "$"); ok && !strings.HasPrefix(name, "{") {
			argv = append(argv, strings.Fields(env.get(t, name))...) // $VAR: split into words
			continue
		}
		argv = append(argv, os.Expand(word, func(name string) string { return env.get(t, name) }))
	}
	return argv
}

// unitCaps is the unit's capability set as setpriv names them (cap_bpf -> bpf).
func unitCaps(t *testing.T) []string {
	var caps []string
	for _, c := range strings.Fields(parseUnit(t, unitFile).get(t, "Service.CapabilityBoundingSet")) {
		caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	return caps
}

// recordWithCaps runs the unit's command line as root with exactly caps
// (bounding, inheritable and ambient sets, no new privileges: what systemd
// does with CapabilityBoundingSet/AmbientCapabilities/NoNewPrivileges) until
// one call is recorded. It returns the recorder's stderr, whether it got as
// far as attaching, and the calls recorded.
func recordWithCaps(t *testing.T, caps []string) (stderr string, attached bool, calls []*replay.Call) {
	t.Helper()
	setpriv := testenv.Tool(t, "setpriv")
	state := t.TempDir()
	os.Mkdir(filepath.Join(state, "kexecrec"), 0o700)
	set := "-all"
	for _, c := range caps {
		set += ",+" + c
	}
	argv := append([]string{"--bounding-set=" + set, "--inh-caps=" + set, "--ambient-caps=" + set, "--no-new-privs", "--",
		kexecrecBinary(t)}, serviceCommand(t, state)[1:]...)
	argv = append(argv, "--count", "1", "--duration", "60s")
	cmd := exec.Command(setpriv, argv...)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var log strings.Builder
	lines := bufio.NewScanner(errPipe)
	for lines.Scan() {
		fmt.Fprintln(&log, lines.Text())
		if strings.Contains(lines.Text(), "attach mode") {
			attached = true
			break
		}
	}
	if attached {
		res, err := trigger.KexecLoad(trigger.LoadSpec{Entry: 0x100000, Segments: []trigger.Segment{{Size: 4096}, {Size: 777}}, Seed: 71})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
	}
	rest, _ := io.ReadAll(errPipe)
	log.Write(rest)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-time.After(90 * time.Second):
		t.Fatalf("recorder did not stop after one call:\n%s", log.String())
	}
	if !attached {
		if err == nil {
			t.Fatalf("recorder exited 0 without attaching:\n%s", log.String())
		}
		return log.String(), false, nil
	}
	if err != nil {
		t.Fatalf("recorder with caps %v: %v\n%s", caps, err, log.String())
	}
	files, _ := filepath.Glob(filepath.Join(state, "kexecrec", "kexec-*.kxr"))
	if len(files) != 1 {
		t.Fatalf("capture files %v, want one kexec-{start}.kxr", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("capture %v mode %v, want 0600", err, fi.Mode())
	}
	c, err := replay.Open(files[0], replay.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Calls(func(call *replay.Call) error { calls = append(calls, call); return nil }); err != nil {
		t.Fatal(err)
	}
	return log.String(), true, calls
}

// TestServiceCapabilities runs the recorder as the unit does, with exactly
// its capabilities, and sees it attach and record a call with the caller's
// executable; then with each capability taken away, and sees what breaks;
// then with CAP_SYS_PTRACE added, and sees that it adds nothing.
func TestServiceCapabilities(t *testing.T) {
	testenv.Root(t)
	caps := unitCaps(t)
	if want := []string{"bpf", "perfmon"}; !slices.Equal(caps, want) {
		t.Fatalf("unit capabilities %v; this test knows why each of %v is needed", caps, want)
	}
	self, _ := os.Executable()

	var withUnitSet *replay.Call
	t.Run("unit set", func(t *testing.T) {
		log, attached, calls := recordWithCaps(t, caps)
		if !attached || len(calls) != 1 {
			t.Fatalf("attached %v, %d calls, want 1:\n%s", attached, len(calls), log)
		}
		withUnitSet = calls[0]
		if c := calls[0]; c.Caller.Exe != self || len(c.Caller.Argv) == 0 || c.Caller.Cwd == "" {
			t.Errorf("caller exe %q argv %q cwd %q, want %q, the test's argv and cwd", c.Caller.Exe, c.Caller.Argv, c.Caller.Cwd, self)
		}
	})
	t.Run("with sys_ptrace", func(t *testing.T) {
		if withUnitSet == nil {
			t.Skip("the unit set did not record")
		}
		_, attached, calls := recordWithCaps(t, append(slices.Clone(caps), "sys_ptrace"))
		if !attached || len(calls) != 1 {
			t.Fatalf("attached %v, %d calls", attached, len(calls))
		}
		a, b := withUnitSet.Caller, calls[0].Caller
		if a.Exe != b.Exe || !slices.Equal(a.Argv, b.Argv) || a.Cwd != b.Cwd || a.CgroupPath != b.CgroupPath || !maps.Equal(a.Sources, b.Sources) {
			t.Errorf("CAP_SYS_PTRACE changes what is recorded of the caller:\nwithout %+v\nwith    %+v", a, b)
		}
	})
	for _, drop := range caps {
		t.Run("without "+drop, func(t *testing.T) {
			fewer := slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == drop })
			log, attached, calls := recordWithCaps(t, fewer)
			switch drop {
			case "bpf", "perfmon":
				if attached {
					t.Fatalf("attached and recorded %d calls without %s:\n%s", len(calls), drop, log)
				}
			default:
				t.Fatalf("no expectation for dropping %s", drop)
			}
		})
	}
}
