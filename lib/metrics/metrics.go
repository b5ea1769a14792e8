// Package metrics computes every number the project reports: regression errors (MAE,
// RMSE), rank correlations (Kendall τ-b and τ-c, as scipy.stats.kendalltau computes them),
// ROC-AUC and retrieval scores (Recall@k, MRR, median rank). Each function checks its
// input and says which value is at fault instead of returning a silent NaN.
package metrics

import (
	"errors"
	"fmt"
	"math"
)

// Float is the element type the metrics accept: predictions come as float32, targets
// and ratings often as float64.
type Float interface{ ~float32 | ~float64 }

// ErrUndefined is wrapped by errors of statistics that are undefined for the input even
// though the input is well formed, e.g. Kendall's τ when one side is constant (scipy
// returns nan there). The accompanying value is NaN.
var ErrUndefined = errors.New("statistic undefined")

// checkPair validates two parallel slices: same length, at least min values, no NaN or Inf.
func checkPair[T, U Float](what string, x []T, y []U, minLen int) error {
	if len(x) != len(y) {
		return fmt.Errorf("%s: %d truth values but %d predictions", what, len(x), len(y))
	}
	if len(x) < minLen {
		return fmt.Errorf("%s: %d values, need at least %d", what, len(x), minLen)
	}
	if err := checkFinite(what, "first", x); err != nil {
		return err
	}
	return checkFinite(what, "second", y)
}

func checkFinite[T Float](what, side string, v []T) error {
	for i, a := range v {
		f := float64(a)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s: %s argument[%d] = %v is not finite", what, side, i, f)
		}
	}
	return nil
}

// MAE is the mean absolute error between truth and pred, the project's primary metric.
func MAE[T, U Float](truth []T, pred []U) (float64, error) {
	if err := checkPair("MAE", truth, pred, 1); err != nil {
		return math.NaN(), err
	}
	var s float64
	for i := range truth {
		s += math.Abs(float64(truth[i]) - float64(pred[i]))
	}
	return s / float64(len(truth)), nil
}

// RMSE is the root of the mean squared error between truth and pred.
func RMSE[T, U Float](truth []T, pred []U) (float64, error) {
	if err := checkPair("RMSE", truth, pred, 1); err != nil {
		return math.NaN(), err
	}
	var s float64
	for i := range truth {
		d := float64(truth[i]) - float64(pred[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(truth))), nil
}
