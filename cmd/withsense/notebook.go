package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/notebook"
	"github.com/withsense/withsense/lib/project"
)

func init() {
	commands["kernel"] = command{
		summary: "point the installed GoNB Jupyter kernel at this project's toolchain settings",
		usage:   "kernel [-check]",
		run:     kernelEnv,
	}
	commands["notebook"] = command{
		summary: "execute a notebook headless with the GoNB kernel and write it as HTML",
		usage:   "notebook [-out DIR] [-check] NOTEBOOK.ipynb",
		run:     runNotebook,
	}
}

// kernelSpec is the GoNB kernel's kernel.json as `gonb --install` writes it.
func kernelSpec() (string, map[string]any, error) {
	out, err := exec.Command("jupyter", "--data-dir").Output()
	if err != nil {
		return "", nil, fmt.Errorf("jupyter --data-dir: %w (is Jupyter installed? run `make setup`)", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "kernels", "gonb", "kernel.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return path, nil, fmt.Errorf("GoNB kernel not installed: %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return path, nil, fmt.Errorf("%s: %w", path, err)
	}
	return path, spec, nil
}

// kernelEnvironment is what cells are built and run with: the project's Go toolchain,
// SIMD, the noxla tag unless the user builds with XLA, the tools GoNB calls, and the root.
func kernelEnvironment() map[string]any {
	root := project.MustRoot()
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
	return env
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
	want := kernelEnvironment()
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

// runNotebook executes the notebook with nbconvert into a scratch folder, checks that no
// cell failed, and writes <out>/<name>.html atomically (the previous report stays if any
// step fails).
func runNotebook(args []string) error {
	fs := flags("notebook")
	out := fs.String("out", project.ResultsDir(), "folder for the HTML report")
	check := fs.Bool("check", false, "execute and check the cells only (no HTML)")
	timeout := fs.Int("timeout", 1800, "seconds a cell may run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one notebook, got %d arguments", fs.NArg())
	}
	nb, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if _, err := os.Stat(nb); err != nil {
		return err
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
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", *timeout),
		"--output-dir", scratch, "--output", name, nb)
	cmd.Dir = filepath.Dir(nb) // GoNB takes the notebook's folder as $GONB_DIR
	cmd.Env = append(os.Environ(), notebook.HeadlessEnv+"=1")
	if *check { // a check leaves the committed results alone
		cmd.Env = append(cmd.Env, project.ResultsEnv+"="+scratch)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	runErr := cmd.Run()
	if failed, err := failedCells(executed); err == nil && len(failed) > 0 {
		return fmt.Errorf("%s: %d failed cell(s):\n%s", nb, len(failed), strings.Join(failed, "\n"))
	} else if runErr != nil {
		return fmt.Errorf("%s: nbconvert: %w", nb, runErr)
	} else if err != nil {
		return err
	}
	if *check {
		return nil
	}
	html := exec.Command("jupyter", "nbconvert", "--to", "html", "--output-dir", scratch, "--output", name, executed)
	html.Stdout, html.Stderr = os.Stderr, os.Stderr
	if err := html.Run(); err != nil {
		return fmt.Errorf("%s: nbconvert to HTML: %w", nb, err)
	}
	b, err := os.ReadFile(filepath.Join(scratch, name+".html"))
	if err != nil {
		return err
	}
	dest := filepath.Join(*out, name+".html")
	if err := atomicfile.WriteFile(dest, b); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", dest)
	return nil
}

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
