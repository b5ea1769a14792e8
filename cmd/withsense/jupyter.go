package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/withsense/withsense/lib/project"
)

func init() {
	commands["jupyter"] = command{
		summary: "open Jupyter on notebooks/ with the GoNB kernel (served from the project root, so the photos under data/ show)",
		usage:   "jupyter [JUPYTER NOTEBOOK FLAGS...]",
		run:     runJupyter,
	}
}

// NotebooksURL is the page `withsense jupyter` opens: the notebooks' folder. The server's
// root is the project root, so the galleries' ../data/... links resolve inside it (classic
// Notebook redirects /notebooks/<photo> to /files/<photo>, and serves data/'s links).
const NotebooksURL = "/tree/notebooks"

// jupyterCommand is the one way this project starts Jupyter (`make notebook`, the browser
// check): the classic Notebook server rooted at the project, the kernel registered for
// this checkout (JUPYTER_DATA_DIR, as the Makefile sets it) and the project root in the
// environment; args are passed to `jupyter notebook`. The caller sets its input and output.
func jupyterCommand(args ...string) (*exec.Cmd, error) {
	root, err := project.Root()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("jupyter-notebook"); err != nil {
		return nil, fmt.Errorf("jupyter-notebook not found on $PATH (install it with `make apt`)")
	}
	cmd := exec.Command("jupyter", append([]string{"notebook", "--allow-root",
		"--notebook-dir=" + root, "--NotebookApp.default_url=" + NotebooksURL}, args...)...)
	cmd.Dir = root
	cmd.Env = jupyterEnv(root)
	return cmd, nil
}

// jupyterEnv is the environment every Jupyter command runs with: the project root, and the
// Jupyter data folder of this checkout (bin/jupyter, where `make kernel` registers GoNB)
// unless $JUPYTER_DATA_DIR says otherwise.
func jupyterEnv(root string) []string {
	env := append(os.Environ(), project.RootEnv+"="+root)
	if os.Getenv("JUPYTER_DATA_DIR") == "" {
		env = append(env, "JUPYTER_DATA_DIR="+filepath.Join(root, "bin", "jupyter"))
	}
	return env
}

func runJupyter(args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		flags("jupyter").Usage()
		return nil
	}
	cmd, err := jupyterCommand(args...)
	if err != nil {
		return err
	}
	cmd.Stdin = os.Stdin // Jupyter asks on Ctrl-C whether to stop
	// Ctrl-C goes to Jupyter (the whole foreground group gets it): this process stays to
	// pass on Jupyter's last lines. (signal.Ignore would be inherited by Jupyter.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	if err := newTerminal(os.Stderr).run(cmd); err != nil {
		return fmt.Errorf("jupyter notebook: %w", err)
	}
	return nil
}
