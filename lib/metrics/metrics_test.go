package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMAERMSE(t *testing.T) {
	truth := []float64{0, 0.5, 1, 0.25}
	pred := []float32{0.25, 0.5, 0.5, 0.25}
	// |errors| = 0.25, 0, 0.5, 0 → MAE = 0.75/4; squares 0.0625 + 0.25 → RMSE = sqrt(0.3125/4)
	mae, err := MAE(truth, pred)
	if err != nil || !near(mae, 0.1875, 1e-12) {
		t.Errorf("MAE = %v, %v; want 0.1875", mae, err)
	}
	rmse, err := RMSE(truth, pred)
	if err != nil || !near(rmse, math.Sqrt(0.078125), 1e-12) {
		t.Errorf("RMSE = %v, %v; want %v", rmse, err, math.Sqrt(0.078125))
	}
	if _, err := MAE([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("MAE accepted slices of different lengths")
	}
	if _, err := RMSE([]float64{}, []float64{}); err == nil {
		t.Error("RMSE accepted empty slices")
	}
	if _, err := MAE([]float64{1, math.NaN()}, []float64{1, 2}); err == nil {
		t.Error("MAE accepted NaN")
	}
}

// kendallNaive is the O(n²) definition: τ-b = (P−Q)/sqrt((n0−n1)(n0−n2)),
// τ-c = 2(P−Q)/(n²(m−1)/m), counting every pair.
func kendallNaive(x, y []float64) (tauB, tauC float64) {
	n := len(x)
	var s, tx, ty int64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx, dy := x[i]-x[j], y[i]-y[j]
			switch {
			case dx == 0 && dy == 0:
				tx++
				ty++
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				s++
			default:
				s--
			}
		}
	}
	n0 := int64(n) * int64(n-1) / 2
	distinct := func(v []float64) int {
		m := map[float64]bool{}
		for _, a := range v {
			m[a] = true
		}
		return len(m)
	}
	m := float64(min(distinct(x), distinct(y)))
	return float64(s) / math.Sqrt(float64(n0-tx)*float64(n0-ty)),
		2 * float64(s) / (float64(n*n) * (m - 1) / m)
}

// Reference values printed by scipy 1.10.1 (Debian python3-scipy):
// scipy.stats.kendalltau(x, y, variant='b').statistic and (variant='c').statistic.
var kendallCases = []struct {
	name       string
	x, y       []float64
	tauB, tauC float64
}{
	// perm5 by hand: of the 10 pairs, 3 are discordant ((1,2), (1,3), (4,5) by position)
	// and 7 concordant: S = 4. No ties: τ-b = 4/10 = 0.4; m = 5: τ-c = 2·4/(25·4/5) = 0.4.
	{"perm5", []float64{1, 2, 3, 4, 5}, []float64{3, 1, 2, 5, 4}, 0.39999999999999997, 0.4},
	// ties5 by hand: concordant (0,3) (0,4) (1,3) (1,4) (2,4), discordant (1,2), S = 4;
	// pairs tied in x: (0,1) (2,3) → 2; tied in y: (0,2) (3,4) → 2; n0 = 10.
	// τ-b = 4/sqrt(8·8) = 0.5; m = min(3, 3) = 3: τ-c = 8/(25·2/3) = 0.48.
	{"ties5", []float64{1, 1, 2, 2, 3}, []float64{1, 2, 1, 3, 3}, 0.49999999999999994, 0.48},
	{"reverse4", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1, -1},
	{"rect", []float64{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4},
		[]float64{0.1, 0.5, 0.2, 0.4, 0.3, 0.9, 0.8, 0.6, 0.7, 0.95, 0.3, 0.99},
		0.5232486729932277, 0.5740740740740741},
	{"binaryx", []float64{0, 0, 0, 1, 1, 1, 1}, []float64{0.2, 0.5, 0.1, 0.4, 0.9, 0.5, 0.3},
		0.45184805705753195, 0.5714285714285714},
	{"gen1000", gen1000X(), gen1000Y(), 0.00044654601828502657, 0.000455},
	{"expert900", expert900X(), expert900Y(), 0.06918189708634855, 0.07933168724279835},
}

