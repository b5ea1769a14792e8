package main

// The real-browser checks (`make test-browser`, part of `make test` after the notebooks ran,
// so the caches are warm): live Jupyter started as `make notebook` starts it, driven in
// headless Chromium, and the exported reports opened from disk. They need Jupyter, the
// GoNB kernel, Chromium and the data, so they run only where $WITH_SENSE_BROWSER is set.
//
// $WITH_SENSE_BROWSER_NOTEBOOKS (comma-separated names, default every notebook) narrows
// the notebooks run; $WITH_SENSE_BROWSER_SHOTS names a folder for a full-page screenshot
// of every page checked.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/withsense/withsense/lib/headless"
	"github.com/withsense/withsense/lib/notebook"
	"github.com/withsense/withsense/lib/project"
)

// browserEnv turns the real-browser checks on.
const browserEnv = "WITH_SENSE_BROWSER"

// browserQuery is typed into notebook 04's interactive search.
const browserQuery = "a dog running on the beach"

func needBrowser(t *testing.T) string {
	t.Helper()
	if os.Getenv(browserEnv) == "" {
		t.Skipf("real-browser check: set $%s=1 (make test-browser)", browserEnv)
	}
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// machinePath matches what must not appear in a report: absolute paths of this or any
// machine, and file:// links.
var machinePath = regexp.MustCompile(`(/work/|/root/|/home/|/tmp/|file://)[^"'<>\s]*`)

// TestBrowserReports opens every results/*.html from disk and fails on a photo that does
// not load or on a machine path in the file.
func TestBrowserReports(t *testing.T) {
	root := needBrowser(t)
	reports, _ := filepath.Glob(filepath.Join(root, "results", "*.html"))
	if len(reports) == 0 {
		t.Fatalf("no reports in %s (run `make report`)", filepath.Join(root, "results"))
	}
	ctx := browser(t, 10*time.Minute)
	for _, r := range reports {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		if m := machinePath.FindAllString(string(b), 5); len(m) > 0 {
			t.Errorf("%s names machine paths: %q", r, m)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+r)); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		loaded, broken := photos(t, ctx, "body")
		screenshot(t, ctx, "report_"+filepath.Base(r))
		if unblurred := flaggedButSharp(t, ctx, "report_"+filepath.Base(r)); len(unblurred) > 0 {
			t.Errorf("%s: photos flagged NSFW but not blurred: %v", r, unblurred)
		}
		t.Logf("%s: %d photos loaded", filepath.Base(r), loaded)
		if len(broken) > 0 {
			t.Errorf("%s: %d photo(s) do not load: %v", r, len(broken), broken)
		}
	}
}

// TestBrowserNotebooks starts Jupyter as `make notebook` does, runs every cell of each
// notebook in headless Chromium, and fails on a failed cell or a photo that does not load;
// in notebook 04 it types a query into the interactive search and waits for its answer
// with its photos loaded.
func TestBrowserNotebooks(t *testing.T) {
	root := needBrowser(t)
	names := notebookNames(t, root)
	base := startJupyter(t)
	ctx := browser(t, 60*time.Minute)
	total := 0
	for _, name := range names {
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(base.page(name))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		waitJS(t, ctx, name+": kernel connected", 2*time.Minute,
			`!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())`)
		// No autosave: the committed notebooks stay without outputs.
		eval[bool](t, ctx, `Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.clear_all_output();
	Jupyter.notebook.execute_all_cells(); true`)
		if hasSearchBox(t, root, name) {
			interactiveSearch(t, ctx, name)
		}
		waitJS(t, ctx, name+": every cell run", 20*time.Minute, `(() => {
	const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type === "code");
	return cells.every(c => typeof c.input_prompt_number === "number") &&
		document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null;
})()`)
		failed := eval[[]string](t, ctx, `Jupyter.notebook.get_cells().flatMap((c, i) =>
	c.element[0].querySelector(".output_error") ? ["cell " + (i+1) + ": " + c.element[0].querySelector(".output_error").innerText.split("\n")[0]] : [])`)
		loaded, broken := photos(t, ctx, "#notebook")
		screenshot(t, ctx, "notebook_"+name)
		if unblurred := flaggedButSharp(t, ctx, "notebook_"+name); len(unblurred) > 0 {
			t.Errorf("%s: photos flagged NSFW but not blurred: %v", name, unblurred)
		}
		total += loaded
		// Leave without saving, and stop the kernel.
		eval[bool](t, ctx, `Jupyter.notebook.set_dirty(false); window.onbeforeunload = null;
	Jupyter.notebook.session.delete(); true`)
		t.Logf("%s: every cell run in %s, %d photos loaded", name, time.Since(start).Round(time.Second), loaded)
		if len(failed) > 0 {
			t.Errorf("%s: failed cells: %v", name, failed)
		}
		if len(broken) > 0 {
			t.Errorf("%s in live Jupyter: %d photo(s) do not load: %v", name, len(broken), broken)
		}
	}
	if total == 0 {
		t.Errorf("no photo loaded in any of %v: the check saw no gallery", names)
	}
}

