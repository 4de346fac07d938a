package alert

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzFormat: whatever the caller's comm, exe or the host name hold, the
// message is one line of valid UTF-8 with exactly one structured-data
// element whose values give back the original strings.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"kexec", `a"b]c\d`, "x\ny\rz\x00", "\xff\xfe", "] [evil@1 a=\"b\"]", "日本"} {
		f.Add(s, s, "host")
	}
	f.Fuzz(func(t *testing.T, comm, exe, host string) {
		e := event(1, comm, false)
		e.Call.Caller.Exe = exe
		msg := string(Format(e, host, time.Unix(0, 0)))
		if strings.ContainsAny(msg, "\n\r\x00") || !utf8.ValidString(msg) {
			t.Fatalf("message not one line of UTF-8: %q", msg)
		}
		pri, params, _ := parse(t, msg)
		if pri != 36 {
			t.Fatalf("pri %d", pri)
		}
		for k, want := range map[string]string{"comm": comm, "exe": exe} {
			if want == "" {
				continue
			}
			if got := unescapeSD(params[k]); got != want {
				t.Fatalf("%s: %q came back as %q", k, want, got)
			}
		}
	})
}

// unescapeSD undoes sdValue: \" \\ \] and \xNN.
func unescapeSD(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '"', '\\', ']':
				b.WriteByte(s[i+1])
				i++
				continue
			case 'x':
				if i+3 < len(s) {
					var v byte
					for _, c := range []byte(s[i+2 : i+4]) {
						v <<= 4
						switch {
						case c >= '0' && c <= '9':
							v |= c - '0'
						case c >= 'a' && c <= 'f':
							v |= c - 'a' + 10
						}
					}
					b.WriteByte(v)
					i += 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
