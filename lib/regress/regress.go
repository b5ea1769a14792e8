// Package regress holds the regressors that predict the experts' match score of an
// (image, caption) pair from its features, all behind one scikit-learn-like interface so
// the comparison loop is one loop: constant baselines (mean, median), least squares,
// ridge with α chosen by grouped cross-validation, and MLPs trained with GoMLX (plain
// concatenation and two pair-interaction variants).
//
// Features follow one layout everywhere: a row is the text embedding followed by the
// image embedding, X[i] = [text | image]; models that treat the two parts separately are
// told the text width (MLPSettings.TextDim).
package regress

import (
	"fmt"
	"math"

	"github.com/withsense/withsense/lib/dataset"
)

// Model is a regressor in scikit-learn's estimator shape: Fit on training rows (groups
// name each row's photo, so internal validation never puts one photo on both sides),
// then Predict other rows. Fit may be called again; it starts from scratch.
type Model interface {
	Name() string
	Fit(X [][]float32, y []float32, groups []string) error
	Predict(X [][]float32) ([]float32, error)
}

// checkFit validates training data: rows of one width, finite values, one target and
// one group per row. It returns the width.
func checkFit(name string, X [][]float32, y []float32, groups []string) (int, error) {
	if len(X) == 0 {
		return 0, fmt.Errorf("%s: fit on no rows", name)
	}
	if len(y) != len(X) {
		return 0, fmt.Errorf("%s: %d rows but %d targets", name, len(X), len(y))
	}
	if groups != nil && len(groups) != len(X) {
		return 0, fmt.Errorf("%s: %d rows but %d groups", name, len(X), len(groups))
	}
	for i, v := range y {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%s: target[%d] = %v is not finite", name, i, v)
		}
	}
	return checkRows(name, X, -1)
}

// checkRows validates feature rows: all of width dim (or of the first row's width if dim
// < 0) and finite. It returns the width.
func checkRows(name string, X [][]float32, dim int) (int, error) {
	for i, row := range X {
		if dim < 0 {
			dim = len(row)
			if dim == 0 {
				return 0, fmt.Errorf("%s: row 0 has no features", name)
			}
		}
		if len(row) != dim {
			return 0, fmt.Errorf("%s: row %d has %d features, want %d", name, i, len(row), dim)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("%s: row %d feature %d = %v is not finite", name, i, j, v)
			}
		}
	}
	return dim, nil
}

// groupsOrRows returns groups, or one group per row when groups is nil (rows then count
// as independent).
func groupsOrRows(groups []string, n int) []string {
	if groups != nil {
		return groups
	}
	g := make([]string, n)
	for i := range g {
		g[i] = fmt.Sprint(i)
	}
	return g
}

// GroupKFold and GroupShuffleSplit are the project's grouped splits (lib/dataset), which
// the models here use for their internal validation.
var (
	GroupKFold        = dataset.GroupKFold
	GroupShuffleSplit = dataset.GroupShuffleSplit
)