// gen1000: x = [(i*7919) % 13 for i in range(1000)],
// y = [(i*104729 + x[i]*3) % 11 + (i%7)*0.5 for i in range(1000)].
func gen1000X() []float64 {
	x := make([]float64, 1000)
	for i := range x {
		x[i] = float64((i * 7919) % 13)
	}
	return x
}

func gen1000Y() []float64 {
	x := gen1000X()
	y := make([]float64, 1000)
	for i := range y {
		y[i] = float64((i*104729+int(x[i])*3)%11) + float64(i%7)*0.5
	}
	return y
}

// expert900: the Flickr8K-Expert layout, 3 grades in 1..4 per pair and the pair's prediction
// repeated: pred[i] = ((i*37) % 101)/100, grade = 1 + (i*(r+3) + (i*37)%101//20) % 4, r = 0, 1, 2.
func expert900X() []float64 {
	var x []float64
	for i := 0; i < 300; i++ {
		for r := 0; r < 3; r++ {
			x = append(x, float64(1+(i*(r+3)+((i*37)%101)/20)%4))
		}
	}
	return x
}

func expert900Y() []float64 {
	var y []float64
	for i := 0; i < 300; i++ {
		for r := 0; r < 3; r++ {
			y = append(y, float64((i*37)%101)/100)
		}
	}
	return y
}

func TestKendallScipy(t *testing.T) {
	for _, c := range kendallCases {
		k, err := KendallTau(c.x, c.y)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !near(k.TauB, c.tauB, 1e-12) || !near(k.TauC, c.tauC, 1e-12) {
			t.Errorf("%s: τ-b %.17g τ-c %.17g; scipy says %.17g, %.17g", c.name, k.TauB, k.TauC, c.tauB, c.tauC)
		}
		nb, nc := kendallNaive(c.x, c.y)
		if !near(k.TauB, nb, 1e-12) || !near(k.TauC, nc, 1e-12) {
			t.Errorf("%s: τ-b %v τ-c %v; O(n²) reference %v %v", c.name, k.TauB, k.TauC, nb, nc)
		}
	}
}

func TestKendallRandomAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 2 + r.IntN(300)
		x, y := make([]float64, n), make([]float32, n)
		levels := 1 + r.IntN(6)
		for i := range x {
			x[i] = float64(1 + r.IntN(levels+1))
			y[i] = float32(r.IntN(1+r.IntN(50))) / 7
		}
		yf := make([]float64, n)
		for i := range y {
			yf[i] = float64(y[i])
		}
		k, err := KendallTau(x, y)
		if err != nil {
			if !errors.Is(err, ErrUndefined) {
				t.Fatal(err)
			}
			continue
		}
		nb, nc := kendallNaive(x, yf)
		if !near(k.TauB, nb, 1e-12) || !near(k.TauC, min(1, max(-1, nc)), 1e-12) {
			t.Fatalf("trial %d n=%d: τ-b %v τ-c %v; O(n²) %v %v", trial, n, k.TauB, k.TauC, nb, nc)
		}
	}
}

func TestKendallErrors(t *testing.T) {
	if _, err := KendallTau([]float64{1, 2, 3}, []float64{5, 5, 5}); !errors.Is(err, ErrUndefined) {
		t.Errorf("constant y: err = %v, want ErrUndefined", err)
	}
	if _, err := KendallTau([]float64{1}, []float64{1}); err == nil {
		t.Error("one pair accepted")
	}
	if _, err := KendallTau([]float64{1, 2}, []float64{1, math.Inf(1)}); err == nil {
		t.Error("Inf accepted")
	}
}

