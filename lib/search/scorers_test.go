package search

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestHubnessOffsets: the offset is (1/β)·log Σ exp(β·cos) over the bank, stable for a
// large β; a photo close to every caption (a hub) loses a query it wins on the plain
// cosine to the photo that fits only that query; bad input is an error.
func TestHubnessOffsets(t *testing.T) {
	unit := func(x, y float64) []float32 {
		n := math.Hypot(x, y)
		return []float32{float32(x / n), float32(y / n)}
	}
	hub, niche := unit(1, 0), unit(0.6, 0.8) // the hub sits between the captions
	bank := [][]float32{unit(1, 0.3), unit(1, -0.3), unit(1, 0.1), unit(0.5, 0.87)}
	for _, beta := range []float64{1, 20, 500} {
		off, err := HubnessOffsets([][]float32{hub, niche}, bank, beta)
		if err != nil {
			t.Fatal(err)
		}
		for i, im := range [][]float32{hub, niche} {
			var z float64
			for _, b := range bank {
				z += math.Exp(beta * float64(dot32(b, im)-1)) // shifted: no overflow at β 500
			}
			if want := 1 + math.Log(z)/beta; math.Abs(float64(off[i])-want) > 1e-5 {
				t.Errorf("β %g, photo %d: offset %v, want %v", beta, i, off[i], want)
			}
		}
	}
	off, err := HubnessOffsets([][]float32{hub, niche}, bank, 10)
	if err != nil {
		t.Fatal(err)
	}
	query := unit(0.9135, 0.4067) // 24°: 0.91 from the hub, 0.87 from the niche
	plainHub, plainNiche := dot32(query, hub), dot32(query, niche)
	if !(plainHub > plainNiche) {
		t.Fatalf("the example needs the hub first on the plain cosine: %v, %v", plainHub, plainNiche)
	}
	if !(plainNiche-off[1] > plainHub-off[0]) {
		t.Errorf("corrected: hub %v, niche %v: the hub still comes first", plainHub-off[0], plainNiche-off[1])
	}
	for _, c := range []struct {
		images, bank [][]float32
		beta         float64
		want         string
	}{
		{[][]float32{hub}, bank, 0, "β > 0"},
		{[][]float32{hub}, bank, math.Inf(1), "β > 0"},
		{[][]float32{hub}, nil, 10, "empty caption bank"},
		{[][]float32{{1, 0, 0}}, bank, 10, "photo 0 has 3 dims"},
		{[][]float32{hub}, [][]float32{{1, 0}, {1}}, 10, "row 1 has 1 dims"},
	} {
		if _, err := HubnessOffsets(c.images, c.bank, c.beta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("β %v, bank %v: error %v, want %q", c.beta, c.bank, err, c.want)
		}
	}
}

// TestOffsets finds the two-tower's offsets inside the variants that wrap it.
func TestOffsets(t *testing.T) {
	tt := &CosineScorer{Offsets: []float32{0.5, 0.1}}
	plain := &CosineScorer{}
	for name, c := range map[string]struct {
		s    Scorer
		want []float32
	}{
		"two-tower":       {tt, tt.Offsets},
		"plain":           {plain, nil},
		"blend":           {&Blend{A: tt, B: plain}, tt.Offsets},
		"rerank":          {&Rerank{First: tt, Second: &RegressorScorer{}}, tt.Offsets},
		"mlp":             {&RegressorScorer{}, nil},
		"blend of plains": {&Blend{A: plain, B: plain}, nil},
	} {
		if got := Offsets(c.s); !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%s: offsets %v, want %v", name, got, c.want)
		}
	}
}
