package alert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SDID is the structured-data element of every message. 32473 is the
// private enterprise number RFC 5612 reserves for documentation and
// examples: kexecrec has none of its own.
const SDID = "kexec@32473"

// facilityAuth is syslog facility 4 (security/authorization messages).
const facilityAuth = 4

// Syslog sends one RFC 5424 message per call. Addr is "" (the local syslog
// socket: /dev/log), unix:///path, udp://host:port or tcp://host:port (TCP
// with RFC 6587 octet counting).
type Syslog struct {
	Addr     string
	Hostname string // default os.Hostname()

	mu   sync.Mutex
	conn net.Conn
	tcp  bool
}

func (s *Syslog) Name() string { return "--syslog" }

// ParseSyslogAddr checks an address given to --syslog.
func ParseSyslogAddr(addr string) error {
	if addr == "" {
		return nil
	}
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok || rest == "" {
		return fmt.Errorf("syslog address %q: want udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH", addr)
	}
	switch scheme {
	case "udp", "tcp":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			return fmt.Errorf("syslog address %q: %v", addr, err)
		}
	case "unix":
	default:
		return fmt.Errorf("syslog address %q: want udp://, tcp:// or unix://", addr)
	}
	return nil
}

func (s *Syslog) dial(ctx context.Context) (net.Conn, bool, error) {
	var d net.Dialer
	if s.Addr == "" {
		var last error
		for _, p := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
			for _, nw := range []string{"unixgram", "unix"} {
				c, err := d.DialContext(ctx, nw, p)
				if err == nil {
					return c, nw == "unix", nil
				}
				last = err
			}
		}
		return nil, false, fmt.Errorf("no local syslog socket: %v", last)
	}
	scheme, rest, _ := strings.Cut(s.Addr, "://")
	if scheme == "unix" {
		c, err := d.DialContext(ctx, "unixgram", rest)
		if err != nil {
			c, err = d.DialContext(ctx, "unix", rest)
			return c, true, err
		}
		return c, false, nil
	}
	c, err := d.DialContext(ctx, scheme, rest)
	return c, scheme == "tcp", err
}

func (s *Syslog) Send(ctx context.Context, e Event) error {
	msg := Format(e, s.hostname(), time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if s.conn == nil {
			c, tcp, err := s.dial(ctx)
			if err != nil {
				return err
			}
			s.conn, s.tcp = c, tcp
		}
		if dl, ok := ctx.Deadline(); ok {
			s.conn.SetWriteDeadline(dl)
		}
		frame := msg
		if s.tcp {
			frame = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
		}
		_, err := s.conn.Write(frame)
		if err == nil {
			return nil
		}
		s.conn.Close()
		s.conn = nil // the receiver restarted: dial again once
		if attempt == 1 || errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
	return nil
}

func (s *Syslog) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	h, _ := os.Hostname()
	return h
}

// Format is the RFC 5424 message for a call: severity alert (1) for a call
// that succeeded (a kernel is staged), warning (4) otherwise.
func Format(e Event, hostname string, now time.Time) []byte {
	c := e.Call
	sev := 4
	if c.Outcome == "ok" {
		sev = 1
	}
	result := c.Outcome
	if c.Errno != "" {
		result = c.Errno
	}
	ret := ""
	if c.Ret != nil {
		ret = strconv.FormatInt(*c.Ret, 10)
	}
	params := [][2]string{
		{"call_id", strconv.FormatUint(c.ID, 10)},
		{"syscall", c.Syscall},
		{"result", result},
		{"ret", ret},
		{"pid", strconv.FormatUint(uint64(c.Caller.PID), 10)},
		{"uid", strconv.FormatUint(uint64(c.Caller.UID), 10)},
		{"comm", c.Caller.Comm},
		{"exe", c.Caller.Exe},
		{"container_id", c.Caller.ContainerID},
		{"kernel_release", e.Header.KernelRelease},
		{"boot_id", e.Header.BootID},
		{"machine_id", e.Header.MachineID},
	}
	for i, p := range c.Payloads {
		if i == 16 {
			params = append(params, [2]string{"payloads_more", strconv.Itoa(len(c.Payloads) - 16)})
			break
		}
		name := p.Kind + "_" + strconv.Itoa(p.Index) + "_sha256"
		params = append(params, [2]string{name, p.SHA256})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s kexecrec %d kexec [%s", facilityAuth*8+sev, now.UTC().Format("2006-01-02T15:04:05.000000Z"),
		header(hostname, 255), os.Getpid(), SDID)
	for _, p := range params {
		if p[1] == "" {
			continue
		}
		fmt.Fprintf(&b, " %s=\"%s\"", p[0], sdValue(p[1]))
	}
	fmt.Fprintf(&b, "] %s by pid %d (%s): %s", c.Syscall, c.Caller.PID, msgText(c.Caller.Comm), result)
	return []byte(b.String())
}

// header makes a HEADER field: printable US-ASCII, no space, "-" if empty.
func header(s string, maxLen int) string {
	var b strings.Builder
	for _, r := range s {
		if r > 32 && r < 127 && b.Len() < maxLen {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// sdValue escapes a PARAM-VALUE ('"', '\' and ']' get a backslash, RFC 5424
// 6.3.3) and turns control characters and invalid UTF-8 into \xNN, so a
// hostile comm or path cannot end the element or the message.
func sdValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '"' || r == '\\' || r == ']':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// msgText is sdValue without the structured-data escapes (the MSG part).
func msgText(s string) string {
	return strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\]`, `]`).Replace(sdValue(s))
}
