package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
)

// TestServiceBoundsDiskAcrossRestarts runs the unit's command line twice,
// as two starts of the service (each begins a new {start} set), with small
// sizes in the environment file, and watches the state directory all the
// while: the parts of both sets together never exceed KEXECREC_MAX_TOTAL,
// the second start removes the first one's oldest parts, oldest first, and
// never the part being written.
func TestServiceBoundsDiskAcrossRestarts(t *testing.T) {
	testenv.Root(t)
	const maxTotal = 40 << 10
	state := t.TempDir()
	dir := filepath.Join(state, "kexecrec")
	os.Mkdir(dir, 0o700)
	argv := serviceCommandWith(t, state, map[string]string{
		"KEXECREC_ROTATE_SIZE": "8K", "KEXECREC_ROTATE_EVERY": "100ms", "KEXECREC_MAX_TOTAL": "40K",
	})[1:]
	// --no-payload: kexec calls other processes on this machine make while
	// the test runs land in these parts too, and must not swamp them.
	// --keep-evidence=false: such calls count as evidence (the kernel has no
	// kexec: ENOSYS, not EPERM) and would change the removal order.
	argv = append(argv, "--duration", "1500ms", "--no-payload", "--keep-evidence=false")
	parts := regexp.MustCompile(`^kexec-[0-9]{8}T[0-9]{6}Z\.kxr(\.[0-9]+)?$`)
	list := func() (names []string, total int64) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && parts.MatchString(e.Name()) {
				names = append(names, e.Name())
				total += fi.Size()
			}
		}
		return names, total
	}

	var mu sync.Mutex
	var worst int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the disk as an operator would see it, every 5 ms
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_, total := list()
			mu.Lock()
			worst = max(worst, total)
			mu.Unlock()
		}
	}()
	start := func() []string {
		out, err := exec.Command(kexecrecBinary(t), argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if strings.Contains(string(out), "warning: --max-total") {
			t.Errorf("bound reported exceeded:\n%s", out)
		}
		m := regexp.MustCompile(`; wrote (.*)\n`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no 'wrote' line:\n%s", out)
		}
		var names []string
		for _, f := range strings.Split(string(m[1]), ", ") {
			names = append(names, filepath.Base(f))
		}
		return names
	}
	first := start()
	time.Sleep(1100 * time.Millisecond) // the next {start} names a new set
	before, _ := list()
	second := start()
	close(stop)
	wg.Wait()
	after, total := list()
	t.Logf("first start wrote %d parts, %d left when the second began; the second wrote %d; %d left, %d bytes; at most %d bytes seen",
		len(first), len(before), len(second), len(after), total, worst)

	if worst > maxTotal {
		t.Errorf("the parts reached %d bytes, over KEXECREC_MAX_TOTAL %d", worst, maxTotal)
	}
	if len(first) < 5 || len(second) < 5 {
		t.Fatalf("parts written %v and %v: want a rotation every ~100ms", first, second)
	}
	if len(before) == 0 || !strings.HasPrefix(before[0], strings.SplitN(first[0], ".", 2)[0]) {
		t.Fatalf("parts left by the first start: %v", before)
	}
	last := second[len(second)-1]
	if !contains(after, last) {
		t.Errorf("the part being written when the second start stopped (%s) is gone: %v", last, after)
	}
	if contains(after, before[0]) {
		t.Errorf("the oldest part of the first start (%s) survived the second start: %v", before[0], after)
	}
	// Oldest first: what is left is the newest parts of the two starts.
	all := append(append([]string(nil), first...), second...)
	age := map[string]int{}
	for i, n := range all {
		age[n] = i
	}
	sort.Slice(after, func(i, j int) bool { return age[after[i]] < age[after[j]] })
	for i, n := range all[len(all)-len(after):] {
		if after[i] != n {
			t.Errorf("left %v, want the newest %d of %v", after, len(after), all)
			break
		}
	}
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
