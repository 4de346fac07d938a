package recorder

import (
	"os"
	"testing"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/recorder/trigger"
)

// BenchmarkKexecCallerReads measures what the caller reads at syscall entry
// (bpf/caller.h: executable, cwd, tty, cgroup, 8 ancestors, argv) cost each
// kexec call: the wall time of the kexec_load syscall itself
// (syscall-ns/kexec; CAP_SYS_BOOT dropped, one 64-byte segment; ns/op adds
// the trigger's own set-up, the same in every variant) in raw mode with and
// without them. The difference of the syscall-ns/kexec figures is their
// cost; other syscalls never run them (BenchmarkGetppid's figures). Run as
// root:
//
//	go test ./recorder -run '^$' -bench KexecCallerReads -count 5
func BenchmarkKexecCallerReads(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  AttachConfig
	}{
		{"no-caller-reads", AttachConfig{noCallerReads: true}},
		{"caller-reads", AttachConfig{}},
		{"caller-reads+env", AttachConfig{Env: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			testenv.Root(b)
			cfg := c.cfg
			cfg.Mode = ModeRaw
			cfg.OnlyPID = uint32(os.Getpid())
			src, err := Attach(cfg)
			if err != nil {
				testenv.Skip(b, "cannot attach BPF programs: "+shortErr(err))
			}
			defer src.Close()
			go drain(src)
			spec := trigger.LoadSpec{Entry: 0x100000, Segments: []trigger.Segment{{Size: 64}}}
			var syscallNS int64
			for b.Loop() {
				res, err := trigger.KexecLoad(spec)
				if err != nil {
					b.Fatal(err)
				}
				syscallNS += res.DurationNS
				res.Release()
			}
			b.ReportMetric(float64(syscallNS)/float64(b.N), "syscall-ns/kexec")
		})
	}
}
