package search

import (
	"slices"
	"testing"

	"github.com/withsense/withsense/lib/textenc"
)

// dotModel predicts a row's score as the dot product of its text and image halves: the
// regressor of a two-tower without towers, so the MLP path can be checked against the
// cosine path.
type dotModel struct{}

func (dotModel) Name() string                                     { return "dot" }
func (dotModel) Fit(X [][]float32, y []float32, g []string) error { return nil }
func (dotModel) Predict(X [][]float32) ([]float32, error) {
	out := make([]float32, len(X))
	for i, row := range X {
		h := len(row) / 2
		out[i] = dot32(row[:h], row[h:])
	}
	return out, nil
}

// TestExplain: photos whose vectors are GloVe's "dog" and "water" are explained by those
// words of the query "a dog in the water", through the cosine scorer, the regressor and
// their combinations.
func TestExplain(t *testing.T) {
	enc, err := textenc.Encoders.Open("glove-mean")
	if err != nil {
		t.Skip(err)
	}
	var imgs [][]float32
	for _, w := range []string{"dog", "water", "car"} {
		v, err := embedQuery(enc, w)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, v)
	}
	paths := []string{"dog.jpg", "water.jpg", "car.jpg"}
	cos := &CosineScorer{Label: "glove", Text: enc, Images: imgs}
	reg := &RegressorScorer{Label: "dot", Text: enc, Images: imgs, Model: dotModel{}}
	for _, sc := range []Scorer{cos, reg, &Rerank{First: cos, Second: reg, Depth: 2}, &Blend{A: cos, B: reg}} {
		s := &Searcher{Paths: paths, Scorer: sc}
		ans, err := s.Search("a dog in the water", 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Explain(&ans); err != nil {
			t.Fatal(err)
		}
		why := map[string][]string{}
		for _, r := range ans.Results {
			why[r.Path] = r.Why
		}
		if len(why["dog.jpg"]) == 0 || why["dog.jpg"][0] != "dog" || len(why["water.jpg"]) == 0 || why["water.jpg"][0] != "water" {
			t.Errorf("%s: why %v", sc.Name(), why)
		}
		for p, w := range why {
			if len(w) > MaxWhy || slices.Contains(w, "car") {
				t.Errorf("%s: %s explained by %v", sc.Name(), p, w)
			}
		}
	}
	// A blocked answer and a one-word query.
	s := &Searcher{Paths: paths, Scorer: cos}
	ans, _ := s.Search("dog", 1)
	if s.Explain(&ans); len(ans.Results[0].Why) != 1 || ans.Results[0].Why[0] != "dog" {
		t.Errorf("one-word query: %+v", ans.Results)
	}
	// The scores of ScorePart are those of Score.
	full, _ := reg.Score("a dog in the water")
	part, err := reg.ScorePart([]string{"a dog in the water", "собака"}, []int{2, 0})
	if err != nil || part[0][0] != full[2] || part[0][1] != full[0] || part[1][0] == part[1][0] {
		t.Errorf("ScorePart %v (err %v), Score %v; an unknown query should score NaN", part, err, full)
	}
}
