package evaluate

import (
	"math"
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
	oof, err := OutOfFold(func() regress.Model { return &regress.Linear{} }, X, y, g)
	if err != nil {
		t.Fatal(err)
	}
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
