package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
)

// TestShowRealKexecLoad is issue 6's acceptance check on a capture the qemu
// bed recorded (Debian 6.1, kprobe mode) of a real
//
//	kexec -l --kexec-syscall --initrd=initrd.small --append="console=ttyS0 panic=-1 kexecrec.vmtest=loaded" vmlinuz
//
// show must name the kernel version, the command line, the initramfs files
// (with the SHA-256 of the one file the bed put in it) and the purgatory
// digest verdict, in JSON and in the table.
func TestShowRealKexecLoad(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "samples", "real-6.1-kprobe-kexec_load.zst")
	const (
		version = "6.1.0-57-amd64"
		cmdline = "console=ttyS0 panic=-1 kexecrec.vmtest=loaded"
		file    = "etc/kexecrec-vmtest"
	)
	// What vmtest's smallInitrd wrote into that file.
	sum := sha256.Sum256([]byte("kexecrec vmtest initrd for Debian 6.1\n"))
	fileSHA := hex.EncodeToString(sum[:])

	code, out, errOut := cli("show", "--format", "ndjson", sample)
	if code != ExitOK {
		t.Fatalf("show exit %d: %s", code, errOut)
	}
	var call replay.Call
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &call); err != nil {
		t.Fatalf("one call expected: %v\n%s", err, out)
	}
	if call.Syscall != "kexec_load" || call.Outcome != "ok" || len(call.Payloads) != 5 {
		t.Fatalf("call %s %s with %d payloads", call.Syscall, call.Outcome, len(call.Payloads))
	}
	var gotVersion, gotCmdline, gotFile bool
	for _, p := range call.Payloads {
		if !p.Complete || p.Identity == nil {
			t.Fatalf("payload %s %d: complete %v identity %v", p.Kind, p.Index, p.Complete, p.Identity)
		}
		id := p.Identity
		switch id.Type {
		case "kernel":
			gotVersion = id.KernelVersion == version
		case "boot-params":
			gotCmdline = id.Cmdline == cmdline
		case "initramfs":
			for _, a := range id.Initramfs.Archives {
				for _, f := range a.Files {
					if f.Path == file && f.SHA256 == fileSHA {
						gotFile = true
					}
				}
			}
		}
	}
	if !gotVersion || !gotCmdline || !gotFile {
		t.Errorf("identified: kernel version %v, cmdline %v, initramfs file %v", gotVersion, gotCmdline, gotFile)
	}
	if v := call.Purgatory; v == nil || !v.Found || !v.Match || !v.EntryInPurgatory || v.Stored != v.Computed {
		t.Errorf("purgatory verdict %+v", call.Purgatory)
	}

	code, table, errOut := cli("show", sample)
	if code != ExitOK {
		t.Fatalf("show exit %d: %s", code, errOut)
	}
	for _, want := range []string{version, cmdline, "initramfs", "/" + file + " 38 bytes sha256 " + fileSHA[:12], "digest MATCHES"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
