package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/identify/fdt"
	"github.com/kexecrec/kexecrec/replay/synth"
)

// arm64Capture is a kexec_load of an arm64 Image, an initrd and a device
// tree whose bootargs and model are hostile.
func arm64Capture(t *testing.T, bootargs, model string, initrdOff uint64) string {
	t.Helper()
	img := make([]byte, 70000)
	copy(img, "MZ\x40\xfa")
	copy(img[16:], []byte{0, 0, 0, 1}) // image_size 16 MiB
	img[24] = 0b0010                   // 4K pages
	copy(img[56:], "ARM\x64")
	copy(img[40000:], "Linux version 6.1.0-57-arm64 (debian-kernel@lists.debian.org) #1 SMP Debian\x00")
	initrd := synth.Cpio(map[string][]byte{"init": []byte("#!/bin/sh\n")})
	dtb := (&fdt.Tree{Root: &fdt.Node{
		Props: []fdt.Prop{{Name: "model", Value: fdt.Str(model)}},
		Children: []*fdt.Node{{Name: "chosen", Props: []fdt.Prop{
			{Name: "bootargs", Value: fdt.Str(bootargs)},
			{Name: "linux,initrd-start", Value: fdt.Cell32(0x48000000 + uint32(initrdOff))},
			{Name: "linux,initrd-end", Value: fdt.Cell32(0x48000000 + uint32(initrdOff) + uint32(len(initrd)))},
			{Name: "kaslr-seed", Value: make([]byte, 8)},
		}}},
	}}).Encode()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	segs := []synth.Segment{
		{Data: img, Mem: 0x40200000, MemSz: 0x1000000},
		{Data: initrd, Mem: 0x48000000, MemSz: 0x10000},
		{Data: dtb, Mem: 0x48200000, MemSz: 0x1000},
	}
	if err := w.KexecLoad(segs, 0x40200000); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "arm64.zst", buf.Bytes())
}

const (
	hostileBootargs = "root=/dev/vda init=/bin/sh \x1b]0;pwned\x07 <script>alert(1)</script> | `x` [l](javascript:alert(2))\nfake: line"
	hostileModel    = "\x1b[2J<img src=x onerror=alert(3)>|model"
)

// The dtb's bootargs are the call's command line and its model is shown, in
// every output format, inert: no raw control character, no markup.
func TestArm64HostileDeviceTree(t *testing.T) {
	p := arm64Capture(t, hostileBootargs, hostileModel, 0)
	outs := map[string]string{}
	for name, args := range map[string][]string{
		"show":           {"show", "--wide", p},
		"show-json":      {"show", "--format", "json", p},
		"show-ndjson":    {"show", "--format", "ndjson", p},
		"summarize":      {"summarize", p},
		"summarize-json": {"summarize", "--format", "json", p},
		"diff":           {"diff", p, arm64Capture(t, "console=ttyAMA0", "m", 0x100)},
		"timesketch":     {"export", "--format", "timesketch", "-o", "-", p},
		"case":           {"export", "--format", "case", "-o", "-", p},
	} {
		code, out, errOut := cli(args...)
		if code != ExitOK && !(name == "diff" && code == ExitFinding) {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		outs[name] = out
	}
	for _, f := range []string{"html", "md"} {
		out, err := reportOut(t, f, []string{p}, nil)
		if code := exitOf(err); code != ExitOK {
			t.Fatalf("report %s: exit %d: %v", f, code, err)
		}
		outs["report-"+f] = out
	}
	for name, out := range outs {
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
			t.Errorf("%s: raw control character at %d: %q", name, i, out[max(0, i-40):min(len(out), i+40)])
		}
		if strings.Contains(out, "\nfake: line") {
			t.Errorf("%s: the bootargs' newline started a line of its own", name)
		}
		if strings.HasPrefix(name, "report-html") && (strings.Contains(out, "<script>alert") || strings.Contains(out, "<img src")) {
			t.Errorf("%s: markup from the capture", name)
		}
	}
	// The command line is there (escaped), in text and in JSON exactly.
	if !strings.Contains(outs["show"], `init=/bin/sh \x1b]0;pwned\a`) || !strings.Contains(outs["show"], `kernel     6.1.0-57-arm64`) {
		t.Errorf("show lacks the cmdline or the kernel:\n%s", outs["show"])
	}
	var call replay.Call
	if err := json.Unmarshal([]byte(outs["show-ndjson"]), &call); err != nil || len(call.Payloads) != 3 {
		t.Fatalf("show ndjson: %v, %d payloads", err, len(call.Payloads))
	}
	if got := replay.EffectiveCmdline(&call); got != hostileBootargs {
		t.Errorf("json cmdline %q", got)
	}
	if call.DTBInitrd == nil || !call.DTBInitrd.Match || call.DTBInitrd.Segment != 1 {
		t.Errorf("json dtb_initrd %+v", call.DTBInitrd)
	}
	if dt := call.Payloads[2].Identity.DeviceTree; dt == nil || dt.Model != hostileModel || len(dt.ZeroSeeds) != 1 {
		t.Errorf("json device tree %+v", dt)
	}
	// diff: the command line (dtb bootargs) and the initrd verdict changed.
	d := outs["diff"]
	if !strings.Contains(d, "cmdline") || !strings.Contains(d, "dtb initrd range match -> MISMATCH") {
		t.Errorf("diff:\n%s", d)
	}
	if !strings.Contains(outs["summarize"], "DTB initrd range: 1 checked, 1 match, 0 MISMATCH") {
		t.Errorf("summarize:\n%s", outs["summarize"])
	}
}
