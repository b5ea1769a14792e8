package evaluate

import (
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/regress"
)

// synthetic makes samples of 40 photos × 4 captions whose target is a known function of
// one feature, so a linear model must beat the constant baseline out of fold.
func synthetic() ([]dataset.Sample, [][]float32, []float32, []string) {
	var s []dataset.Sample
	var X [][]float32
	var y []float32
	for p := range 40 {
		for c := range 4 {
			img := string(rune('a'+p%26)) + string(rune('a'+p/26)) + ".jpg"
			v := float64((p*7+c*3)%4) / 3 // one of 0, 1/3, 2/3, 1: the target is exactly v
			score := 1 + int(math.Round(3*v))
			s = append(s, dataset.Sample{Image: img, QueryID: "x.jpg#2", Experts: [3]int{score, score, score}, Crowd: math.NaN(),
				Target: dataset.Target([3]int{score, score, score})})
			X = append(X, []float32{float32(v), float32(c)})
			y = append(y, float32(s[len(s)-1].Target))
		}
	}
	return s, X, y, dataset.Groups(s)
}

func TestHoldoutAndOutOfFold(t *testing.T) {
	s, X, y, g := synthetic()
	split, err := SeedSplit(s)
	if err != nil {
		t.Fatal(err)
	}
	lin, err := FitHoldout(&regress.Linear{}, X, y, g, split)
	if err != nil {
		t.Fatal(err)
	}
	mean, _ := FitHoldout(&regress.Mean{}, X, y, g, split)
	if lin.MAE > 0.05 || mean.MAE < 0.15 {
		t.Errorf("holdout MAE: linear %.3f (want < 0.05), mean %.3f (want > 0.15)", lin.MAE, mean.MAE)
	}
	oofs, err := OutOfFold(func(int) regress.Model { return &regress.Linear{} }, X, y, g, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(oofs) != 2 || !slices.Equal(oofs[0], oofs[1]) {
		t.Fatalf("two runs of a seedless model differ")
	}
	oof := oofs[0]
	c, err := Correlate(s, oof)
	if err != nil {
		t.Fatal(err)
	}
	if c.ExpertRows != 3*len(s) || c.ExpertTauC < 80 {
		t.Errorf("correlation %+v: want 480 rows, τ-c > 80 for a near-perfect model", c)
	}
	// A constant prediction has no rank correlation: τ is undefined and reported as such.
	if _, err := Correlate(s, make([]float32, len(s))); err == nil {
		t.Error("constant predictions gave a τ")
	}
}

// noisy predicts the first feature plus noise drawn from its seed: a seeded model whose
// spread over seeds is known.
type noisy struct {
	seed uint64
	fits *atomic.Int32
}

func (n *noisy) Name() string { return "noisy" }
func (n *noisy) Fit(X [][]float32, y []float32, g []string) error {
	n.fits.Add(1)
	return nil
}
func (n *noisy) Predict(X [][]float32) ([]float32, error) {
	out := make([]float32, len(X))
	for i, x := range X {
		out[i] = x[0] + 0.1*float32(math.Sin(float64(n.seed)*7+float64(i)))
	}
	return out, nil
}

// TestCompareSeeds: seeded candidates are fitted with every seed (reusing earlier fits), their
// cell is the mean ± sd over seeds, and the ensemble averages those fits without training.
func TestCompareSeeds(t *testing.T) {
	s, X, _, _ := synthetic()
	var fitsDone atomic.Int32
	cands := []Candidate{
		{Name: "mean", New: func(int, uint64) regress.Model { return &regress.Mean{} }, Constant: true},
		{Name: "noisy", Seeded: true, New: func(_ int, seed uint64) regress.Model { return &noisy{seed: seed, fits: &fitsDone} }},
		{Name: "noisy-ensemble", Of: "noisy"},
	}
	d := []Design{{Text: "t", Image: "i", X: X}}
	fits := Fits{}
	one, err := Compare(s, d, cands[:2], 1, fits)
	if err != nil {
		t.Fatal(err)
	}
	if fitsDone.Load() != 1 || one[1].Seeds != 1 || one[1].SD != 0 {
		t.Fatalf("one seed: %d fits, cell %+v", fitsDone.Load(), one[1])
	}
	cells, err := Compare(s, d, cands, 5, fits)
	if err != nil {
		t.Fatal(err)
	}
	if got := fitsDone.Load(); got != 5 {
		t.Errorf("5 seeds after 1: %d fits of the noisy model, want 5 (seed 0 reused)", got)
	}
	single, ens := cells[1], cells[2]
	m, sd := MeanSD(single.PerSeed)
	if single.Seeds != 5 || len(single.PerSeed) != 5 || single.MAE != m || single.SD != sd || sd == 0 {
		t.Errorf("seeded cell %+v", single)
	}
	if ens.Seeds != 5 || !(ens.MAE < single.MAE) || !(ens.SD > 0) {
		t.Errorf("ensemble cell %+v: want 5 seeds, a lower MAE than one seed's mean (%v) and a spread", ens, single.MAE)
	}
	if _, err := Compare(s, d, cands, 0, Fits{}); err == nil {
		t.Error("zero seeds: no error")
	}
}

func TestMeanSD(t *testing.T) {
	m, sd := MeanSD([]float64{1, 2, 3, 4})
	if m != 2.5 || math.Abs(sd-math.Sqrt(5.0/3)) > 1e-12 {
		t.Errorf("mean %v sd %v", m, sd)
	}
	if m, sd := MeanSD([]float64{7}); m != 7 || sd != 0 {
		t.Errorf("one value: %v ± %v", m, sd)
	}
}
