package recorder

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/kexecrec/kexecrec/bpf"
	"github.com/kexecrec/kexecrec/bpf/layout"
)

// The readback (bpf/readback.h) reads each staged segment back from the
// kernel's pages at the syscall's exit. It needs three kernel data
// addresses that BTF does not carry (Debian's BTF has no global
// variables): the image pointers and page_offset_base, the direct map's
// base under KASLR. They come from /proc/kallsyms (data symbols are listed
// with CONFIG_KALLSYMS_ALL, as Debian builds; root sees real addresses).
var readbackSymbols = []string{"kexec_image", "kexec_crash_image", "page_offset_base"}

// fixedPageOffset is x86-64's direct map base without
// CONFIG_RANDOMIZE_MEMORY (__PAGE_OFFSET_BASE_L4): used when kallsyms has
// no page_offset_base.
const fixedPageOffset = 0xffff888000000000

// readbackConfig is what setConfig writes into readback.h's globals.
type readbackConfig struct {
	off                         uint32 // 0, or the layout.LS* status every segment gets
	kexecImage, kexecCrashImage uint64
	pageOffsetBase, pageOffset  uint64
	limitation                  *Limitation
}

// planReadback decides whether this run can read segments back, from the
// architecture, whether the kernel has kexec at all, and kallsyms.
func planReadback(noKexec bool) readbackConfig {
	if noKexec {
		return readbackConfig{off: layout.LSMode} // nothing will ever be staged
	}
	if runtime.GOARCH != "amd64" {
		return readbackOff(layout.LSMode, "loaded segments are not read back on "+runtime.GOARCH,
			"readback: only x86-64 is supported (arm64 unmaps the crash range and has no page_offset_base)")
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return readbackOff(layout.LSNoSymbols, "loaded segments are not read back (no kallsyms)", "readback: "+err.Error())
	}
	defer f.Close()
	rc, err := readbackFromKallsyms(f)
	if err != nil {
		return readbackOff(layout.LSNoSymbols, "loaded segments are not read back (kallsyms lacks the image pointers)", "readback: "+err.Error())
	}
	return rc
}

func readbackOff(status uint32, plain, detail string) readbackConfig {
	return readbackConfig{off: status, limitation: &Limitation{Plain: plain, Detail: detail}}
}

// readbackFromKallsyms finds the readback's addresses in a kallsyms listing.
func readbackFromKallsyms(r io.Reader) (readbackConfig, error) {
	want := map[string]bool{}
	for _, n := range readbackSymbols {
		want[n] = true
	}
	found := map[string]uint64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || !want[f[2]] {
			continue
		}
		if _, dup := found[f[2]]; dup {
			continue
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		found[f[2]] = a
	}
	if err := sc.Err(); err != nil {
		return readbackConfig{}, fmt.Errorf("read kallsyms: %w", err)
	}
	for _, n := range readbackSymbols[:2] {
		if found[n] == 0 {
			return readbackConfig{}, fmt.Errorf("kallsyms gives no address for %s (CONFIG_KALLSYMS_ALL off, or kptr_restrict)", n)
		}
	}
	rc := readbackConfig{kexecImage: found["kexec_image"], kexecCrashImage: found["kexec_crash_image"]}
	if a, ok := found["page_offset_base"]; ok {
		if a == 0 {
			return readbackConfig{}, fmt.Errorf("kallsyms hides page_offset_base's address (kptr_restrict)")
		}
		rc.pageOffsetBase = a
	} else {
		rc.pageOffset = fixedPageOffset
	}
	return rc, nil
}

// setReadbackConfig writes rc into readback.h's globals.
func setReadbackConfig(vars *bpf.KexecrecVariableSpecs, rc readbackConfig) error {
	for _, v := range []struct {
		spec  *ebpf.VariableSpec
		value any
	}{
		{vars.CfgRbOff, rc.off},
		{vars.CfgRbKexecImage, rc.kexecImage},
		{vars.CfgRbKexecCrashImage, rc.kexecCrashImage},
		{vars.CfgRbPageOffsetBase, rc.pageOffsetBase},
		{vars.CfgRbPageOffset, rc.pageOffset},
	} {
		if err := v.spec.Set(v.value); err != nil {
			return fmt.Errorf("recorder: set %s: %w", v.spec.Name, err)
		}
	}
	return nil
}
