package study

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/results"
	"github.com/withsense/withsense/lib/settings"
)

// ReproEnv turns on TestReproducible (`make repro`, part of `make test`): it trains every
// model of the study twice on a small configuration.
const ReproEnv = "WITH_SENSE_REPRO"

// reproSettings is the small configuration: one encoder pair, two seeds, few epochs.
const reproSettings = `study.seeds=2; study.two_tower_seeds=2; study.texts=["glove-mean"]; study.images=["inception-mixed5"];
study.two_tower_texts=["glove-mean"]; study.two_tower_images=["inception-mixed5"]; mlp.max_epochs=4; twotower.epochs=2`

// TestReproducible runs the study's models and retrieval twice from empty study caches and
// empty model folders, and requires byte-identical metrics.json and CSV files.
func TestReproducible(t *testing.T) {
	if os.Getenv(ReproEnv) == "" {
		t.Skipf("set %s=1 to train the study twice (make repro)", ReproEnv)
	}
	if _, err := dataset.Locate(); err != nil {
		t.Fatal(err)
	}
	progress.Quiet = true
	t.Setenv(settings.Env, reproSettings)
	run := func() string {
		dir := t.TempDir()
		t.Setenv(project.ResultsEnv, filepath.Join(dir, "results"))
		t.Setenv(project.StudyCacheEnv, filepath.Join(dir, "cache"))
		t.Setenv(project.TrainedEnv, filepath.Join(dir, "models"))
		in, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Models(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteModels(in, m); err != nil {
			t.Fatal(err)
		}
		r, err := Retrieval(in, m)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteRetrieval(in, r); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "results")
	}
	a, b := run(), run()
	for _, name := range []string{results.MetricsFile, OOFFile, TestRanksFile} {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs from empty caches (%d and %d bytes)", name, len(x), len(y))
		}
	}
}
