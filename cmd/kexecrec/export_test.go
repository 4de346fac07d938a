package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kexecrec/kexecrec/internal/testenv"
	"github.com/kexecrec/kexecrec/replay/export"
)

// exportOut runs the export command in-process, reproducibly.
func exportOut(t *testing.T, format string, files []string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runExport(&exportOptions{ios: &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &bytes.Buffer{}},
		Files: files, Output: "-", Format: format, Tool: "kexecrec test"})
	return out.String(), err
}

// Timesketch lines: the four required fields with the right types and
// agreeing with each other, one line per call, the recording's start and end.
func TestExportTimesketch(t *testing.T) {
	for _, p := range append(samples(t), hostileCapture(t)) {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			out, err := exportOut(t, "timesketch", []string{p})
			if code := exitOf(err); code != ExitOK && !(code == ExitFinding && strings.Contains(name, "unclean")) {
				t.Fatalf("exit %d: %v", code, err)
			}
			sum := mustSha256sum(t, p)
			kinds := map[string]int{}
			sc := bufio.NewScanner(strings.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("not JSON: %v: %s", err, sc.Text())
				}
				msg, _ := ev["message"].(string)
				desc, _ := ev["timestamp_desc"].(string)
				ts, ok := ev["timestamp"].(float64)
				dt, _ := ev["datetime"].(string)
				when, err := time.Parse(time.RFC3339Nano, dt)
				if msg == "" || desc == "" || !ok || err != nil || !regexp.MustCompile(`(Z|[+-]\d\d:\d\d)$`).MatchString(dt) {
					t.Fatalf("required fields wrong: message %q desc %q timestamp %v datetime %q (%v)", msg, desc, ev["timestamp"], dt, err)
				}
				if int64(ts) != when.UnixMicro() {
					t.Errorf("timestamp %d is not datetime %s in microseconds (%d)", int64(ts), dt, when.UnixMicro())
				}
				if ev["capture_sha256"] != sum {
					t.Errorf("capture_sha256 %v, want %s", ev["capture_sha256"], sum)
				}
				kind, _ := ev["data_type"].(string)
				kinds[kind]++
				if kind == "kexecrec:kexec:call" {
					for _, k := range []string{"syscall", "pid", "uid", "exe", "kernel_version", "payload_sha256", "comm", "cmdline"} {
						if _, ok := ev[k]; !ok {
							t.Errorf("call line lacks %s", k)
						}
					}
				}
				if strings.ContainsRune(sc.Text(), 0x1b) || strings.Contains(msg, "\x1b") {
					t.Errorf("raw escape character in %s", sc.Text())
				}
			}
			if kinds["kexecrec:recording:start"] != 1 || kinds["kexecrec:recording:end"] != 1 {
				t.Errorf("start/end events: %v", kinds)
			}
			ev, err := gatherEvidence([]string{p}, "", "", exportMaxCalls)
			if err != nil {
				t.Fatal(err)
			}
			if want := ev.Captures[0].Summary.Calls; kinds["kexecrec:kexec:call"] != want {
				t.Errorf("%d call lines, capture has %d calls", kinds["kexecrec:kexec:call"], want)
			}
		})
	}
}

// Golden exports on every committed sample.
func TestExportGolden(t *testing.T) {
	for _, p := range samples(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".zst")
		t.Run(name, func(t *testing.T) {
			ev, err := gatherEvidence([]string{p}, "", "", exportMaxCalls)
			if err != nil {
				t.Fatal(err)
			}
			ev.Tool = "kexecrec test"
			var ts, cs bytes.Buffer
			if err := export.Timesketch(&ts, ev); err != nil {
				t.Fatal(err)
			}
			if err := export.CASE(&cs, ev); err != nil {
				t.Fatal(err)
			}
			golden(t, "export-"+name+".timesketch.jsonl", ts.String())
			golden(t, "export-"+name+".case.jsonld", cs.String())
		})
	}
}

// caseExports writes the CASE export of every sample (and of the hostile
// capture) into a directory.
func caseExports(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, p := range append(samples(t), hostileCapture(t)) {
		out, err := exportOut(t, "case", []string{p})
		if code := exitOf(err); code == ExitTrouble {
			t.Fatalf("%s: %v", p, err)
		}
		f := filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".zst")+".jsonld")
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// ontologyDir is the CASE 1.3.0 ontology: beside the repository in
// ../shared/ontology/case-1.3.0, or where KEXECREC_ONTOLOGY says.
func ontologyDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KEXECREC_ONTOLOGY")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "ontology", "case-1.3.0")
	}
	if _, err := os.Stat(filepath.Join(dir, "case-1.3.0.ttl")); err != nil {
		testenv.Skip(t, "CASE ontology not found (../shared/ontology/case-1.3.0 beside the repository, or KEXECREC_ONTOLOGY): "+err.Error())
	}
	return dir
}

