package recorder

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/bpf/layout"
)

// maxProcRead caps what is read from one /proc file: argv of a hostile
// caller can be megabytes, and the record loop must not stall on it.
const maxProcRead = 64 << 10

// ReadProcess reads the caller's executable, argv and cgroup from procRoot
// (normally "/proc") for a call that has just been seen entering. Everything
// here is read after the syscall entry, so each field that was read is
// listed in Raced (the process may have exec'd or exited and its PID been
// reused since); fields that could not be read are listed in Missing.
func ReadProcess(procRoot string, callID uint64, pid uint32) layout.Process {
	return ReadProcessFallback(procRoot, callID, pid, kernelCaller{})
}

// ReadProcessFallback is ReadProcess for the fields the kernel did not read
// at entry (k): those are neither read nor listed. The container id comes
// from the kernel's cgroup path when it has one.
func ReadProcessFallback(procRoot string, callID uint64, pid uint32, k kernelCaller) layout.Process {
	p := layout.Process{CallID: callID, PID: pid}
	dir := filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10))

	if !k.exe {
		if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
			p.Exe = exe
			p.Raced = append(p.Raced, "exe")
		} else {
			p.Missing = append(p.Missing, "exe")
		}
	}

	if !k.argv {
		if b, err := readCapped(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
			p.Argv = splitArgv(b)
			p.Raced = append(p.Raced, "argv")
		} else {
			// Kernel threads and zombies have an empty cmdline: nothing to say.
			p.Missing = append(p.Missing, "argv")
		}
	}

	switch {
	case k.cgroup:
		p.ContainerID = ContainerID(k.cgroupPath)
	default:
		if b, err := readCapped(filepath.Join(dir, "cgroup")); err == nil {
			p.CgroupPath = CgroupPath(string(b))
			p.ContainerID = ContainerID(p.CgroupPath)
			p.Raced = append(p.Raced, "cgroup")
		} else {
			p.Missing = append(p.Missing, "cgroup")
		}
	}
	return p
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, maxProcRead)
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	return buf[:n], nil
}

// splitArgv splits /proc/PID/cmdline (NUL-separated, NUL-terminated).
func splitArgv(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	argv := make([]string, len(parts))
	for i, a := range parts {
		argv[i] = string(a)
	}
	return argv
}

// CgroupPath picks the caller's cgroup from /proc/PID/cgroup: the unified
// (v2) hierarchy "0::/path" when present, else the v1 line that names a
// container, else the first line.
func CgroupPath(procCgroup string) string {
	var first, withContainer string
	for line := range strings.Lines(procCgroup) {
		line = strings.TrimRight(line, "\n")
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			return f[2]
		}
		if first == "" {
			first = f[2]
		}
		if withContainer == "" && ContainerID(f[2]) != "" {
			withContainer = f[2]
		}
	}
	if withContainer != "" {
		return withContainer
	}
	return first
}

// containerPrefixes are the scope/directory name prefixes container runtimes
// give the cgroup of a container's processes (systemd and cgroupfs drivers).
var containerPrefixes = []string{
	"docker-", "cri-containerd-", "containerd-", "crio-", "libpod-", "podman-",
}

// containerHints name hierarchies under which a bare 64-hex directory is a
// container id (cgroupfs driver: /docker/<id>, /kubepods/burstable/pod<uid>/<id>).
var containerHints = []string{"docker", "kubepods", "containerd", "crio", "libpod", "podman", "machine.slice"}

// ContainerID extracts a container id (64 hex digits) from a cgroup path
// written by docker, containerd, cri-o, podman or kubelet, or "" when the path
// is not a container's. The innermost match wins. Conmon (cri-o's and
// podman's monitor) has its own scope, which is not the container.
func ContainerID(cgroupPath string) string {
	parts := strings.Split(cgroupPath, "/")
	hinted := false
	for _, h := range containerHints {
		if strings.Contains(cgroupPath, h) {
			hinted = true
			break
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		c := strings.TrimSuffix(parts[i], ".scope")
		if strings.Contains(c, "conmon") {
			continue
		}
		prefixed := false
		for _, p := range containerPrefixes {
			if rest, ok := strings.CutPrefix(c, p); ok {
				c, prefixed = rest, true
				break
			}
		}
		if isHex64(c) && (prefixed || hinted) {
			return c
		}
	}
	return ""
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
