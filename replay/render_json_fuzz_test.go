package replay

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// FuzzRenderJSON pairs RenderJSON, the one encoder of a call (show --format
// json|ndjson, replay, record --json), with encoding/json: whatever the
// strings and numbers of a call, the line is valid JSON, byte for byte what
// json.Marshal gives, and decodes back to the call's values.
func FuzzRenderJSON(f *testing.F) {
	f.Add("kexec", "/usr/sbin/kexec", "-l", "console=ttyS0", "EPERM", uint64(1), uint64(0x3e0000), int64(-1), int64(1700000000123456789), uint8(0))
	f.Add("bad\x00comm", "/tmp/<x>&\"y\"", "\u2028\xff", "root=/dev/sda \\ \t", "", uint64(1<<63), uint64(0), int64(0), int64(0), uint8(0xff))
	f.Add("", "", "", "", "E2BIG", uint64(0), ^uint64(0), int64(-1<<63), int64(-62135596800000000), uint8(0x55))
	f.Fuzz(func(t *testing.T, comm, exe, arg, cmdline, errno string, id, flags uint64, ret, unixNS int64, opt uint8) {
		c := fuzzCall(comm, exe, arg, cmdline, errno, id, flags, ret, unixNS, opt)
		var got bytes.Buffer
		err := RenderJSON(&got, c)
		want, werr := json.Marshal(c)
		if (err != nil) != (werr != nil) {
			t.Fatalf("RenderJSON error %v, json.Marshal error %v", err, werr)
		}
		if err != nil {
			return // a time json cannot write (year outside 0..9999): both refuse
		}
		line := got.Bytes()
		if len(line) == 0 || line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		line = line[:len(line)-1]
		if !json.Valid(line) {
			t.Fatalf("invalid JSON: %s", line)
		}
		if !bytes.Equal(line, want) {
			t.Fatalf("differs from json.Marshal:\n got %s\nwant %s", line, want)
		}
		var back Call
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("decode: %v\n%s", err, line)
		}
		// Every value comes back (strings as encoding/json keeps them: an
		// invalid UTF-8 byte becomes U+FFFD).
		valid := func(s string) string {
			if utf8.ValidString(s) {
				return s
			}
			var b strings.Builder
			for i := 0; i < len(s); {
				r, n := utf8.DecodeRuneInString(s[i:])
				b.WriteRune(r) // RuneError for an invalid byte
				i += n
			}
			return b.String()
		}
		if back.ID != c.ID || back.Args.Flags != c.Args.Flags || back.Caller.Comm != valid(c.Caller.Comm) ||
			back.Caller.Exe != valid(c.Caller.Exe) || back.Errno != valid(c.Errno) || !back.Time.Equal(c.Time) {
			t.Fatalf("values changed: %+v\n%s", back, line)
		}
		if !reflect.DeepEqual(back.Caller.Argv, mapStrings(c.Caller.Argv, valid)) ||
			!reflect.DeepEqual(back.Args.FlagNames, mapStrings(c.Args.FlagNames, valid)) {
			t.Fatalf("lists changed: argv %q flags %q\n%s", back.Caller.Argv, back.Args.FlagNames, line)
		}
		if (c.Ret == nil) != (back.Ret == nil) || (c.Ret != nil && *c.Ret != *back.Ret) {
			t.Fatalf("ret changed\n%s", line)
		}
		if (c.Cmdline == nil) != (back.Cmdline == nil) || (c.Cmdline != nil && *back.Cmdline != valid(*c.Cmdline)) {
			t.Fatalf("cmdline changed\n%s", line)
		}
		if len(back.Payloads) != len(c.Payloads) || len(back.Segments) != len(c.Segments) || len(back.Files) != len(c.Files) {
			t.Fatalf("lists lost\n%s", line)
		}
		for i, p := range c.Payloads {
			if q := back.Payloads[i]; q.SHA256 != valid(p.SHA256) || q.Total != p.Total || q.Complete != p.Complete ||
				!reflect.DeepEqual(q.Missing, p.Missing) {
				t.Fatalf("payload %d changed: %+v\n%s", i, q, line)
			}
		}
	})
}

func mapStrings(s []string, f func(string) string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

// fuzzCall builds a call whose optional parts are switched on by opt's bits.
func fuzzCall(comm, exe, arg, cmdline, errno string, id, flags uint64, ret, unixNS int64, opt uint8) *Call {
	c := &Call{ID: id, Syscall: "kexec_load", SyscallNr: uint32(id), ABI: "x86_64", Hook: "raw",
		BootNS: uint64(unixNS), CPU: uint32(flags),
		Caller: Caller{PID: uint32(id), UID: uint32(ret), LoginUID: 0xffffffff, Comm: comm, Exe: exe,
			CgroupPath: arg, ContainerID: exe, MntNS: uint32(flags >> 32)},
		Args:    Args{Raw: [6]uint64{id, flags, uint64(ret)}, Flags: flags, FlagNames: []string{errno, arg}, Arch: comm},
		Outcome: "error", Errno: errno, DurationNS: uint64(unixNS),
	}
	if unixNS != 0 {
		c.Time = time.Unix(0, unixNS).In(time.FixedZone("x", int(ret%1440)*60)) // RFC 3339 offsets are whole minutes
	}
	if opt&1 != 0 {
		c.Ret = &ret
	}
	if opt&2 != 0 {
		c.Cmdline = &cmdline
	}
	if opt&4 != 0 {
		c.Caller.Argv = []string{exe, arg, ""}
		c.Caller.Raced = []string{"exe", arg}
	}
	if opt&8 != 0 {
		n, e := flags, uint64(id)
		c.Args.Entry, c.Args.NrSegments, c.Args.SegmentsPtr = &e, &n, &e
		c.Segments = []Segment{{Index: int(id % 16), Buf: flags, BufSz: id, Mem: ^flags, MemSz: 1}}
		c.SegmentTableError = errno
	}
	if opt&16 != 0 {
		fd := int32(ret)
		c.Args.KernelFD, c.Args.InitrdFD, c.Args.CmdlineLen = &fd, &fd, &flags
		c.Files = []File{{Kind: "kernel", Path: arg, Dev: comm, Ino: id, Size: flags, ISize: id}}
	}
	if opt&32 != 0 {
		c.Payloads = []*Payload{
			{Kind: "segment", Index: int(ret % 16), Source: "syscall-entry", Total: flags, Captured: id, SHA256: exe,
				Reasons: []string{errno}, Missing: []Range{{id, flags}}},
			{Kind: "kernel", Complete: true, Identity: &identify.Report{Type: "kernel", Summary: cmdline, KernelVersion: arg}},
		}
	}
	if opt&64 != 0 {
		c.Purgatory = &identify.PurgatoryVerdict{Found: true, Stored: comm, Computed: exe, Detail: arg}
		c.Problems = []string{cmdline, errno}
	}
	if opt&128 != 0 {
		c.Args.FlagNames = nil
	}
	return c
}
