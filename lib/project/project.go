// Package project holds the facts that every other package, the notebooks, the
// command line and the tests share: where the project's folders are, the seeds
// and split settings of the evaluation protocol. Each fact is defined here once.
package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Module is the Go module path of the project; Root looks for the go.mod that declares it.
const Module = "github.com/withsense/withsense"

// RootEnv names the environment variable that overrides the project root.
const RootEnv = "WITH_SENSE_ROOT"

// Evaluation protocol (see ../shared/docs/EVALUATION.md): one seed for every split and
// every model, the validation share of GroupShuffleSplit and the number of GroupKFold folds.
const (
	Seed          = 42
	ValidFraction = 0.3
	Folds         = 5
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// Root returns the project's top folder: $WITH_SENSE_ROOT if set, else the first folder,
// walking up from the working directory (or from $GONB_DIR inside a notebook), whose
// go.mod declares Module.
func Root() (string, error) {
	rootOnce.Do(func() { rootDir, rootErr = findRoot() })
	return rootDir, rootErr
}

func findRoot() (string, error) {
	if dir := os.Getenv(RootEnv); dir != "" {
		if !isRoot(dir) {
			return "", fmt.Errorf("$%s=%q: no go.mod declaring module %s there", RootEnv, dir, Module)
		}
		return filepath.Abs(dir)
	}
	var starts []string
	if dir := os.Getenv("GONB_DIR"); dir != "" {
		starts = append(starts, dir)
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if isRoot(dir) {
				return dir, nil
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return "", fmt.Errorf("project root not found: no go.mod declaring module %s above %s; set $%s",
		Module, strings.Join(starts, " or "), RootEnv)
}

func isRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+Module
}

// MustRoot is Root for command-line tools and notebooks, where there is nothing to do
// without the project; it panics with Root's message.
func MustRoot() string {
	dir, err := Root()
	if err != nil {
		panic(err)
	}
	return dir
}

// Path joins elements below the project root.
func Path(elem ...string) string {
	return filepath.Join(append([]string{MustRoot()}, elem...)...)
}

// Folders below the root. DataDir holds the dataset (linked by the setup) and caches;
// ModelsDir the downloaded and converted weights and trained checkpoints; ResultsDir the
// committed reports.
func DataDir() string   { return Path("data") }
func ModelsDir() string { return Path("models") }
func ResultsDir() string {
	if dir := os.Getenv(ResultsEnv); dir != "" {
		return dir
	}
	return Path("results")
}

// ResultsEnv redirects ResultsDir, so test runs of the notebooks leave the committed
// reports alone.
const ResultsEnv = "WITH_SENSE_RESULTS"

func CacheDir() string { return Path("data", "cache") }

// TrainedEnv redirects TrainedDir, so that a test can train models without replacing the
// ones the search uses.
const TrainedEnv = "WITH_SENSE_TRAINED"

// TrainedDir holds the models the study trains (models/ unless $WITH_SENSE_TRAINED is set):
// mlp/, retrieval/ and the search's configuration.
func TrainedDir() string {
	if dir := os.Getenv(TrainedEnv); dir != "" {
		return dir
	}
	return ModelsDir()
}

// StudyCacheEnv redirects StudyCacheDir (tests of the study's reproducibility start from an
// empty one).
const StudyCacheEnv = "WITH_SENSE_STUDY_CACHE"

// StudyCacheDir holds the study's cached results (data/cache/study unless
// $WITH_SENSE_STUDY_CACHE is set).
func StudyCacheDir() string {
	if dir := os.Getenv(StudyCacheEnv); dir != "" {
		return dir
	}
	return filepath.Join(CacheDir(), "study")
}

// Relative rewrites the project root's absolute path in a message as relative paths
// ("models/onnx/x" instead of "/home/me/withsense/models/onnx/x"), so that what a report
// shows names no machine's folders.
func Relative(msg string) string {
	root, err := Root()
	if err != nil || root == "" {
		return msg
	}
	return strings.ReplaceAll(msg, root+string(filepath.Separator), "")
}
