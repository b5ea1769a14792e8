// Package evaluate runs the protocols of ../shared/docs/EVALUATION.md over the regressors:
// the seed's GroupShuffleSplit holdout (MAE, RMSE), out-of-fold predictions from GroupKFold,
// and the Flickr8K-Expert (Kendall τ-c) and Flickr8K-CF (τ-b) correlations computed from
// them. Splits always keep each photo on one side.
package evaluate

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/regress"
)

// Holdout is one model's score on the seed's validation split.
type Holdout struct {
	Model string  `json:"model"`
	MAE   float64 `json:"mae"`
	RMSE  float64 `json:"rmse"`
	// Pred holds the validation predictions, in the order of Split.Valid.
	Pred []float32 `json:"-"`
}

// Split is the seed's GroupShuffleSplit of the samples (project.ValidFraction, project.Seed).
type Split struct{ Train, Valid []int }

// SeedSplit splits samples by photo as the original study did.
func SeedSplit(samples []dataset.Sample) (Split, error) {
	tr, va, err := dataset.GroupShuffleSplit(dataset.Groups(samples), project.ValidFraction, project.Seed)
	return Split{tr, va}, err
}

// Rows returns the rows of X, y and groups at idx.
func Rows(X [][]float32, y []float32, groups []string, idx []int) ([][]float32, []float32, []string) {
	xs, ys, gs := make([][]float32, len(idx)), make([]float32, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		xs[i], ys[i], gs[i] = X[j], y[j], groups[j]
	}
	return xs, ys, gs
}

// FitHoldout fits a fresh model on the split's training rows and scores its validation rows.
func FitHoldout(m regress.Model, X [][]float32, y []float32, groups []string, s Split) (Holdout, error) {
	xtr, ytr, gtr := Rows(X, y, groups, s.Train)
	xva, yva, _ := Rows(X, y, groups, s.Valid)
	if err := m.Fit(xtr, ytr, gtr); err != nil {
		return Holdout{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	pred, err := m.Predict(xva)
	if err != nil {
		return Holdout{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	mae, err := metrics.MAE(yva, pred)
	if err != nil {
		return Holdout{}, err
	}
	rmse, err := metrics.RMSE(yva, pred)
	if err != nil {
		return Holdout{}, err
	}
	return Holdout{Model: m.Name(), MAE: mae, RMSE: rmse, Pred: pred}, nil
}

// OutOfFold returns, for each of seeds seeds, a prediction for every row from a model
// fitted on the other folds (project.Folds-fold GroupKFold by photo, project.Seed), so no
// prediction comes from a model that saw the row's photo. newModel makes a fresh model for
// a seed index (see Seed); the (seed, fold) fits run concurrently, one per core (a model's
// training alone keeps about one core busy), and each writes only its own rows, so the
// result does not depend on which finishes first.
func OutOfFold(newModel func(seed int) regress.Model, X [][]float32, y []float32, groups []string, seeds int) ([][]float32, error) {
	folds, err := dataset.GroupKFold(groups, project.Folds, project.Seed)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, seeds)
	for s := range out {
		out[s] = make([]float32, len(X))
	}
	jobs := seeds * project.Folds
	errs := make([]error, jobs)
	sem := make(chan struct{}, max(1, min(runtime.NumCPU(), jobs)))
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s, f := j/project.Folds, j%project.Folds
			tr, va := dataset.FoldIndices(folds, f)
			m := newModel(s)
			xtr, ytr, gtr := Rows(X, y, groups, tr)
			if err := m.Fit(xtr, ytr, gtr); err != nil {
				errs[j] = fmt.Errorf("%s, seed %d, fold %d: %w", m.Name(), Seed(s), f+1, err)
				return
			}
			xva, _, _ := Rows(X, y, groups, va)
			pred, err := m.Predict(xva)
			if err != nil {
				errs[j] = fmt.Errorf("%s, seed %d, fold %d: %w", m.Name(), Seed(s), f+1, err)
				return
			}
			for i, r := range va {
				out[s][r] = pred[i] // folds write disjoint rows
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Correlation holds the benchmark correlations of a model's out-of-fold predictions.
type Correlation struct {
	// ExpertTauC is Kendall τ-c × 100 on the Flickr8K-Expert protocol: pairs whose caption
	// is one of the photo's own captions dropped, each expert rating its own row with the
	// pair's prediction repeated.
	ExpertTauC float64 `json:"expert_tau_c"`
	ExpertRows int     `json:"expert_rows"`
	// CrowdTauB is Kendall τ-b × 100 against the crowd's yes-share, on the pairs the crowd
	// rated (Flickr8K-CF, restricted to the course's pairs).
	CrowdTauB float64 `json:"crowd_tau_b"`
	CrowdRows int     `json:"crowd_rows"`
}

// Correlate computes the benchmark correlations of predictions aligned with samples.
func Correlate(samples []dataset.Sample, pred []float32) (Correlation, error) {
	if len(pred) != len(samples) {
		return Correlation{}, fmt.Errorf("%d predictions for %d samples", len(pred), len(samples))
	}
	var ratings, rp []float64
	var crowd, cp []float64
	for i, s := range samples {
		if !math.IsNaN(s.Crowd) {
			crowd = append(crowd, s.Crowd)
			cp = append(cp, float64(pred[i]))
		}
		if s.OwnCaption() {
			continue
		}
		for _, r := range s.Experts {
			ratings = append(ratings, float64(r))
			rp = append(rp, float64(pred[i]))
		}
	}
	var c Correlation
	k, err := metrics.KendallTau(ratings, rp)
	if err != nil {
		return c, fmt.Errorf("expert τ: %w", err)
	}
	c.ExpertTauC, c.ExpertRows = 100*k.TauC, len(ratings)
	if len(crowd) >= 2 {
		kc, err := metrics.KendallTau(crowd, cp)
		if err != nil {
			return c, fmt.Errorf("crowd τ: %w", err)
		}
		c.CrowdTauB, c.CrowdRows = 100*kc.TauB, len(crowd)
	}
	return c, nil
}