func TestROCAUC(t *testing.T) {
	// By hand: positives 0.4, 0.9, 0.5, 0.3 against negatives 0.2, 0.5, 0.1 win
	// 2 + 3 + 2.5 (a tie with 0.5) + 2 = 9.5 of 12 pairs. scipy.stats.mannwhitneyu(pos, neg)
	// .statistic/12 = 0.7916666666666666.
	labels := []bool{false, false, false, true, true, true, true}
	scores := []float64{0.2, 0.5, 0.1, 0.4, 0.9, 0.5, 0.3}
	auc, err := ROCAUC(labels, scores)
	if err != nil || !near(auc, 9.5/12, 1e-15) {
		t.Errorf("AUC = %v, %v; want %v", auc, err, 9.5/12)
	}
	// gen: label = (i*7919)%13 ≥ 6, score = (i*104729)%11 + (i%7)*0.5; scipy: 0.5002534640081109.
	labels, scores = nil, nil
	for i := 0; i < 1000; i++ {
		labels = append(labels, (i*7919)%13 >= 6)
		scores = append(scores, float64((i*104729)%11)+float64(i%7)*0.5)
	}
	auc, err = ROCAUC(labels, scores)
	if err != nil || !near(auc, 0.5002534640081109, 1e-12) {
		t.Errorf("AUC = %v, %v; scipy says 0.5002534640081109", auc, err)
	}
	if _, err := ROCAUC([]bool{true, true}, []float64{1, 2}); !errors.Is(err, ErrUndefined) {
		t.Errorf("one class: err = %v", err)
	}
}

func TestRetrieval(t *testing.T) {
	r, err := Rank([]float64{0.1, 0.9, 0.5, 0.9}, 2)
	if err != nil || r != 3 {
		t.Errorf("rank = %d, %v; want 3", r, err)
	}
	// Ties are pessimistic: a constant scorer puts the relevant item last.
	if r, _ := Rank([]float32{1, 1, 1, 1}, 0); r != 4 {
		t.Errorf("constant scores: rank %d, want 4", r)
	}
	if _, err := Rank([]float64{1}, 1); err == nil {
		t.Error("out-of-range relevant accepted")
	}
	ranks := []int{1, 3, 2, 10, 1, 50}
	s, err := Summarize(ranks)
	if err != nil {
		t.Fatal(err)
	}
	// R@1 = 2/6, R@5 = 4/6, R@10 = 5/6; MRR = (1 + 1/3 + 1/2 + 1/10 + 1 + 1/50)/6;
	// sorted 1 1 2 3 10 50 → median (2+3)/2.
	want := Retrieval{Queries: 6, R1: 2.0 / 6, R5: 4.0 / 6, R10: 5.0 / 6,
		MRR: (1 + 1.0/3 + 0.5 + 0.1 + 1 + 0.02) / 6, MedianRank: 2.5}
	if s.Queries != want.Queries || !near(s.R1, want.R1, 1e-15) || !near(s.R5, want.R5, 1e-15) ||
		!near(s.R10, want.R10, 1e-15) || !near(s.MRR, want.MRR, 1e-15) || s.MedianRank != want.MedianRank {
		t.Errorf("summary %+v, want %+v", s, want)
	}
	if m, _ := MedianRank([]int{5, 1, 3}); m != 3 {
		t.Errorf("median of 5 1 3 = %v", m)
	}
	if _, err := MRR([]int{1, 0}); err == nil {
		t.Error("rank 0 accepted")
	}
	if _, err := RecallAt([]int{1}, 0); err == nil {
		t.Error("k = 0 accepted")
	}
}

// BenchmarkKendall17k times τ on the Flickr8K-Expert size: 16,992 rows of 4 grades
// against continuous predictions.
func BenchmarkKendall17k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, 16992), make([]float32, 16992)
	for i := range x {
		x[i] = float64(1 + r.IntN(4))
		y[i] = float32(r.Float64())
	}
	for b.Loop() {
		if _, err := KendallTau(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
