package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/withsense/withsense/lib/metrics"
)

// linearData draws n rows of p features in groups of 5 rows, y = x·w + 0.3 + noise.
func linearData(n, p int, noise float64, seed uint64) (X [][]float32, y []float32, groups []string, w []float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	w = make([]float64, p)
	for j := range w {
		w[j] = r.NormFloat64()
	}
	for i := 0; i < n; i++ {
		row := make([]float32, p)
		var s float64
		for j := range row {
			row[j] = float32(r.NormFloat64())
			s += w[j] * float64(row[j])
		}
		X = append(X, row)
		y = append(y, float32(s+0.3+noise*r.NormFloat64()))
		groups = append(groups, fmt.Sprintf("img%d", i/5))
	}
	return X, y, groups, w
}

func TestLinearRecoversWeights(t *testing.T) {
	X, y, groups, w := linearData(400, 20, 0, 1)
	m := &Linear{}
	if err := m.Fit(X, y, groups); err != nil {
		t.Fatal(err)
	}
	for j := range w {
		if math.Abs(m.W[j]-w[j]) > 1e-4 {
			t.Fatalf("w[%d] = %v, want %v", j, m.W[j], w[j])
		}
	}
	if math.Abs(m.Intercept-0.3) > 1e-4 || m.Jitter != 0 {
		t.Errorf("intercept %v jitter %v, want 0.3 and 0", m.Intercept, m.Jitter)
	}
	pred, err := m.Predict(X[:3])
	if err != nil || math.Abs(float64(pred[0]-y[0])) > 1e-3 {
		t.Errorf("predict %v %v, want %v", pred, err, y[:3])
	}
}

func TestLinearMoreFeaturesThanRows(t *testing.T) {
	X, y, groups, _ := linearData(30, 50, 0.1, 2)
	m := &Linear{}
	if err := m.Fit(X, y, groups); err != nil {
		t.Fatal(err)
	}
	if m.Jitter == 0 {
		t.Error("singular X'X solved without jitter")
	}
	pred, _ := m.Predict(X)
	if mae, _ := metrics.MAE(y, pred); mae > 0.05 {
		t.Errorf("training MAE %v of an interpolating fit", mae)
	}
}

func TestRidgeChoosesAlpha(t *testing.T) {
	// Little noise: the smallest penalty should win and the fit be near exact.
	X, y, groups, _ := linearData(500, 30, 0.01, 3)
	m := NewRidge()
	m.Alphas = []float64{0.001, 1, 100, 10000}
	if err := m.Fit(X, y, groups); err != nil {
		t.Fatal(err)
	}
	if m.Alpha != 0.001 {
		t.Errorf("α = %v (CV MAE %v), want 0.001", m.Alpha, m.CVMAE)
	}
	Xt, yt, _, _ := linearData(200, 30, 0.01, 3)
	pred, _ := m.Predict(Xt)
	if mae, _ := metrics.MAE(yt, pred); mae > 0.05 {
		t.Errorf("test MAE %v", mae)
	}
	// Pure noise target: a large penalty should win.
	r := rand.New(rand.NewPCG(9, 9))
	for i := range y {
		y[i] = float32(r.NormFloat64())
	}
	if err := m.Fit(X, y, groups); err != nil {
		t.Fatal(err)
	}
	if m.Alpha < 100 {
		t.Errorf("noise target: α = %v (CV MAE %v), want ≥ 100", m.Alpha, m.CVMAE)
	}
}

func TestFitErrors(t *testing.T) {
	for _, m := range []Model{&Mean{}, &Median{}, &Linear{}, NewRidge()} {
		if err := m.Fit([][]float32{{1, 2}, {3}}, []float32{1, 2}, nil); err == nil {
			t.Errorf("%s: ragged rows accepted", m.Name())
		}
		if err := m.Fit([][]float32{{1}, {3}}, []float32{1}, nil); err == nil {
			t.Errorf("%s: missing target accepted", m.Name())
		}
		if err := m.Fit([][]float32{{1}, {float32(math.NaN())}}, []float32{1, 2}, nil); err == nil {
			t.Errorf("%s: NaN feature accepted", m.Name())
		}
	}
	if _, err := (&Linear{}).Predict([][]float32{{1}}); err == nil {
		t.Error("predict before fit accepted")
	}
}

func TestConstants(t *testing.T) {
	X := [][]float32{{0}, {0}, {0}, {0}}
	y := []float32{0, 0.1, 0.2, 1}
	mean, median := &Mean{}, &Median{}
	if err := mean.Fit(X, y, nil); err != nil {
		t.Fatal(err)
	}
	if err := median.Fit(X, y, nil); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(mean.Value)-0.325) > 1e-6 || math.Abs(float64(median.Value)-0.15) > 1e-6 {
		t.Errorf("mean %v median %v, want 0.325 0.15", mean.Value, median.Value)
	}
	p, _ := median.Predict(X[:2])
	if len(p) != 2 || p[1] != median.Value {
		t.Errorf("predict %v", p)
	}
}

// BenchmarkRidgeFit times a ridge fit with its 5-fold α search at the size of the course
// data's seed split: 4,075 training pairs × 2,148 features (GloVe 100 + InceptionV3 2048).
func BenchmarkRidgeFit(b *testing.B) {
	X, y, groups, _ := linearData(4075, 2148, 0.5, 4)
	for b.Loop() {
		if err := NewRidge().Fit(X, y, groups); err != nil {
			b.Fatal(err)
		}
	}
}
