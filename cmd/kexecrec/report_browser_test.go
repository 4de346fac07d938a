package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/kexecrec/kexecrec/internal/testenv"
)

// pageEvents collects what the page did: every request, console errors,
// exceptions, log errors and dialogs (an injected alert() would open one).
type pageEvents struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (p *pageEvents) add(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, e.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if e.Type == "error" || e.Type == "assert" || e.Type == "warning" {
			p.errors = append(p.errors, fmt.Sprintf("console.%s %v", e.Type, e.Args))
		}
	case *runtime.EventExceptionThrown:
		p.errors = append(p.errors, "exception: "+e.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			p.errors = append(p.errors, fmt.Sprintf("log %s %s: %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *page.EventJavascriptDialogOpening:
		p.errors = append(p.errors, "dialog: "+e.Message)
	}
}

// The HTML report in headless Chromium: nothing leaves the page, no console
// error, the verdict and the kernel version are in the rendered text, and a
// full-page screenshot is taken (kept as an artifact). The hostile report
// is opened too: an escape that failed would make a request, run a script
// or open a dialog.
func TestReportInBrowser(t *testing.T) {
	testenv.Root(t) // Chromium runs as root here, with --no-sandbox
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		testenv.Skip(t, "chromium not installed (Debian package chromium; .ci/setup installs it)")
	}
	dir := t.TempDir()
	samplesDir := filepath.Join("..", "..", "testdata", "samples")
	incident := filepath.Join(samplesDir, "real-6.1-kprobe-kexec_load.zst")
	reports := map[string]string{"incident": filepath.Join(dir, "incident.html"), "hostile": filepath.Join(dir, "hostile.html")}
	if code, _, errOut := cli("report", "--baseline", filepath.Join(samplesDir, "real-6.1-raw-kexec_file_load.zst"),
		incident, "-o", reports["incident"]); code != ExitOK {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli("report", hostileCapture(t), "-o", reports["hostile"]); code != ExitOK {
		t.Fatalf("hostile report: exit %d: %s", code, errOut)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.WindowSize(1200, 900))
	defer cancelAlloc()
	for _, name := range []string{"incident", "hostile"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(allocCtx)
			defer cancel()
			if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
				t.Fatalf("start chromium: %v", err)
			}
			var ev pageEvents
			if err := chromedp.Listen(ctx, ev.add); err != nil {
				t.Fatal(err)
			}
			abs, err := filepath.Abs(reports[name])
			if err != nil {
				t.Fatal(err)
			}
			url := "file://" + abs
			tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
			defer tcancel()
			if err := chromedp.Do(tctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
				t.Fatalf("open %s: %v", url, err)
			}
			text, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.innerText`))
			if err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
				t.Errorf("screenshot is not a PNG of a page (%d bytes)", len(png))
			}
			shot := filepath.Join(testenv.ArtifactDir(t), "report-"+name+".png")
			if err := os.WriteFile(shot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", shot)

			ev.mu.Lock()
			defer ev.mu.Unlock()
			if len(ev.requests) == 0 {
				t.Errorf("no request seen at all: the listener saw nothing")
			}
			for _, r := range ev.requests {
				if r != url && !strings.HasPrefix(r, "data:") {
					t.Errorf("request leaves the page: %s", r)
				}
			}
			for _, e := range ev.errors {
				t.Errorf("page error: %s", e)
			}
			switch name {
			case "incident":
				for _, want := range []string{"VERIFIED: 1 of 1 capture files", "6.1.0-57-amd64", "Kernels that match no kernel of the baseline"} {
					if !strings.Contains(text, want) {
						t.Errorf("rendered text lacks %q", want)
					}
				}
			case "hostile":
				for _, want := range []string{"<script>alert(1)</script>", `\x1b[31m<b>|` + "`*_[x"} {
					if !strings.Contains(text, want) {
						t.Errorf("rendered text lacks the hostile string shown as text %q", want)
					}
				}
			}
		})
	}
}
