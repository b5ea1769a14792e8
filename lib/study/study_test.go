package study

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/settings"
)

func TestStats(t *testing.T) {
	ranks := []int{1, 3, 12, 1, 5}
	none := make([]bool, len(ranks))
	s, err := stats(ranks, none, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Queries != 5 || s.R1 != 0.4 || s.R5 != 0.8 || s.R10 != 0.8 || s.MedianRank != 3 {
		t.Errorf("stats %+v", s)
	}
	if want := (1 + 1.0/3 + 1.0/12 + 1 + 0.2) / 5; math.Abs(s.MRR-want) > 1e-12 {
		t.Errorf("MRR %v, want %v", s.MRR, want)
	}
	// Skipping the blocked queries.
	blocked := []bool{true, false, false, true, false}
	s, _ = stats(ranks, blocked, false)
	if s.Queries != 3 || s.R1 != 0 || s.MedianRank != 5 {
		t.Errorf("allowed stats %+v", s)
	}
	if s, err := stats(ranks, []bool{true, true, true, true, true}, false); err != nil || s.Queries != 0 {
		t.Errorf("all blocked: %+v %v", s, err)
	}
	// A query whose photo is not returned (rank 0: hidden by the guard) is a miss.
	s, _ = stats([]int{0, 3, 12, 0, 5}, blocked, true)
	if s.Queries != 5 || s.R1 != 0 || s.R5 != 0.4 || s.MedianRank != 12 {
		t.Errorf("stats with misses %+v", s)
	}
}

func TestValidationPhotos(t *testing.T) {
	var samples []dataset.Sample
	for p := range 60 {
		for c := range 3 {
			samples = append(samples, dataset.Sample{Image: fmt.Sprintf("p%02d.jpg", p), QueryID: fmt.Sprintf("q%d.jpg#0", c)})
		}
	}
	a, err := ValidationPhotos(samples, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ValidationPhotos(samples, 10)
	split, _ := evaluate.SeedSplit(samples)
	valid := map[string]bool{}
	for _, i := range split.Valid {
		valid[samples[i].Image] = true
	}
	if len(a) != 10 || !slices.Equal(a, b) {
		t.Fatalf("validation photos %v then %v: want the same 10", a, b)
	}
	for _, p := range a {
		if !valid[p] {
			t.Errorf("%s is on the training side of the seed split", p)
		}
	}
	if _, err := ValidationPhotos(samples, 1000); err == nil {
		t.Error("more validation photos than the split has: no error")
	}
}

func TestWriteOOF(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(project.ResultsEnv, dir)
	in := &Inputs{Samples: []dataset.Sample{
		{Image: "a.jpg", QueryID: "b.jpg#2", Target: 0.5},
		{Image: "b.jpg", QueryID: "b.jpg#2", Target: 1},
	}}
	if err := WriteOOF(in, map[string][]float32{"zeta": {0.1, 0.2}, "alpha": {0.3, 0.4}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, OOFFile))
	want := "image,query_id,target,alpha,zeta\na.jpg,b.jpg#2,0.500000,0.300000,0.100000\nb.jpg,b.jpg#2,1.000000,0.400000,0.200000\n"
	if string(b) != want {
		t.Errorf("oof file:\n%s\nwant:\n%s", b, want)
	}
	err := WriteOOF(in, map[string][]float32{"short": {0.1}})
	if err == nil || !strings.Contains(err.Error(), "model short: 1 out-of-fold predictions for 2 samples") {
		t.Errorf("short predictions: %v", err)
	}
}

// TestCurrentRunSettings: every section's names are checked when the run starts, even for
// models whose results will come from the cache.
func TestCurrentRunSettings(t *testing.T) {
	t.Setenv(settings.Env, "study.seeds=3; study.two_tower_seeds=4; mlp.max_epochs=7; twotower.dim=64")
	r, err := CurrentRun()
	if err != nil || r.Config.Seeds != 3 || r.Config.TwoTowerSeeds != 4 || r.Set["mlp.max_epochs"] != "7" {
		t.Fatalf("run %+v, %v", r, err)
	}
	for _, bad := range []string{"mlp.max_epoch=7", "mpl.max_epochs=7", "twotower.dims=64", "study.seeds=0", "study.two_tower_seeds=0", "study.two_tower_seeds=51"} {
		t.Setenv(settings.Env, bad)
		if _, err := CurrentRun(); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestRunoffPairs: the runoff takes the pairs of the lowest kept cells, each pair once,
// lowest first, and ignores cells the filter drops (a constant model's, here).
func TestRunoffPairs(t *testing.T) {
	designs := []evaluate.Design{{Text: "t1", Image: "i1"}, {Text: "t1", Image: "i2"}, {Text: "t2", Image: "i1"}}
	cells := []evaluate.Cell{
		{Model: "mlp", Text: "t1", Image: "i1", MAE: 0.16},
		{Model: "median", Text: "t1", Image: "i2", MAE: 0.10},
		{Model: "mlp", Text: "t1", Image: "i2", MAE: 0.155},
		{Model: "mlp2", Text: "t1", Image: "i2", MAE: 0.151},
		{Model: "mlp", Text: "t2", Image: "i1", MAE: 0.152},
	}
	keep := func(c evaluate.Cell) bool { return c.Model != "median" }
	var got []string
	for _, d := range runoffPairs(cells, designs, keep, 2) {
		got = append(got, d.Name())
	}
	if want := []string{"t1 + i2", "t2 + i1"}; !slices.Equal(got, want) {
		t.Errorf("runoff pairs %v, want %v", got, want)
	}
	if one := runoffPairs(cells, designs, keep, 1); len(one) != 1 || one[0].Name() != "t1 + i2" {
		t.Errorf("one finalist: %v", one)
	}
}