// The CASE export of every sample conforms to the ontology's SHACL shapes
// (node with the packages .ci/setup installs from .ci/shacl/package-lock.json).
func TestExportCASEConformsToSHACL(t *testing.T) {
	onto := ontologyDir(t)
	node := testenv.Tool(t, "node")
	modules := os.Getenv("KEXECREC_SHACL_MODULES")
	if modules == "" {
		cache := os.Getenv("KEXECREC_CACHE")
		if cache == "" {
			cache = "/var/cache/kexecrec"
		}
		modules = filepath.Join(cache, "shacl", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(modules, "shacl-engine")); err != nil {
		testenv.Skip(t, "SHACL validator packages not installed (run .ci/setup): "+err.Error())
	}
	// The script from the repository, beside the installed packages.
	run := t.TempDir()
	script, err := os.ReadFile(filepath.Join("..", "..", ".ci", "shacl", "validate.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "validate.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	files := caseExports(t)
	// A broken export must fail, or the check proves nothing.
	bad := filepath.Join(t.TempDir(), "bad.jsonld")
	b, _ := os.ReadFile(files[0])
	b = regexp.MustCompile(`"xsd:hexBinary",\s*"@value": "[0-9a-f]+"`).ReplaceAll(b, []byte(`"xsd:hexBinary", "@value": "not hex"`))
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{filepath.Join(run, "validate.mjs"), onto}, append(files, bad)...)...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("validator: %v (want exit 1: the broken export fails, the others conform)", err)
	}
	for _, f := range files {
		if !strings.Contains(string(out), f+": conforms") {
			t.Errorf("%s does not conform", filepath.Base(f))
		}
	}
	if !strings.Contains(string(out), bad+": ") || strings.Contains(string(out), bad+": conforms") {
		t.Errorf("the broken export was not caught")
	}
}

// Every class, property and datatype IRI the CASE export uses is defined in
// the ontology (SHACL does not catch a misspelled one: an unknown property
// is simply not constrained).
func TestExportCASEUsesOntologyIRIs(t *testing.T) {
	onto := ontologyDir(t)
	ttl, err := os.ReadFile(filepath.Join(onto, "case-1.3.0.ttl"))
	if err != nil {
		t.Fatal(err)
	}
	// The ontology's prefixes, and the subjects it defines (prefixed names
	// at the start of a line).
	prefixes := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^@prefix ([a-z-]*): <([^>]*)> \.`).FindAllSubmatch(ttl, -1) {
		prefixes[string(m[2])] = string(m[1])
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z-]+:[A-Za-z0-9_-]+)\s*$|^([a-z-]+:[A-Za-z0-9_-]+)\s`).FindAllSubmatch(ttl, -1) {
		defined[string(m[1])+string(m[2])] = true
	}
	xsdTypes := map[string]bool{"integer": true, "dateTime": true, "hexBinary": true, "string": true}
	ctx := export.CASEContext
	expand := func(term string) string {
		pfx, local, ok := strings.Cut(term, ":")
		if ns, found := ctx[pfx]; ok && found {
			return ns + local
		}
		return term
	}
	used := map[string]bool{}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "@type" {
					used[expand(val.(string))] = true
				} else if !strings.HasPrefix(k, "@") {
					used[expand(k)] = true
				}
				if k != "@context" {
					walk(val, k)
				}
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		}
	}
	for _, f := range caseExports(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(doc, "")
	}
	if len(used) < 10 {
		t.Fatalf("only %d IRIs found in the exports: %v", len(used), used)
	}
	for iri := range used {
		if local, ok := strings.CutPrefix(iri, "http://www.w3.org/2001/XMLSchema#"); ok {
			if !xsdTypes[local] {
				t.Errorf("XML Schema datatype %s not expected", iri)
			}
			continue
		}
		found := false
		for ns, pfx := range prefixes {
			if local, ok := strings.CutPrefix(iri, ns); ok && defined[pfx+":"+local] {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not defined in the ontology", iri)
		}
	}
}
