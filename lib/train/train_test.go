package train

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/withsense/withsense/lib/progress"
)

func init() { progress.Quiet = true }

// linearRun returns a Run fitting y = 2x₀ − x₁ + 1 with one dense layer under scope
// "dense" (inputs standardised under "dense/norm"), whose Validate returns scores[epoch−1]
// and records the dense kernel after every epoch.
func linearRun(t *testing.T, scores []float64, patience int) (Run[[]float32], *model.Store) {
	t.Helper()
	var X [][]float32
	var y []float32
	for i := range 64 {
		a, b := float32(i%8), float32(i/8)
		X, y = append(X, []float32{a, b}), append(y, 2*a-b+1)
	}
	rows := make([]int, len(X))
	for i := range rows {
		rows[i] = i
	}
	store := NewStore(7)
	if err := AddStandardizer(store.RootScope().In("dense"), X, rows); err != nil {
		t.Fatal(err)
	}
	build := func(scope *model.Scope, x *graph.Node) *graph.Node {
		scope = scope.In("dense")
		Begin(scope, x.Graph(), ModeTrain)
		x = Dropout(scope, Standardize(scope, x), 0.1, ModeTrain)
		return layers.Dense(scope, x, true, 1)
	}
	trainer, err := NewTrainer(store, build, loss.MeanSquaredError, 0.05, 0)
	if err != nil {
		t.Fatal(err)
	}
	return Run[[]float32]{
		Name:      "linear",
		Trainer:   trainer,
		Model:     Scopes{"dense"},
		MaxEpochs: len(scores),
		Patience:  patience,
		Order:     func(int) []int { return rows },
		BatchSize: 16,
		Fill: func(r []int) Batch {
			xb, yb := make([]float32, 0, 2*len(r)), make([]float32, 0, len(r))
			for _, i := range r {
				xb, yb = append(xb, X[i]...), append(yb, y[i])
			}
			return Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(xb, len(r), 2)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(yb, len(r), 1)}}
		},
		Validate: func(e Epoch) ([]float32, float64, error) {
			k, err := store.GetVariable("/dense/dense/weights").Value()
			if err != nil {
				return nil, 0, err
			}
			w, err := tensors.CopyFlatData[float32](k)
			return w, scores[e.Epoch-1], err
		},
	}, store
}

// TestFitKeepsBestEpoch checks early stopping and the restore: with validation scores
// 5, 3, 4, 6, 7, 1 (lower is better) and patience 3, training stops after epoch 5 and
// the store holds the weights recorded after epoch 2, and nothing but the model.
func TestFitKeepsBestEpoch(t *testing.T) {
	run, store := linearRun(t, []float64{5, 3, 4, 6, 7, 1}, 3)
	history, best, err := run.Fit()
	if err != nil {
		t.Fatal(err)
	}
	if best != 2 || len(history) != 5 {
		t.Fatalf("best epoch %d of %d, want 2 of 5", best, len(history))
	}
	if slices.Equal(history[1], history[4]) {
		t.Fatalf("weights did not change between epochs 2 and 5: %v", history[1])
	}
	k, err := store.GetVariable("/dense/dense/weights").Value()
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := tensors.CopyFlatData[float32](k)
	if !slices.Equal(kept, history[1]) {
		t.Errorf("kept weights %v, want epoch 2's %v (last epoch's: %v)", kept, history[1], history[4])
	}
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/dense/") {
			t.Errorf("training state %s left in the store", v.Path())
		}
	}
	if store.GetVariable("/dense/norm/mean") == nil {
		t.Error("the standardiser was dropped")
	}
}

// TestFitHigherAndNaN checks a higher-is-better score, that NaN scores (no validation
// data) keep the last epoch, and that a NaN after real scores is never the best.
func TestFitHigherAndNaN(t *testing.T) {
	run, _ := linearRun(t, []float64{0.1, 0.5, 0.3, 0.2}, 2)
	run.Higher = true
	var seen int
	run.OnEpoch = func([]float32) { seen++ }
	if _, best, err := run.Fit(); err != nil || best != 2 || seen != 4 {
		t.Errorf("higher is better: best %d, %d epochs seen, err %v; want 2, 4, nil", best, seen, err)
	}
	nan := math.NaN()
	run, _ = linearRun(t, []float64{nan, nan, nan}, 1)
	if h, best, err := run.Fit(); err != nil || best != 3 || len(h) != 3 {
		t.Errorf("no validation: best %d of %d, err %v; want the last of 3", best, len(h), err)
	}
	run, _ = linearRun(t, []float64{2, 1, nan, 3}, 0)
	if _, best, err := run.Fit(); err != nil || best != 2 {
		t.Errorf("scores 2, 1, NaN, 3: best %d, err %v; want 2", best, err)
	}
}

