package textenc

import (
	"math"
	"testing"
)

func mustGloVe(t testing.TB) *GloVe {
	t.Helper()
	g, err := LoadGloVe()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGloVeValues compares vectors with the published glove.6B.100d.txt
// (nlp.stanford.edu/projects/glove, first values of each line).
func TestGloVeValues(t *testing.T) {
	g := mustGloVe(t)
	if g.Dim != 100 || g.Len() != 341479 || g.Word(0) != "the" {
		t.Fatalf("Dim %d, Len %d, first word %q; want 100, 341479, \"the\"", g.Dim, g.Len(), g.Word(0))
	}
	want := map[string][]float32{
		"the": {-0.038194, -0.24487, 0.72812, -0.39961, 0.083172, 0.043953, -0.39141, 0.3344, -0.57545, 0.087459},
		",":   {-0.10767, 0.11053, 0.59812, -0.54361, 0.67396, 0.10663, 0.038867, 0.35481, 0.06351, -0.094189},
	}
	for word, w := range want {
		v, ok := g.Vector(word)
		if !ok {
			t.Errorf("no vector for %q", word)
			continue
		}
		for i := range w {
			if math.Abs(float64(v[i]-w[i])) > 1e-6 {
				t.Errorf("%q[%d] = %v, want %v", word, i, v[i], w[i])
			}
		}
	}
	for _, word := range []string{"a", "dog", "frisbee", "t-shirt", "don't", "dont", "n't", "'s", "собака", "café"} {
		t.Logf("%q in GloVe: %v", word, g.Has(word))
	}
}
