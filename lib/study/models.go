package study

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/results"
)

// ModelsReport is everything the models notebook shows.
type ModelsReport struct {
	Provenance results.Provenance `json:"provenance"`
	// Table is every model on every (text, image) encoder pair, seed holdout split.
	Table []evaluate.Cell `json:"table"`
	// Baseline is the best constant model's MAE, Best the best model overall (by MAE).
	Baseline evaluate.Cell `json:"baseline"`
	Best     evaluate.Cell `json:"best"`
	// BestMLP is the best MLP cell; its holdout predictions, learning curve and
	// checkpoint are kept.
	BestMLP     evaluate.Cell      `json:"best_mlp"`
	BestMLPDir  string             `json:"best_mlp_dir"`
	Curve       []regress.Epoch    `json:"curve"`
	CurveBest   int                `json:"curve_best_epoch"`
	Holdout     *HoldoutSnapshot   `json:"holdout,omitempty"`
	Correlation []ModelCorrelation `json:"correlation"`
	// OOF holds the out-of-fold prediction of every model on the best pair of encoders,
	// by model name, aligned with the samples.
	OOF map[string][]float32 `json:"oof"`
	// OOFEmbedding is the encoder pair of the out-of-fold runs.
	OOFEmbedding string `json:"oof_embedding"`
}

// HoldoutSnapshot keeps the best MLP's validation rows for the predicted-vs-true chart.
type HoldoutSnapshot struct {
	Truth []float32 `json:"truth"`
	Pred  []float32 `json:"pred"`
}

// ModelCorrelation is one model's benchmark correlation from out-of-fold predictions.
type ModelCorrelation struct {
	Model string `json:"model"`
	evaluate.Correlation
	MAE float64 `json:"oof_mae"`
	// Undefined says why τ has no value (a constant model).
	Undefined string `json:"undefined,omitempty"`
}

// Models runs the comparison of evaluate.Candidates on every encoder pair of in, then the
// out-of-fold protocol for every candidate on the pair of the best MLP, and saves that
// MLP under models/mlp/. The report is cached (see package doc).
func Models(in *Inputs) (*ModelsReport, error) {
	cands := evaluate.Candidates()
	var settings []any
	for _, c := range cands {
		switch m := c.New(100).(type) {
		case *regress.MLP:
			settings = append(settings, m.Settings)
		case *regress.Ensemble:
			settings = append(settings, c.Name, m.Members[0].(*regress.MLP).Settings)
		default:
			settings = append(settings, c.Name)
		}
	}
	var enc []string
	for _, t := range append(slices.Clone(in.Texts), in.Images...) {
		enc = append(enc, t.Encoder+"@"+t.Weights)
	}
	k, err := key("models", enc, settings, len(in.Samples))
	if err != nil {
		return nil, err
	}
	return cached("models", k, func() (*ModelsReport, error) { return runModels(in, cands) })
}

func runModels(in *Inputs, cands []evaluate.Candidate) (*ModelsReport, error) {
	designs, err := evaluate.Designs(in.Samples, in.Texts, in.Images)
	if err != nil {
		return nil, err
	}
	r := &ModelsReport{}
	var names []string
	for _, t := range in.Texts {
		names = append(names, t.Encoder)
	}
	for _, t := range in.Images {
		names = append(names, t.Encoder)
	}
	r.Provenance = results.Here(names...)
	split, err := evaluate.SeedSplit(in.Samples)
	if err != nil {
		return nil, err
	}
	y := evaluate.Targets(in.Samples)
	bestMLP := math.Inf(1)
	var bestDesign evaluate.Design
	r.Table, err = evaluate.Compare(in.Samples, designs, cands, func(d evaluate.Design, m regress.Model, h evaluate.Holdout) {
		nets := networks(m)
		if nets == nil || h.MAE >= bestMLP {
			return
		}
		bestMLP, bestDesign = h.MAE, d
		r.BestMLP = evaluate.Cell{Model: m.Name(), Text: d.Text, Image: d.Image, MAE: h.MAE, RMSE: h.RMSE}
		r.Curve, r.CurveBest = nets[0].History, nets[0].BestEpoch
		truth := make([]float32, len(split.Valid))
		for i, j := range split.Valid {
			truth[i] = y[j]
		}
		r.Holdout = &HoldoutSnapshot{Truth: truth, Pred: h.Pred}
		for _, n := range nets {
			n.Encoders = []string{d.Text, d.Image}
		}
		if err := m.(interface{ Save(string) error }).Save(""); err == nil {
			r.BestMLPDir = regress.MLPDir(m.Name())
		}
	})
	if err != nil {
		return nil, err
	}
	if math.IsInf(bestMLP, 1) {
		return nil, fmt.Errorf("no MLP among the candidates")
	}
	r.Baseline = evaluate.Best(r.Table, func(c evaluate.Cell) bool { return c.Model == "mean" || c.Model == "median" })
	r.Best = evaluate.Best(r.Table, nil)

	// Out of fold, every candidate on the best MLP's encoder pair.
	r.OOFEmbedding = evaluate.Embedding(bestDesign.Text, bestDesign.Image)
	r.OOF = map[string][]float32{}
	groups := dataset.Groups(in.Samples)
	bar := progress.New("out of fold", len(cands))
	defer bar.Done()
	for _, c := range cands {
		pred, err := evaluate.OutOfFold(func() regress.Model { return c.New(bestDesign.TextDim) }, bestDesign.X, y, groups)
		if err != nil {
			return nil, err
		}
		r.OOF[c.Name] = pred
		mc := ModelCorrelation{Model: c.Name}
		if mc.MAE, err = metrics.MAE(y, pred); err != nil {
			return nil, err
		}
		if c.Constant {
			mc.Undefined = "constant prediction"
		} else if mc.Correlation, err = evaluate.Correlate(in.Samples, pred); err != nil {
			mc.Undefined = err.Error()
		}
		r.Correlation = append(r.Correlation, mc)
		bar.Add(1)
	}
	return r, nil
}

// networks returns the MLPs of a model (itself, or an ensemble's members), nil for others.
func networks(m regress.Model) []*regress.MLP {
	switch m := m.(type) {
	case *regress.MLP:
		return []*regress.MLP{m}
	case *regress.Ensemble:
		var out []*regress.MLP
		for _, x := range m.Members {
			mlp, ok := x.(*regress.MLP)
			if !ok {
				return nil
			}
			out = append(out, mlp)
		}
		return out
	}
	return nil
}

// LoadScorer loads the MLP or MLP ensemble saved in dir, checking its encoders.
func LoadScorer(dir string, encoders ...string) (regress.Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "0")); err == nil {
		return regress.LoadMLPEnsemble(dir, encoders...)
	}
	return regress.LoadMLP(dir, encoders...)
}