// TestFitLearns checks the loop trains: the training loss of a standardised dense layer
// on the exact linear target falls five-fold (input dropout keeps it above 0).
func TestFitLearns(t *testing.T) {
	run, _ := linearRun(t, make([]float64, 60), 0)
	var losses []float64
	validate := run.Validate
	run.Validate = func(e Epoch) ([]float32, float64, error) {
		losses = append(losses, e.TrainLoss)
		return validate(e)
	}
	if _, _, err := run.Fit(); err != nil {
		t.Fatal(err)
	}
	if first, last := losses[0], losses[len(losses)-1]; !(last < first/5) {
		t.Errorf("training loss %v after epoch 1, %v after %d", first, last, len(losses))
	}
}

func TestFitErrors(t *testing.T) {
	run, _ := linearRun(t, []float64{1, 2}, 0)
	run.Validate = func(Epoch) ([]float32, float64, error) { return nil, 0, errors.New("no metric") }
	if _, _, err := run.Fit(); err == nil || !strings.Contains(err.Error(), "linear: epoch 1: validation: no metric") {
		t.Errorf("validation error: %v", err)
	}
	run, _ = linearRun(t, []float64{1, 2}, 0)
	run.Validate = nil
	if _, _, err := run.Fit(); err == nil || !strings.Contains(err.Error(), "needs a trainer, Order, Fill, Validate") {
		t.Errorf("run without Validate: %v", err)
	}
	run, _ = linearRun(t, []float64{1, 2}, 0)
	run.Order = func(int) []int { return nil }
	if _, _, err := run.Fit(); err == nil || !strings.Contains(err.Error(), "no training rows") {
		t.Errorf("empty epoch: %v", err)
	}
}

func TestMeanScale(t *testing.T) {
	X := [][]float32{{1, 5}, {3, 5}, {100, 100}}
	mean, scale := MeanScale(X, []int{0, 1})
	if !slices.Equal(mean, []float32{2, 5}) || !slices.Equal(scale, []float32{1, 1}) {
		t.Errorf("mean %v scale %v, want [2 5] and [1 1] (sd 1; constant feature: 1)", mean, scale)
	}
}

func TestScopesHolds(t *testing.T) {
	s := Scopes{"image", "hidden_0"}
	for path, want := range map[string]bool{"/image/norm/mean": true, "/hidden_0/weights": true,
		"/hidden_1/weights": false, "/images/x": false, "/AdamOptimizer/image/weights_1st_moment": false, "/#rngState": false} {
		if got := s.Holds(path); got != want {
			t.Errorf("Holds(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestEach checks every index runs once, at most workers at a time, errors in index order.
func TestEach(t *testing.T) {
	var running, most atomic.Int32
	done := make([]bool, 20)
	err := Each(len(done), 3, func(i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		done[i] = true
		if i%7 == 6 {
			return fmt.Errorf("index %d", i)
		}
		return nil
	})
	if slices.Contains(done, false) || most.Load() > 3 {
		t.Errorf("done %v, %d at once (want all, ≤ 3)", done, most.Load())
	}
	if err == nil || err.Error() != "index 6\nindex 13" {
		t.Errorf("errors %q, want index 6 then index 13", err)
	}
}

// TestSaveLoadStore checks a checkpoint round-trips variables and info, that a second
// save replaces the first, and that the same training saves the same files, byte for
// byte, whenever it runs.
func TestSaveLoadStore(t *testing.T) {
	var files [2]map[string]string
	var store *model.Store
	dir := filepath.Join(t.TempDir(), "m")
	for i, note := range []string{"first", "second"} {
		if i == 1 {
			time.Sleep(time.Second) // GoMLX names checkpoints by the second they are saved
		}
		var run Run[[]float32]
		run, store = linearRun(t, []float64{1, 2}, 0)
		if _, _, err := run.Fit(); err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(t.TempDir(), note)
		for _, to := range []string{d, dir} {
			if err := SaveStore(to, store, "info.json", map[string]string{"note": "same"}); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = map[string]string{}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[i][e.Name()] = string(b)
		}
	}
	if !maps.Equal(files[0], files[1]) || len(files[0]) != 3 {
		t.Errorf("two trainings saved different files: %v and %v", slices.Sorted(maps.Keys(files[0])), slices.Sorted(maps.Keys(files[1])))
	}
	if err := SaveStore(dir, store, "info.json", map[string]string{"note": "second"}); err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	back, err := LoadStore(dir, "info.json", &info)
	if err != nil {
		t.Fatal(err)
	}
	if info["note"] != "second" {
		t.Errorf("info %v, want the second save's", info)
	}
	loaded := Paths(back)
	for path := range Paths(store) {
		if !loaded[path] {
			t.Errorf("%s saved, not loaded", path)
		}
	}
	if missing := (Scopes{"dense", "other"}).Missing(back, Paths(back)); missing != "" {
		t.Errorf("nothing is missing, got %q", missing)
	}
	if _, err := LoadStore(filepath.Join(t.TempDir(), "none"), "info.json", &info); err == nil {
		t.Error("loading a missing folder succeeded")
	}
}
