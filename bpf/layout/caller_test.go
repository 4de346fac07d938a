package layout

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestCallerRoundTrip(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		in := Caller{Header: Header{Version: 1, CallID: 3, TimeNS: 4}, Flags: CFExe | CFCwd | CFAncInit, ExeDev: 8<<20 | 1,
			ExeIno: 5, ExeSize: 6, ExeMtimeSec: -7, ExeCtimeSec: 8, ExeMtimeNsec: 9, ExeCtimeNsec: 10, TTYMajor: 136,
			TTYMinor: 2, NsPID: 11, NsTID: 12, NsLevel: 1, Exe: "/bin/x", Cwd: "/", Cgroup: "/a/b", TTY: "pts2",
			Ancestors: []Ancestor{{PID: 20, TID: 21, UID: 22, EUID: 23, StartNS: 24, NsPID: 1, Flags: AFNsInit, Comm: "sh", Exe: "/bin/sh"}}}
		b := in.Marshal(bo.(binary.AppendByteOrder))
		if len(b) != CallerSize {
			t.Fatalf("marshalled %d bytes, want %d", len(b), CallerSize)
		}
		out, err := ParseCaller(b, bo)
		if err != nil {
			t.Fatal(err)
		}
		in.Size, in.Type = CallerSize, RecCaller
		if out.Header != in.Header || out.Flags != in.Flags || out.ExeMtimeSec != -7 || out.NsLevel != 1 ||
			out.Cgroup != "/a/b" || len(out.Ancestors) != 1 || out.Ancestors[0] != in.Ancestors[0] {
			t.Errorf("%v: round trip gave %+v", bo, out)
		}
		// Shorter than the first version of the record: refused.
		if _, err := ParseCaller(b[:CallerSize-1], bo); !errors.Is(err, ErrShort) {
			t.Errorf("short caller record: err %v", err)
		}
	}
}

func TestArgsRoundTrip(t *testing.T) {
	bo := binary.LittleEndian
	in := Args{Header: Header{CallID: 1}, Kind: ArgsArgv, Total: 3, Data: []byte("a\x00b")}
	b := in.Marshal(bo)
	if len(b)%8 != 0 {
		t.Errorf("record of %d bytes is not 8-aligned", len(b))
	}
	out, err := ParseArgs(b, bo)
	if err != nil {
		t.Fatal(err)
	}
	if out.Kind != ArgsArgv || out.Total != 3 || string(out.Data) != "a\x00b" || out.Truncated() {
		t.Errorf("args round trip gave %+v", out)
	}
	// A length beyond the bound a BPF record can hold is refused.
	in.Data, in.Total = make([]byte, ArgsMax+1), ArgsMax+1
	if _, err := ParseArgs(in.Marshal(bo), bo); err == nil {
		t.Error("args longer than ArgsMax accepted")
	}
}

func FuzzParseCallerRecords(f *testing.F) {
	bo := binary.LittleEndian
	f.Add(Caller{Exe: "/x", Ancestors: []Ancestor{{PID: 1}}}.Marshal(bo))
	f.Add(Args{Kind: ArgsEnv, Total: 9, Data: []byte("A=1\x00B=2\x00")}.Marshal(bo))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCaller(b, bo); err == nil && len(c.Ancestors) > MaxAncestors {
			t.Errorf("%d ancestors", len(c.Ancestors))
		}
		if a, err := ParseArgs(b, bo); err == nil && (uint64(len(a.Data)) > a.Total || len(a.Data) > ArgsMax) {
			t.Errorf("args data %d of %d", len(a.Data), a.Total)
		}
	})
}
