package features

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PCA projects vectors onto their first k principal components (centred), found by power
// iteration with deflation; it is meant for 2-D maps of a collection, not for large k.
// The sign of each component is fixed so that its largest coordinate is positive, making
// the map reproducible.
func PCA(vecs [][]float32, k int) ([][]float64, error) {
	n := len(vecs)
	if n < 2 || k < 1 {
		return nil, fmt.Errorf("PCA of %d vectors into %d components", n, k)
	}
	d := len(vecs[0])
	mean := make([]float64, d)
	for _, v := range vecs {
		if len(v) != d {
			return nil, fmt.Errorf("PCA: vectors of %d and %d dims", d, len(v))
		}
		for j, x := range v {
			mean[j] += float64(x) / float64(n)
		}
	}
	X := make([][]float64, n)
	for i, v := range vecs {
		X[i] = make([]float64, d)
		for j, x := range v {
			X[i][j] = float64(x) - mean[j]
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, k)
	}
	for c := range k {
		w := make([]float64, d)
		for j := range w {
			w[j] = r.NormFloat64()
		}
		for range 200 {
			next := make([]float64, d)
			for _, x := range X {
				p := dot(x, w)
				for j := range next {
					next[j] += p * x[j]
				}
			}
			norm := math.Sqrt(dot(next, next))
			if norm == 0 {
				break
			}
			for j := range next {
				next[j] /= norm
			}
			w = next
		}
		big := 0
		for j := range w {
			if math.Abs(w[j]) > math.Abs(w[big]) {
				big = j
			}
		}
		if w[big] < 0 {
			for j := range w {
				w[j] = -w[j]
			}
		}
		for i, x := range X {
			p := dot(x, w)
			out[i][c] = p
			for j := range x {
				x[j] -= p * w[j] // deflate
			}
		}
	}
	return out, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
