package lzma2

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"testing"
)

func rawLZMA2(t *testing.T, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", append([]string{"--format=raw", "-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Skip("no xz: ", err)
	}
	return out
}

func TestAgainstXZ(t *testing.T) {
	bin, err := os.ReadFile("/usr/sbin/kexec")
	if err != nil {
		t.Skip(err)
	}
	for _, data := range [][]byte{[]byte("hello hello hello hello"), bytes.Repeat([]byte("abc"), 100000), bin} {
		comp := rawLZMA2(t, data, "--lzma2=dict=1MiB")
		in := bytes.NewReader(comp)
		got, err := io.ReadAll(NewReader(in, 1<<20))
		if err != nil {
			t.Fatalf("%d bytes: %v (got %d)", len(data), err, len(got))
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("differs")
		}
		if in.Len() != 0 {
			t.Fatalf("left %d", in.Len())
		}
	}
}
