// Command kexec-trigger issues one kexec_load or kexec_file_load call for
// testing kexecrec, with CAP_SYS_BOOT dropped from the calling thread so the
// kernel can never load or unload a kernel, and prints what it passed
// (arguments, buffer addresses, SHA-256 of every buffer) as JSON.
//
//	kexec-trigger -sizes 1,4K,16M,256M
//	kexec-trigger -segments 17 -size 512
//	kexec-trigger -sizes 100 -unreadable 0 -flags 0xdead0000
//	kexec-trigger -ia32 -sizes 777,300K
//	kexec-trigger -file -kernel vmlinuz -initrd initrd.img -cmdline "console=ttyS0"
//	kexec-trigger -sizes 100 -wait-stdin -note "$(head -c 9000 /dev/zero | tr '\0' x)"
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/recorder/trigger"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kexec-trigger:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kexec-trigger", flag.ContinueOnError)
	sizes := fs.String("sizes", "", "comma-separated segment sizes (suffixes K, M, G)")
	nseg := fs.Int("segments", 0, "number of segments of -size bytes (instead of -sizes)")
	size := fs.String("size", "4K", "segment size for -segments")
	nr := fs.Uint64("nr", 0, "nr_segments to pass (default: the number of segments)")
	unreadable := fs.String("unreadable", "", "comma-separated segment indexes whose buffer is a PROT_NONE page")
	flagsArg := fs.String("flags", "0", "flags argument (kexec_load: e.g. 0x3e0000)")
	entry := fs.String("entry", "0x100000", "entry argument of kexec_load")
	seed := fs.Uint64("seed", 1, "pattern seed for the buffers")
	file := fs.Bool("file", false, "call kexec_file_load instead of kexec_load")
	ia32 := fs.Bool("ia32", false, "kexec_load as a 32-bit process (int 0x80, syscall 283, compat entries)")
	x32 := fs.Bool("x32", false, "kexec_load with x32's syscall number and compat entries")
	kernel := fs.String("kernel", "", "kexec_file_load: kernel file")
	initrd := fs.String("initrd", "", "kexec_file_load: initrd file (-1 fd when empty)")
	cmdline := fs.String("cmdline", "", "kexec_file_load: command line (a NUL is appended)")
	keepSysBoot := fs.Bool("keep-sys-boot", false, "kexec_load with CAP_SYS_BOOT kept (a privileged caller's ring budget); needs -nr above 16, which every kernel refuses before loading anything")
	waitStdin := fs.Bool("wait-stdin", false, "read one line from stdin before the call (a test can change the process's state first)")
	fs.String("note", "", "ignored: lets a test make argv as long as it needs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	flags, err := strconv.ParseUint(*flagsArg, 0, 64)
	if err != nil {
		return fmt.Errorf("-flags: %v", err)
	}
	if *waitStdin {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return fmt.Errorf("-wait-stdin: %v", err)
		}
	}

	var res *trigger.Result
	if *file {
		kfd, ifd := -1, -1
		if *kernel != "" {
			f, err := os.Open(*kernel)
			if err != nil {
				return err
			}
			defer f.Close()
			kfd = int(f.Fd())
		}
		if *initrd != "" {
			f, err := os.Open(*initrd)
			if err != nil {
				return err
			}
			defer f.Close()
			ifd = int(f.Fd())
		}
		var cl []byte
		if *cmdline != "" {
			cl = append([]byte(*cmdline), 0)
		}
		res, err = trigger.KexecFileLoad(trigger.FileLoadSpec{KernelFD: kfd, InitrdFD: ifd, Cmdline: cl, Flags: flags})
		if err != nil {
			return err
		}
	} else {
		ent, err := strconv.ParseUint(*entry, 0, 64)
		if err != nil {
			return fmt.Errorf("-entry: %v", err)
		}
		var segs []trigger.Segment
		switch {
		case *sizes != "" && *nseg != 0:
			return fmt.Errorf("use -sizes or -segments, not both")
		case *sizes != "":
			for _, s := range strings.Split(*sizes, ",") {
				n, err := parseSize(s)
				if err != nil {
					return err
				}
				segs = append(segs, trigger.Segment{Size: n})
			}
		case *nseg > 0:
			n, err := parseSize(*size)
			if err != nil {
				return err
			}
			if *nseg > 1024 {
				return fmt.Errorf("-segments %d: at most 1024", *nseg)
			}
			for range *nseg {
				segs = append(segs, trigger.Segment{Size: n})
			}
		default:
			return fmt.Errorf("no segments: give -sizes or -segments (nr_segments 0 would unload the kernel and is refused)")
		}
		if *unreadable != "" {
			for _, s := range strings.Split(*unreadable, ",") {
				i, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || i < 0 || i >= len(segs) {
					return fmt.Errorf("-unreadable: bad segment index %q", s)
				}
				if segs[i].Size == 0 {
					return fmt.Errorf("-unreadable: segment %d has size 0", i)
				}
				segs[i].Unreadable = true
			}
		}
		res, err = trigger.KexecLoad(trigger.LoadSpec{Entry: ent, Segments: segs, NrSegments: *nr, Flags: flags, Seed: *seed, IA32: *ia32, X32: *x32, KeepSysBoot: *keepSysBoot})
		if err != nil {
			return err
		}
		defer res.Release()
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// parseSize reads 4096, 4K, 16M, 1G.
func parseSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > (1<<30)/mult {
		return 0, fmt.Errorf("bad size %q (0..1G)", s)
	}
	return n * mult, nil
}
