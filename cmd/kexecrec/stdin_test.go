package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cliIn runs kexecrec in-process with in as standard input.
func cliIn(in io.Reader, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &IOStreams{In: in, Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func sampleFile(name string) string {
	return filepath.Join("..", "..", "testdata", "samples", name)
}

// Every reader takes "-" for standard input and prints what it prints for
// the file, the name "-" in place of the path.
func TestReadersTakeStdin(t *testing.T) {
	for _, sample := range []string{"synthetic-kexec_file_load.zst", "real-6.12-fentry-einval.zst", "synthetic-unclean.zst"} {
		path := sampleFile(sample)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"show"},
			{"show", "--format", "json"},
			{"show", "--format", "ndjson", "--hexdump", "0"},
			{"show", "--hexdump", "32"},
			{"summarize"},
			{"summarize", "--format", "json"},
			{"verify"},
			{"verify", "--json"},
			{"replay"},
			{"replay", "--format", "table"},
			{"diff", "FILE"}, // the file against standard input
			{"diff", "--format", "json", "STDIN", "FILE"},
			{"extract", "-d", "DIR"},
		} {
			name := sample + "/" + strings.Join(args, " ")
			t.Run(name, func(t *testing.T) {
				fileArgs, stdinArgs := argsFor(t, args, path)
				wantCode, wantOut, wantErr := cliIn(strings.NewReader(""), fileArgs...)
				code, out, errOut := cliIn(bytes.NewReader(data), stdinArgs...)
				if args[0] == "extract" {
					// Compare what was written, not the directory names.
					wantOut = filesIn(t, fileArgs[2], path)
					out = filesIn(t, stdinArgs[2], "-")
				}
				wantOut = strings.ReplaceAll(wantOut, path, "-")
				wantErr = strings.ReplaceAll(wantErr, path, "-")
				if args[0] == "diff" {
					// One side only is "-": name both alike.
					out = strings.ReplaceAll(out, path, "-")
				}
				if code != wantCode || out != wantOut || errOut != wantErr {
					t.Errorf("from stdin: exit %d, stderr %q, stdout:\n%s\nfrom the file: exit %d, stderr %q, stdout:\n%s",
						code, errOut, out, wantCode, wantErr, wantOut)
				}
				if len(out) == 0 {
					t.Error("no output")
				}
			})
		}
	}
}

// argsFor expands the placeholders: the command on the file and on "-".
func argsFor(t *testing.T, args []string, path string) (fileArgs, stdinArgs []string) {
	diffSides := 0
	for _, a := range args {
		switch a {
		case "DIR":
			fileArgs = append(fileArgs, t.TempDir())
			stdinArgs = append(stdinArgs, t.TempDir())
		case "FILE":
			fileArgs, stdinArgs = append(fileArgs, path), append(stdinArgs, path)
			diffSides++
		case "STDIN":
			fileArgs, stdinArgs = append(fileArgs, path), append(stdinArgs, "-")
			diffSides++
		default:
			fileArgs, stdinArgs = append(fileArgs, a), append(stdinArgs, a)
		}
	}
	if args[0] != "diff" || diffSides < 2 {
		fileArgs, stdinArgs = append(fileArgs, path), append(stdinArgs, "-")
	}
	return fileArgs, stdinArgs
}

// filesIn lists an extract directory: names, sizes and the manifest with
// the directory and source names taken out.
func filesIn(t *testing.T, dir, source string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "manifest.json" {
			s := strings.ReplaceAll(string(data), strconv.Quote(source), `"SOURCE"`)
			b.WriteString(strings.ReplaceAll(s, dir, "DIR") + "\n")
			continue
		}
		b.WriteString(e.Name() + " " + strconv.Itoa(len(data)) + "\n")
	}
	return b.String()
}

// "-" named twice reads standard input once and its copy the second time:
// diff - - finds every call the same.
func TestDiffStdinAgainstItself(t *testing.T) {
	data, err := os.ReadFile(sampleFile("synthetic-kexec_load.zst"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cliIn(bytes.NewReader(data), "diff", "-", "-")
	if code != ExitOK || errOut != "" || !strings.Contains(out, "3 same, 0 changed, 0 only in A, 0 only in B") {
		t.Errorf("diff - -: exit %d stderr %q\n%s", code, errOut, out)
	}
}

// Standard input that is not a capture: one line, exit 2.
func TestReadersRejectGarbageOnStdin(t *testing.T) {
	for _, cmd := range []string{"show", "summarize", "replay", "verify"} {
		code, _, errOut := cliIn(strings.NewReader("not a capture\n"), cmd, "-")
		if code != ExitTrouble || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "standard input") && !strings.Contains(errOut, "kexecrec: -: ") {
			t.Errorf("%s - on garbage: exit %d stderr %q", cmd, code, errOut)
		}
	}
}

// Golden stderr of every reader on a sample whose recorder left a note (a
// missing optional hook: a fact about the recording, shown in the header
// block, never on stderr) and on one with real problems (unclean stop,
// unfinished call: each said once).
func TestReadersStderrGolden(t *testing.T) {
	var b strings.Builder
	for _, sample := range []string{"real-6.12-fentry-einval.zst", "real-6.1-kprobe-kexec_load.zst", "synthetic-unclean.zst"} {
		path := sampleFile(sample)
		for _, args := range [][]string{
			{"show", "--no-identify", path},
			{"show", "--format", "json", "--no-identify", path},
			{"summarize", "--no-identify", path},
			{"verify", path},
			{"replay", path},
			{"extract", "-d", t.TempDir(), path},
			{"diff", "--no-identify", path, path},
		} {
			code, out, errOut := cli(args...)
			shown := append([]string(nil), args...)
			if args[0] == "extract" {
				shown[2] = "DIR"
			}
			if len(out) == 0 {
				t.Errorf("%v: no output", args)
			}
			if strings.Contains(errOut, "recorder note") || strings.Contains(errOut, "no fentry hook") || strings.Contains(errOut, "no kprobe hook") {
				t.Errorf("%v: a recorder note on stderr: %q", args, errOut)
			}
			seen := map[string]bool{}
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if l != "" && seen[l] {
					t.Errorf("%v: %q said twice", args, l)
				}
				seen[l] = true
			}
			b.WriteString("$ kexecrec " + strings.Join(shown, " ") + "\n" + errOut + "--- exit " + strconv.Itoa(code) + "\n")
		}
	}
	golden(t, "stderr-readers.txt", b.String())
}
