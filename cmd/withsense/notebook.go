package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/notebook"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
)

func init() {
	commands["kernel"] = command{
		summary: "point the installed GoNB Jupyter kernel at this project's toolchain settings",
		usage:   "kernel [-check]",
		run:     kernelEnv,
	}
	commands["notebook"] = command{
		summary: "execute notebooks headless with the GoNB kernel and write them as HTML",
		usage:   "notebook [-out DIR] [-check] [-timeout S] NOTEBOOK.ipynb...",
		run:     runNotebook,
	}
}

// kernelSpec is the GoNB kernel's kernel.json as `gonb --install` writes it.
func kernelSpec() (string, map[string]any, error) {
	root, err := project.Root()
	if err != nil {
		return "", nil, err
	}
	dataDir := exec.Command("jupyter", "--data-dir")
	dataDir.Env = jupyterEnv(root)
	out, err := dataDir.Output()
	if err != nil {
		return "", nil, fmt.Errorf("jupyter --data-dir: %w (is Jupyter installed? run `make setup`)", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "kernels", "gonb", "kernel.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return path, nil, fmt.Errorf("GoNB kernel not installed (run `make kernel`): %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return path, nil, fmt.Errorf("%s: %w", path, err)
	}
	return path, spec, nil
}

// kernelEnvironment is what cells are built and run with: the project's Go toolchain,
// SIMD, the noxla tag unless the user builds with XLA, the tools GoNB calls, and the root.
func kernelEnvironment() (map[string]any, error) {
	root, err := project.Root()
	if err != nil {
		return nil, err
	}
	env := map[string]any{
		"GOTOOLCHAIN":   os.Getenv("GOTOOLCHAIN"),
		"GOEXPERIMENT":  os.Getenv("GOEXPERIMENT"),
		"GOMLX_BACKEND": os.Getenv("GOMLX_BACKEND"),
		"PATH":          filepath.Join(root, "bin") + ":" + os.Getenv("PATH"),
		project.RootEnv: root,
	}
	if tags := os.Getenv("GOTAGS"); tags != "" {
		env["GOFLAGS"] = "-tags=" + tags
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env, nil
}

func kernelEnv(args []string) error {
	fs := flags("kernel")
	check := fs.Bool("check", false, "only check that the installed kernel has these settings (exit 1 if not)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path, spec, err := kernelSpec()
	if err != nil {
		return err
	}
	want, err := kernelEnvironment()
	if err != nil {
		return err
	}
	if *check {
		got, _ := json.Marshal(spec["env"])
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			return fmt.Errorf("%s: env %s, want %s", path, got, exp)
		}
		return nil
	}
	spec["env"] = want
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}

// runNotebook executes each notebook with nbconvert into a scratch folder, checks that no
// cell failed, and writes <out>/<name>.html atomically (the previous report stays if any
// step fails). While a notebook runs, the terminal shows its elapsed time and the kernel's
// current long step (its lib/progress bar, through a progress log); at the end, the time of
// every notebook.
func runNotebook(args []string) error {
	fs := flags("notebook")
	out := fs.String("out", "", "folder for the HTML reports (default: the project's results/)")
	check := fs.Bool("check", false, "execute and check the cells only (no HTML)")
	timeout := fs.Int("timeout", 1800, "seconds a cell may run")
	force := fs.Bool("force", false, "execute even a notebook whose report is up to date (same notebook, code, settings)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("want one or more notebooks, got none")
	}
	if _, err := project.Root(); err != nil {
		return err
	}
	if _, _, err := kernelSpec(); err != nil {
		return err
	}
	if *out == "" && !*check {
		*out = project.ResultsDir()
	}
	term := newTerminal(os.Stderr)
	var times []string
	defer func() {
		if len(times) > 1 {
			term.println("notebook times:\n" + strings.Join(times, "\n"))
		}
	}()
	for _, nb := range fs.Args() {
		start := time.Now()
		name := strings.TrimSuffix(filepath.Base(nb), ".ipynb")
		if !*check && !*force && unchanged(nb, name, *out) {
			term.println(fmt.Sprintf("%s: up to date (same notebook, code and settings as the last run): kept %s", name, filepath.Join(*out, name+".html")))
			times = append(times, fmt.Sprintf("  %-20s %8s  %s", filepath.Base(nb), "0s", "up to date"))
			continue
		}
		err := executeNotebook(term, nb, *out, *check, *timeout)
		if err == nil && !*check {
			err = recordReport(nb, name, *out)
		}
		status := "ok"
		if err != nil {
			status = "FAILED"
		}
		line := fmt.Sprintf("  %-20s %8s  %s", filepath.Base(nb), time.Since(start).Round(time.Second), status)
		times = append(times, line)
		if err != nil {
			return err
		}
	}
	return nil
}

// executeNotebook runs one notebook (see runNotebook).
func executeNotebook(term *terminal, nb, out string, check bool, timeout int) error {
	nb, err := filepath.Abs(nb)
	if err != nil {
		return err
	}
	if _, err := os.Stat(nb); err != nil {
		return fmt.Errorf("notebook not found: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(nb), ".ipynb")
	scratch, err := os.MkdirTemp("", "withsense-nb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	executed := filepath.Join(scratch, name+".ipynb")
	cmd := exec.Command("jupyter", "nbconvert", "--to", "notebook", "--execute",
		"--allow-errors", "--ExecutePreprocessor.kernel_name=gonb",
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", timeout),
		"--output-dir", scratch, "--output", name, nb)
	cmd.Dir = filepath.Dir(nb) // GoNB takes the notebook's folder as $GONB_DIR
	root, err := project.Root()
	if err != nil {
		return err
	}
	logPath := filepath.Join(scratch, "progress.jsonl")
	// jupyter_client starts the kernel with nbconvert's environment: the kernel's bars
	// append to logPath.
	cmd.Env = append(jupyterEnv(root), notebook.HeadlessEnv+"=1", progress.LogEnv+"="+logPath)
	if check { // a check leaves the committed results alone
		cmd.Env = append(cmd.Env, project.ResultsEnv+"="+scratch)
	}
	// If this process dies (a timeout's SIGTERM), nbconvert is interrupted and stops its
	// kernel rather than leaving it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	term.println(fmt.Sprintf("executing %s", name))
	stop := term.follow(name, progress.NewTail(logPath))
	// Ctrl-C or SIGTERM: nbconvert is interrupted; either way its kernel is stopped below.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var interrupted atomic.Bool
	go func() {
		for range sigs {
			interrupted.Store(true)
			if cmd.Process != nil {
				cmd.Process.Signal(os.Interrupt)
			}
		}
	}()
	runErr := term.run(cmd)
	signal.Stop(sigs)
	close(sigs)
	stop()
	stopKernels(progress.LogEnv + "=" + logPath)
	if interrupted.Load() {
		return fmt.Errorf("%s: interrupted", nb)
	}
	if failed, err := failedCells(executed); err == nil && len(failed) > 0 {
		return fmt.Errorf("%s: %d failed cell(s):\n%s", nb, len(failed), strings.Join(failed, "\n"))
	} else if runErr != nil {
		return fmt.Errorf("%s: nbconvert: %w", nb, runErr)
	} else if err != nil {
		return err
	}
	if check {
		return nil
	}
	if err := withoutRoot(executed); err != nil {
		return err
	}
	html := exec.Command("jupyter", "nbconvert", "--to", "html", "--output-dir", scratch, "--output", name,
		"--HTMLExporter.require_js_url="+requireJSURL, "--HTMLExporter.mathjax_url="+mathJaxURL, executed)
	if err := term.run(html); err != nil {
		return fmt.Errorf("%s: nbconvert to HTML: %w", nb, err)
	}
	b, err := os.ReadFile(filepath.Join(scratch, name+".html"))
	if err != nil {
		return err
	}
	dest := filepath.Join(out, name+".html")
	if err := atomicfile.WriteFile(dest, b); err != nil {
		return err
	}
	term.println("wrote " + dest)
	return nil
}

// stopKernels kills the processes whose environment holds marker (this run's progress
// log): the GoNB kernel and its cell's program. GoNB does not watch its parent the way
// ipykernel does, so a kernel whose nbconvert was interrupted would run on.
func stopKernels(marker string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(append([]byte{0}, env...), []byte("\x00"+marker+"\x00")) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// withoutRoot rewrites the executed notebook so that the report names no machine path:
// the project root becomes "." and paths below it relative ones (a cell's message about
// "/x/withsense/models/onnx/resnet50.onnx" reads "models/onnx/resnet50.onnx").
func withoutRoot(executed string) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(executed)
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(b), root+"/", "")
	bare := regexp.MustCompile(regexp.QuoteMeta(root) + `([^\w.-]|$)`) // not /x/withsense2
	return atomicfile.WriteFile(executed, []byte(bare.ReplaceAllString(s, ".$1")))
}

// The scripts the exported HTML loads, at upstream nbconvert's addresses: Debian's nbconvert
// links its own copies as file:///usr/share/javascript/..., a machine path that exists on
// Debian only.
const (
	requireJSURL = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"
	mathJaxURL   = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
)

// failedCells lists the executed cells whose outputs hold an error, with the first line of
// each error.
func failedCells(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb struct {
		Cells []struct {
			CellType       string `json:"cell_type"`
			ExecutionCount *int   `json:"execution_count"`
			Outputs        []struct {
				OutputType string   `json:"output_type"`
				EName      string   `json:"ename"`
				EValue     string   `json:"evalue"`
				Name       string   `json:"name"`
				Text       []string `json:"text"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var failed []string
	for i, c := range nb.Cells {
		for _, o := range c.Outputs {
			if o.OutputType == "error" {
				msg, _, _ := strings.Cut(strings.TrimSpace(o.EName+": "+o.EValue), "\n")
				failed = append(failed, fmt.Sprintf("  cell %d: %s", i+1, msg))
				break
			}
		}
	}
	return failed, nil
}
