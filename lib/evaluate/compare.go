package evaluate

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/settings"
)

// Candidate is a model of the comparison: a name for the tables and a constructor that
// gets the width of the text part of a row (pair-interaction models need it) and a seed.
type Candidate struct {
	Name string
	New  func(textDim int, seed uint64) regress.Model
	// Constant models have no rank correlation (τ is undefined for a constant).
	Constant bool
	// Seeded models depend on their seed (initial weights, dropout, the photos held out for
	// early stopping): a comparison fits them with every one of its seeds.
	Seeded bool
	// Of names the seeded candidate whose fits this one averages: an ensemble over the
	// comparison's seeds, which costs no training of its own.
	Of string
}

// Seed returns the i-th seed of a comparison: the project seed, then the next ones.
func Seed(i int) uint64 { return uint64(project.Seed + i) }

// Candidates is the study's list of models, in table order: the constant baselines, the
// linear models, the seed's MLP (plain concatenation, MSE) and the variants that serve the
// metric better (a loss that matches MAE, pair-interaction features), and the average of
// the pair-interaction MLP over every seed, which removes much of the seed noise. The
// "mlp" section of the run's settings (lib/settings) overrides every MLP's settings.
func Candidates(a settings.Assignments) ([]Candidate, error) {
	mlp := func(name string, arch regress.Arch, loss regress.Loss) (Candidate, error) {
		settingsFor := func(textDim int, seed uint64) (regress.MLPSettings, error) {
			s := regress.DefaultMLPSettings(arch, textDim)
			s.Loss = loss
			if err := settings.Apply(&s, "mlp", a); err != nil {
				return s, err
			}
			s.Seed = seed
			return s, nil
		}
		if _, err := settingsFor(1, Seed(0)); err != nil {
			return Candidate{}, err
		}
		return Candidate{Name: name, Seeded: true, New: func(textDim int, seed uint64) regress.Model {
			s, _ := settingsFor(textDim, seed) // checked above
			return regress.NewMLP(name, s)
		}}, nil
	}
	cands := []Candidate{
		{Name: "mean", New: func(int, uint64) regress.Model { return &regress.Mean{} }, Constant: true},
		{Name: "median", New: func(int, uint64) regress.Model { return &regress.Median{} }, Constant: true},
		{Name: "linear", New: func(int, uint64) regress.Model { return &regress.Linear{} }},
		{Name: "ridge", New: func(int, uint64) regress.Model { return regress.NewRidge() }},
	}
	for _, m := range []struct {
		name string
		arch regress.Arch
		loss regress.Loss
	}{{"mlp-seed", regress.ArchConcat, regress.LossMSE}, {"mlp-mae", regress.ArchConcat, regress.LossMAE},
		{"mlp-product", regress.ArchProduct, regress.LossHuber}} {
		c, err := mlp(m.name, m.arch, m.loss)
		if err != nil {
			return nil, err
		}
		cands = append(cands, c)
	}
	return append(cands, Candidate{Name: "mlp-product-ensemble", Of: "mlp-product"}), nil
}

// Cell is one model on one pair of encoders on the seed's validation split. A seeded
// model's MAE is the mean over its seeds, with their standard deviation; an ensemble's
// deviation is the jackknife estimate over its members (leave one seed out).
type Cell struct {
	Model   string    `json:"model"`
	Text    string    `json:"text"`
	Image   string    `json:"image"`
	MAE     float64   `json:"mae"`
	SD      float64   `json:"mae_sd"`
	Seeds   int       `json:"seeds"`
	PerSeed []float64 `json:"mae_per_seed,omitempty"`
	RMSE    float64   `json:"rmse"`
}

// Embedding names a (text, image) encoder pair, as the tables write it.
func Embedding(text, image string) string { return text + " + " + image }

// Design holds the rows of one encoder pair for every sample.
type Design struct {
	Text, Image string
	TextDim     int
	X           [][]float32
}

// Name is the design's encoder pair as the tables write it.
func (d Design) Name() string { return Embedding(d.Text, d.Image) }

// Designs builds the [text | image] rows of the samples for every pair of tables.
func Designs(samples []dataset.Sample, texts, images []*features.Table) ([]Design, error) {
	pairs := make([]features.Pair, len(samples))
	for i, s := range samples {
		pairs[i] = features.Pair{Text: s.Text, Image: s.Image}
	}
	var out []Design
	for _, t := range texts {
		for _, im := range images {
			X, err := features.Rows(pairs, t, im)
			if err != nil {
				return nil, err
			}
			out = append(out, Design{Text: t.Encoder, Image: im.Encoder, TextDim: t.Dim, X: X})
		}
	}
	return out, nil
}

// Targets returns the samples' targets as float32.
func Targets(samples []dataset.Sample) []float32 {
	y := make([]float32, len(samples))
	for i, s := range samples {
		y[i] = float32(s.Target)
	}
	return y
}

// Fit is one fitted model of a comparison, with its holdout score.
type Fit struct {
	Design    string // Design.Name()
	Candidate string
	Seed      int // index into the comparison's seeds (0 for unseeded models)
	Model     regress.Model
	Holdout   Holdout
}

// Fits are a comparison's fitted models, kept so that a later comparison with more seeds
// reuses them.
type Fits map[string]*Fit

func fitKey(design, cand string, seed int) string { return fmt.Sprintf("%s|%s|%d", design, cand, seed) }

// Get returns the fit of a candidate on a design with the seed index, or nil.
func (f Fits) Get(design, cand string, seed int) *Fit { return f[fitKey(design, cand, seed)] }

