package evaluate

import (
	"fmt"
	"math"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/regress"
)

// Candidate is a model of the comparison: a name for the tables and a constructor that
// gets the width of the text part of a row (pair-interaction models need it).
type Candidate struct {
	Name string
	New  func(textDim int) regress.Model
	// Constant models have no rank correlation (τ is undefined for a constant).
	Constant bool
}

// Candidates is the study's list of models, in table order: the constant baselines, the
// linear models, the seed's MLP (plain concatenation, MSE) and the variants that serve the
// metric better (a loss that matches MAE, pair-interaction features, and an average of
// five such networks trained with different seeds, which removes much of the seed noise).
func Candidates() []Candidate {
	mlp := func(name string, arch regress.Arch, loss regress.Loss) Candidate {
		return Candidate{Name: name, New: func(textDim int) regress.Model {
			s := regress.DefaultMLPSettings(arch, textDim)
			s.Loss = loss
			return regress.NewMLP(name, s)
		}}
	}
	return []Candidate{
		{Name: "mean", New: func(int) regress.Model { return &regress.Mean{} }, Constant: true},
		{Name: "median", New: func(int) regress.Model { return &regress.Median{} }, Constant: true},
		{Name: "linear", New: func(int) regress.Model { return &regress.Linear{} }},
		{Name: "ridge", New: func(int) regress.Model { return regress.NewRidge() }},
		mlp("mlp-seed", regress.ArchConcat, regress.LossMSE),
		mlp("mlp-mae", regress.ArchConcat, regress.LossMAE),
		mlp("mlp-product", regress.ArchProduct, regress.LossHuber),
		{Name: "mlp-product-ens5", New: func(textDim int) regress.Model {
			s := regress.DefaultMLPSettings(regress.ArchProduct, textDim)
			s.Loss = regress.LossHuber
			return regress.NewMLPEnsemble("mlp-product-ens5", s, 5)
		}},
	}
}

// Cell is one model on one pair of encoders on the seed's validation split.
type Cell struct {
	Model string  `json:"model"`
	Text  string  `json:"text"`
	Image string  `json:"image"`
	MAE   float64 `json:"mae"`
	RMSE  float64 `json:"rmse"`
}

// Embedding names a (text, image) encoder pair, as the tables write it.
func Embedding(text, image string) string { return text + " + " + image }

// Design holds the rows of one encoder pair for every sample.
type Design struct {
	Text, Image string
	TextDim     int
	X           [][]float32
}

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

// Compare fits every candidate on every design on the seed split and returns the table,
// in design-major order. fitted, if not nil, receives each fitted model with its holdout.
func Compare(samples []dataset.Sample, designs []Design, cands []Candidate, fitted func(Design, regress.Model, Holdout)) ([]Cell, error) {
	split, err := SeedSplit(samples)
	if err != nil {
		return nil, err
	}
	y, groups := Targets(samples), dataset.Groups(samples)
	bar := progress.New("model × embedding", len(designs)*len(cands))
	defer bar.Done()
	var cells []Cell
	for _, d := range designs {
		for _, c := range cands {
			m := c.New(d.TextDim)
			h, err := FitHoldout(m, d.X, y, groups, split)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", c.Name, Embedding(d.Text, d.Image), err)
			}
			cells = append(cells, Cell{Model: c.Name, Text: d.Text, Image: d.Image, MAE: h.MAE, RMSE: h.RMSE})
			if fitted != nil {
				fitted(d, m, h)
			}
			bar.Add(1)
		}
	}
	return cells, nil
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
