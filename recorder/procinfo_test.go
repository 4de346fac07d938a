package recorder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const cid = "3f0a1d2c4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"

func TestContainerID(t *testing.T) {
	for path, want := range map[string]string{
		"/system.slice/docker-" + cid + ".scope": cid,
		"/docker/" + cid:                         cid,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-" + cid + ".scope": cid,
		"/kubepods/burstable/pod0f3e1a2b-aaaa-bbbb-cccc-1234567890ab/" + cid:                                         cid,
		"/machine.slice/libpod-" + cid + ".scope/container":                                                          cid,
		"/machine.slice/crio-" + cid + ".scope":                                                                      cid,
		"/machine.slice/crio-conmon-" + cid + ".scope":                                                               "",
		"/user.slice/user-1000.slice/session-3.scope":                                                                "",
		"/system.slice/ssh.service":                                                                                  "",
		"/" + cid:                                                                                                    "", // bare hex, no runtime named
		"/docker/" + strings.ToUpper(cid):                                                                            "",
		"":                                                                                                           "",
	} {
		if got := ContainerID(path); got != want {
			t.Errorf("ContainerID(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestCgroupPath(t *testing.T) {
	v1 := "12:pids:/docker/" + cid + "\n11:memory:/docker/" + cid + "\n1:name=systemd:/docker/" + cid + "\n"
	for in, want := range map[string]string{
		"0::/system.slice/docker-" + cid + ".scope\n": "/system.slice/docker-" + cid + ".scope",
		v1:                          "/docker/" + cid,
		"3:cpu:/\n0::/user.slice\n": "/user.slice",
		"garbage":                   "",
	} {
		if got := CgroupPath(in); got != want {
			t.Errorf("CgroupPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadProcessFromFakeProc(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	os.MkdirAll(dir, 0o755)
	os.Symlink("/usr/sbin/kexec", filepath.Join(dir, "exe"))
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte("kexec\x00-l\x00/boot/vmlinuz\x00--append=a b\x00"), 0o644)
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/system.slice/docker-"+cid+".scope\n"), 0o644)
	p := ReadProcess(root, 7, 42)
	want := []string{"kexec", "-l", "/boot/vmlinuz", "--append=a b"}
	if p.CallID != 7 || p.PID != 42 || p.Exe != "/usr/sbin/kexec" || !reflect.DeepEqual(p.Argv, want) || p.ContainerID != cid ||
		!reflect.DeepEqual(p.Raced, []string{"exe", "argv", "cgroup"}) || p.Missing != nil {
		t.Errorf("%+v", p)
	}
	// A process that is gone: everything missing, nothing claimed.
	gone := ReadProcess(root, 8, 43)
	if gone.Exe != "" || gone.Raced != nil || !reflect.DeepEqual(gone.Missing, []string{"exe", "argv", "cgroup"}) {
		t.Errorf("%+v", gone)
	}
}