// Compare fits every candidate on every design on the seed split (seeded candidates with
// seeds seeds each) and returns the table, in design-major, candidate order. Fits already in
// fits are reused and new ones added to it. Independent fits run concurrently, one per core;
// results do not depend on which finishes first.
func Compare(samples []dataset.Sample, designs []Design, cands []Candidate, seeds int, fits Fits) ([]Cell, error) {
	if seeds < 1 {
		return nil, fmt.Errorf("seeds = %d: want at least 1", seeds)
	}
	split, err := SeedSplit(samples)
	if err != nil {
		return nil, err
	}
	y, groups := Targets(samples), dataset.Groups(samples)
	type job struct {
		d    *Design
		c    Candidate
		seed int
	}
	var jobs []job
	for i := range designs {
		for _, c := range cands {
			n := 1
			if c.Seeded {
				n = seeds
			}
			for s := range n {
				if c.Of == "" && fits.Get(designs[i].Name(), c.Name, s) == nil {
					jobs = append(jobs, job{&designs[i], c, s})
				}
			}
		}
	}
	bar := progress.New("model × embedding", len(jobs))
	defer bar.Done()
	done := make([]*Fit, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				m := j.c.New(j.d.TextDim, Seed(j.seed))
				h, err := FitHoldout(m, j.d.X, y, groups, split)
				if err != nil {
					errs[i] = fmt.Errorf("%s (seed %d) on %s: %w", j.c.Name, Seed(j.seed), j.d.Name(), err)
				} else {
					done[i] = &Fit{Design: j.d.Name(), Candidate: j.c.Name, Seed: j.seed, Model: m, Holdout: h}
				}
				bar.Add(1)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, f := range done {
		fits[fitKey(f.Design, f.Candidate, f.Seed)] = f
	}
	yva := make([]float32, len(split.Valid))
	for i, j := range split.Valid {
		yva[i] = y[j]
	}
	var cells []Cell
	for _, d := range designs {
		for _, c := range cands {
			cell, err := summarize(fits, d, c, seeds, cands, yva)
			if err != nil {
				return nil, err
			}
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

// summarize makes a candidate's cell from its fits on a design.
func summarize(fits Fits, d Design, c Candidate, seeds int, cands []Candidate, yva []float32) (Cell, error) {
	cell := Cell{Model: c.Name, Text: d.Text, Image: d.Image}
	if c.Of != "" {
		preds, err := SeedPredictions(fits, d.Name(), c.Of, seeds)
		if err != nil {
			return cell, err
		}
		cell.Seeds = len(preds)
		cell.MAE, cell.SD, err = EnsembleMAE(yva, preds)
		if err != nil {
			return cell, err
		}
		cell.RMSE, err = metrics.RMSE(yva, Average(preds))
		return cell, err
	}
	n := 1
	if c.Seeded {
		n = seeds
	}
	var maes, rmses []float64
	for s := range n {
		f := fits.Get(d.Name(), c.Name, s)
		if f == nil {
			return cell, fmt.Errorf("%s on %s: no fit with seed %d", c.Name, d.Name(), Seed(s))
		}
		maes, rmses = append(maes, f.Holdout.MAE), append(rmses, f.Holdout.RMSE)
	}
	cell.Seeds = n
	cell.MAE, cell.SD = MeanSD(maes)
	cell.RMSE, _ = MeanSD(rmses)
	if n > 1 {
		cell.PerSeed = maes
	}
	return cell, nil
}

// SeedPredictions returns the holdout predictions of a seeded candidate's fits on a design,
// seed by seed.
func SeedPredictions(fits Fits, design, cand string, seeds int) ([][]float32, error) {
	var preds [][]float32
	for s := range seeds {
		f := fits.Get(design, cand, s)
		if f == nil {
			return nil, fmt.Errorf("%s on %s: no fit with seed %d to average", cand, design, Seed(s))
		}
		preds = append(preds, f.Holdout.Pred)
	}
	return preds, nil
}

// Average returns the element-wise mean of equally long predictions.
func Average(preds [][]float32) []float32 {
	out := make([]float32, len(preds[0]))
	for i := range out {
		var s float64
		for _, p := range preds {
			s += float64(p[i])
		}
		out[i] = float32(s / float64(len(preds)))
	}
	return out
}

// EnsembleMAE returns the MAE of the average of preds and its jackknife standard deviation
// over the members (0 with fewer than two).
func EnsembleMAE(y []float32, preds [][]float32) (mae, sd float64, err error) {
	if mae, err = metrics.MAE(y, Average(preds)); err != nil || len(preds) < 2 {
		return mae, 0, err
	}
	loo := make([]float64, len(preds))
	for i := range preds {
		rest := slices.Delete(slices.Clone(preds), i, i+1)
		if loo[i], err = metrics.MAE(y, Average(rest)); err != nil {
			return 0, 0, err
		}
	}
	return mae, JackknifeSD(loo), nil
}

// JackknifeSD is the jackknife standard deviation of an ensemble's estimate from the
// estimates of the ensembles that leave one member out: √((n−1)/n · Σ(θᵢ − θ̄)²); 0 for
// fewer than two.
func JackknifeSD(loo []float64) float64 {
	if len(loo) < 2 {
		return 0
	}
	n := float64(len(loo))
	m, _ := MeanSD(loo)
	var ss float64
	for _, v := range loo {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt((n - 1) / n * ss)
}

// MeanSD returns the mean and the sample standard deviation (n − 1; 0 for one value).
func MeanSD(v []float64) (mean, sd float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// Best returns the cell with the lowest MAE among those that pass keep (nil: all).
func Best(cells []Cell, keep func(Cell) bool) Cell {
	best := Cell{MAE: math.Inf(1)}
	for _, c := range cells {
		if (keep == nil || keep(c)) && c.MAE < best.MAE {
			best = c
		}
	}
	return best
}