// hasSearchBox reports whether a notebook has an interactive search cell (notebook 04).
func hasSearchBox(t *testing.T, root, name string) bool {
	b, err := os.ReadFile(filepath.Join(root, "notebooks", name+".ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), "SearchBox(")
}

// interactiveSearch types browserQuery into the notebook's search box, waits for the
// answer (the query in bold above photos that load), then presses Done so the cell and the
// ones after it finish.
func interactiveSearch(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	const input = `#notebook input[id^="query_"]`
	waitJS(t, ctx, name+": the interactive search box", 20*time.Minute,
		fmt.Sprintf(`document.querySelector(%q) !== null && document.querySelector("#notebook .%s img") !== null`, input, notebook.AnswerClass))
	eval[bool](t, ctx, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ""; el.focus(); return true; })()`, input))
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(input), browserQuery+"\r")); err != nil {
		t.Fatalf("typing into the search box: %v", err)
	}
	answer := fmt.Sprintf(`(() => {
	const out = document.querySelector("#notebook .%s");
	const b = out && out.querySelector("b");
	return !!b && b.textContent === %q && out.querySelectorAll("img").length > 0;
})()`, notebook.AnswerClass, browserQuery)
	waitJS(t, ctx, name+": the answer to the typed query", 2*time.Minute, answer)
	eval[bool](t, ctx, fmt.Sprintf(`document.querySelector("#notebook .%s").scrollIntoView(); true`, notebook.AnswerClass))
	loaded, broken := photos(t, ctx, "#notebook ."+notebook.AnswerClass)
	screenshot(t, ctx, "notebook_"+name+"_answer")
	if loaded == 0 || len(broken) > 0 {
		t.Errorf("answer to %q: %d photos loaded, broken: %v", browserQuery, loaded, broken)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#notebook button[id^="gonb_button_"]`))); err != nil {
		t.Fatalf("pressing Done: %v", err)
	}
}

// photos waits until every <img> under the selector has finished loading and returns how
// many loaded and the addresses of those that did not (naturalWidth 0).
func photos(t *testing.T, ctx context.Context, under string) (loaded int, broken []string) {
	t.Helper()
	waitJS(t, ctx, "images loaded", time.Minute,
		fmt.Sprintf(`Array.from(document.querySelectorAll(%q + " img")).every(i => i.complete)`, under))
	res := eval[struct {
		Loaded int      `json:"loaded"`
		Broken []string `json:"broken"`
	}](t, ctx, fmt.Sprintf(`(() => {
	const imgs = Array.from(document.querySelectorAll(%q + " img"));
	return {loaded: imgs.filter(i => i.naturalWidth > 0).length,
		broken: imgs.filter(i => i.naturalWidth === 0).map(i => i.getAttribute("src"))};
})()`, under))
	return res.Loaded, res.Broken
}

