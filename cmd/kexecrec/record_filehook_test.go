package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kexecrec/kexecrec/recorder"
	"github.com/kexecrec/kexecrec/replay"
)

// --attach lsm reaches the recorder as the lsm mode; the file hook the
// source chose is printed after the attach mode and kept in the header
// options with the order it was chosen in, and the source's info notes
// (how an ambiguous fentry target was resolved) land in the capture.
func TestRecordFileHookInHeaderAndAtStart(t *testing.T) {
	var got recorder.AttachConfig
	old := attach
	t.Cleanup(func() { attach = old })
	const info = "fentry __x64_sys_kexec_load: the kernel BTF names it 2 times; attached to BTF id 89978 (test)"
	attach = func(cfg recorder.AttachConfig) (recorder.Source, error) {
		got = cfg
		src := recorder.NewFakeSource(recorder.ModeFentry, 1024)
		src.SetFileHook(recorder.FileHookLSM, info)
		for _, r := range fakeCall(1, 4096) {
			src.Push(r)
		}
		return src, nil
	}
	path := filepath.Join(t.TempDir(), "cap.kxr")
	ios, _, errOut := testIO()
	if code := runRecordCLI(t, ios, "-o", path, "--count", "1", "--attach", "lsm"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Mode != recorder.ModeLSM {
		t.Errorf("attach config mode %q, want lsm", got.Mode)
	}
	if want := "kexecrec: attach mode fentry, kexec_file_load files via lsm; recording to " + path; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	c, err := replay.Open(path, replay.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := c.Header()
	if h.AttachMode != "fentry" || h.Options["attach"] != "lsm" || h.Options["file_hook"] != "lsm" ||
		h.Options["file_hook_order"] != "fentry,kprobe,lsm" {
		t.Errorf("header attach %q, options %v", h.AttachMode, h.Options)
	}
	found := false
	for _, n := range c.HeaderNotes() {
		if n.Level == "info" && n.Message == info {
			found = true
		}
	}
	if !found {
		t.Errorf("info note missing: %+v", c.HeaderNotes())
	}
}

// An unknown --attach value is refused in one line naming every value.
func TestRecordAttachValues(t *testing.T) {
	ios, _, errOut := testIO()
	code := runRecordCLI(t, ios, "-o", filepath.Join(t.TempDir(), "cap.kxr"), "--attach", "uprobe")
	if code == ExitOK || !strings.Contains(errOut.String(), `--attach "uprobe": want auto, fentry, kprobe, raw or lsm`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
