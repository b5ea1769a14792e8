package features

import (
	"math"
	"testing"
)

func TestNormalizeAndRows(t *testing.T) {
	v, err := Normalize([]float32{3, 4})
	if err != nil || math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Errorf("Normalize(3,4) = %v, %v", v, err)
	}
	if _, err := Normalize([]float32{0, 0}); err == nil {
		t.Error("zero vector normalised")
	}
	text := &Table{Encoder: "t", Dim: 1, Vecs: map[string][]float32{"a dog": {1}}}
	img := &Table{Encoder: "i", Dim: 2, Vecs: map[string][]float32{"x.jpg": {0.6, 0.8}}}
	X, err := Rows([]Pair{{"a dog", "x.jpg"}}, text, img)
	if err != nil || len(X) != 1 || len(X[0]) != 3 || X[0][0] != 1 || X[0][2] != 0.8 {
		t.Errorf("Rows = %v, %v", X, err)
	}
	if _, err := Rows([]Pair{{"a cat", "x.jpg"}}, text, img); err == nil || err.Error() != `t: no vector for text "a cat"` {
		t.Errorf("missing text: %v", err)
	}
	if _, err := Rows([]Pair{{"a dog", "y.jpg"}}, text, img); err == nil || err.Error() != "i: no vector for photo y.jpg" {
		t.Errorf("missing photo: %v", err)
	}
}

func TestPCAFindsTheMainAxis(t *testing.T) {
	// Points spread along (1, 1, 0) with small noise on the other axes.
	var vecs [][]float32
	for i := range 50 {
		x := float32(i - 25)
		vecs = append(vecs, []float32{x + float32(i%3)*0.01, x, float32(i%5) * 0.1})
	}
	p, err := PCA(vecs, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The first coordinate is the position along the line, scaled by √2.
	if d := math.Abs(p[49][0]-p[0][0]) - 49*math.Sqrt2; math.Abs(d) > 0.5 {
		t.Errorf("first component spread %v, want %v", p[49][0]-p[0][0], 49*math.Sqrt2)
	}
	if math.Abs(p[10][1]) > 1 {
		t.Errorf("second component %v should be small", p[10][1])
	}
	if _, err := PCA(vecs[:1], 2); err == nil {
		t.Error("PCA of one vector accepted")
	}
}