// eval returns the value of a JavaScript expression in the page.
// flaggedButSharp returns the photos of the page's gallery cards flagged NSFW (the
// gallery's "nsfw-flag" line) whose image the browser does not draw blurred; it logs how
// many are flagged and, with screenshots on, shoots the first one.
func flaggedButSharp(t *testing.T, ctx context.Context, page string) []string {
	t.Helper()
	res := eval[struct {
		Flagged int      `json:"flagged"`
		Sharp   []string `json:"sharp"`
	}](t, ctx, `(() => {
	const flags = Array.from(document.querySelectorAll(".nsfw-flag"));
	const imgs = flags.map(f => f.parentElement.querySelector("img"));
	if (flags.length > 0) { flags[0].scrollIntoView({block: "center"}); }
	return {flagged: flags.length,
		sharp: imgs.filter(i => !i || !getComputedStyle(i).filter.includes("blur")).map(i => i ? i.getAttribute("src") : "(no img)")};
})()`)
	t.Logf("%s: %d photos flagged NSFW", page, res.Flagged)
	if res.Flagged > 0 {
		screenshot(t, ctx, page+"_flagged")
	}
	return res.Sharp
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%v: in %s", err, js)
	}
	return v
}

// waitJS polls the expression until it is true, failing after timeout with what it waited for.
func waitJS(t *testing.T, ctx context.Context, what string, timeout time.Duration, js string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			screenshot(t, ctx, "timeout")
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("WITH_SENSE_BROWSER_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".html")+".png"), png, 0o644)
}

// browser starts headless Chromium for the test, closed at its end.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel, err := headless.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	ctx, stop := context.WithTimeout(ctx, timeout)
	t.Cleanup(stop)
	return ctx
}

func notebookNames(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	if v := os.Getenv("WITH_SENSE_BROWSER_NOTEBOOKS"); v != "" {
		names = strings.Split(v, ",")
	} else {
		paths, _ := filepath.Glob(filepath.Join(root, "notebooks", "*.ipynb"))
		for _, p := range paths {
			names = append(names, strings.TrimSuffix(filepath.Base(p), ".ipynb"))
		}
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, "notebooks", n+".ipynb")); err != nil {
			t.Fatalf("notebook %s: %v", n, err)
		}
	}
	return names
}

// jupyterServer is a running Jupyter's address and token.
type jupyterServer struct{ url, token string }

// page is a notebook's address (the server's root is the project root).
func (s jupyterServer) page(name string) string {
	return fmt.Sprintf("%s/notebooks/notebooks/%s.ipynb?token=%s", s.url, name, s.token)
}

// startJupyter starts Jupyter with jupyterCommand (as `make notebook` does) on a free
// loopback port with a random token, and stops it, kernels included, when the test ends.
func startJupyter(t *testing.T) jupyterServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tok := make([]byte, 16)
	rand.Read(tok)
	s := jupyterServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), token: hex.EncodeToString(tok)}
	cmd, err := jupyterCommand("--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--port-retries=0", "--NotebookApp.token="+s.token)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "jupyter.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernels inherit the server's environment: what the notebooks write goes to a
	// scratch folder, the committed results stay.
	cmd.Env = append(cmd.Env, project.ResultsEnv+"="+t.TempDir())
	// Its own process group (its kernels are stopped with it), and SIGTERM if this test
	// process dies first (a panic on the test timeout skips the cleanup).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // Jupyter shuts its kernels down on SIGTERM
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Logf("Jupyter did not stop on SIGTERM: killing its process group")
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever of the group is left
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("Jupyter's log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.url + "/api/status?token=" + s.token)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("Jupyter exited (%v):\n%s", exitErr, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jupyter not answering on %s after a minute", s.url)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
