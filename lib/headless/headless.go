// Package headless starts Debian's Chromium without a display for the tests that use the
// project's pages the way a person does (the notebooks in live Jupyter, the exported
// reports, the search's web page), driven through chromedp. The flags are the ones this
// machine's closed network needs: without the background-networking ones Chromium keeps
// trying to reach Google's hosts.
package headless

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// RequireEnv, when set (as `make test` does), makes the browser tests fail instead of
// skipping where no browser is installed.
const RequireEnv = "WITH_SENSE_REQUIRE_BROWSER"

// Candidates are the browser binaries tried, in order (Debian's package first).
var Candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// Find returns the browser to use: $WITH_SENSE_CHROMIUM when set (an error if it names
// nothing runnable), else the first of Candidates found.
func Find() (string, error) {
	if p := os.Getenv("WITH_SENSE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("WITH_SENSE_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, c := range Candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found (looked for %v): install Debian's chromium (`make chromium`)", Candidates)
}

// New starts a headless browser with a fresh profile and returns a chromedp context for
// one tab; cancel closes the browser and removes the profile.
func New(parent context.Context) (ctx context.Context, cancel context.CancelFunc, err error) {
	bin, err := Find()
	if err != nil {
		return nil, nil, err
	}
	profile, err := os.MkdirTemp("", "withsense-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(parent, opts...)
	tctx, tcancel := chromedp.NewContext(actx)
	// Start the browser now, so a broken install fails here with its own message.
	if err := chromedp.Do(tctx); err != nil {
		tcancel()
		acancel()
		os.RemoveAll(profile)
		return nil, nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return tctx, func() { tcancel(); acancel(); os.RemoveAll(profile) }, nil
}
