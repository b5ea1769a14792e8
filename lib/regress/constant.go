package regress

import (
	"fmt"
	"slices"
)

// Mean predicts the mean training target for every row: the baseline any model must beat
// on RMSE.
type Mean struct{ Value float32 }

// Median predicts the median training target for every row: the baseline any model must
// beat on MAE (the median minimises the mean absolute error of a constant).
type Median struct{ Value float32 }

func (*Mean) Name() string   { return "mean" }
func (*Median) Name() string { return "median" }

// Fit computes the mean of y; X and groups are only checked.
func (m *Mean) Fit(X [][]float32, y []float32, groups []string) error {
	if _, err := checkFit(m.Name(), X, y, groups); err != nil {
		return err
	}
	var s float64
	for _, v := range y {
		s += float64(v)
	}
	m.Value = float32(s / float64(len(y)))
	return nil
}

// Fit computes the median of y (the mean of the two middle values for an even count).
func (m *Median) Fit(X [][]float32, y []float32, groups []string) error {
	if _, err := checkFit(m.Name(), X, y, groups); err != nil {
		return err
	}
	s := slices.Clone(y)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		m.Value = s[n/2]
	} else {
		m.Value = (s[n/2-1] + s[n/2]) / 2
	}
	return nil
}

func (m *Mean) Predict(X [][]float32) ([]float32, error)   { return constant(X, m.Value), nil }
func (m *Median) Predict(X [][]float32) ([]float32, error) { return constant(X, m.Value), nil }

func constant(X [][]float32, v float32) []float32 {
	out := make([]float32, len(X))
	for i := range out {
		out[i] = v
	}
	return out
}

func (m *Mean) String() string   { return fmt.Sprintf("mean(%.4f)", m.Value) }
func (m *Median) String() string { return fmt.Sprintf("median(%.4f)", m.Value) }
