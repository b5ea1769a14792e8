package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Kendall holds Kendall's rank correlation between two paired samples, both variants
// computed from the same pair counts.
type Kendall struct {
	N int // number of pairs of values
	// ConMinusDis is the number of concordant minus discordant pairs (S, or P − Q).
	ConMinusDis int64
	// TiesX, TiesY and TiesXY count pairs tied in x, in y and in both.
	TiesX, TiesY, TiesXY int64
	// DistinctX and DistinctY count distinct values on each side.
	DistinctX, DistinctY int
	// TauB = S / sqrt((n0 − TiesX)(n0 − TiesY)), n0 = N(N−1)/2: the variant for two
	// continuous or similarly tied variables (used for Flickr8K-CF).
	TauB float64
	// TauC = 2S / (N² (m−1)/m), m = min(DistinctX, DistinctY): Stuart's variant for
	// rectangular tables, e.g. 4 expert grades against continuous predictions (the
	// Flickr8K-Expert protocol reports τ-c × 100).
	TauC float64
}

// KendallTau computes Kendall's τ-b and τ-c of x and y exactly as
// scipy.stats.kendalltau(x, y, variant='b' / 'c') does (scipy ≥ 1.7, including its clip
// to [−1, 1]), in O(n log n) with Knight's algorithm: sort by (x, y), count discordant
// pairs as the inversions of a merge sort on y, and subtract ties.
// If x or y has a single distinct value, both τ are NaN and the error wraps ErrUndefined.
func KendallTau[T, U Float](x []T, y []U) (Kendall, error) {
	if err := checkPair("Kendall τ", x, y, 2); err != nil {
		return Kendall{TauB: math.NaN(), TauC: math.NaN()}, err
	}
	n := len(x)
	type pair struct{ x, y float64 }
	p := make([]pair, n)
	for i := range x {
		p[i] = pair{float64(x[i]), float64(y[i])}
	}
	slices.SortFunc(p, func(a, b pair) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		return cmp.Compare(a.y, b.y)
	})
	k := Kendall{N: n}
	// Ties in x and joint ties, from runs of the (x, y)-sorted pairs.
	var runX, runXY int64 = 1, 1
	k.DistinctX = 1
	for i := 1; i <= n; i++ {
		if i < n && p[i].x == p[i-1].x {
			runX++
			if p[i].y == p[i-1].y {
				runXY++
			} else {
				k.TiesXY += runXY * (runXY - 1) / 2
				runXY = 1
			}
			continue
		}
		k.TiesX += runX * (runX - 1) / 2
		k.TiesXY += runXY * (runXY - 1) / 2
		runX, runXY = 1, 1
		if i < n {
			k.DistinctX++
		}
	}
	ys := make([]float64, n)
	for i := range p {
		ys[i] = p[i].y
	}
	dis := mergeCountInversions(ys, make([]float64, n))
	// ys is now sorted: ties in y.
	var runY int64 = 1
	k.DistinctY = 1
	for i := 1; i <= n; i++ {
		if i < n && ys[i] == ys[i-1] {
			runY++
			continue
		}
		k.TiesY += runY * (runY - 1) / 2
		runY = 1
		if i < n {
			k.DistinctY++
		}
	}
	tot := int64(n) * int64(n-1) / 2
	k.ConMinusDis = tot - k.TiesX - k.TiesY + k.TiesXY - 2*dis
	if k.TiesX == tot || k.TiesY == tot {
		k.TauB, k.TauC = math.NaN(), math.NaN()
		side := "x"
		if k.TiesY == tot {
			side = "y"
		}
		return k, fmt.Errorf("Kendall τ of %d pairs: %s has a single distinct value: %w", n, side, ErrUndefined)
	}
	s := float64(k.ConMinusDis)
	k.TauB = clip1(s / math.Sqrt(float64(tot-k.TiesX)) / math.Sqrt(float64(tot-k.TiesY)))
	m := float64(min(k.DistinctX, k.DistinctY))
	k.TauC = clip1(2 * s / (float64(n) * float64(n) * (m - 1) / m))
	return k, nil
}

// KendallTauB is KendallTau(x, y).TauB.
func KendallTauB[T, U Float](x []T, y []U) (float64, error) {
	k, err := KendallTau(x, y)
	return k.TauB, err
}

// KendallTauC is KendallTau(x, y).TauC.
func KendallTauC[T, U Float](x []T, y []U) (float64, error) {
	k, err := KendallTau(x, y)
	return k.TauC, err
}

func clip1(v float64) float64 { return min(1, max(-1, v)) }

// mergeCountInversions sorts v (stable, ascending) and returns the number of pairs i < j
// with v[i] > v[j]; equal values are not inversions. buf has len(v).
func mergeCountInversions(v, buf []float64) int64 {
	n := len(v)
	if n < 2 {
		return 0
	}
	if n <= 16 { // insertion sort: each shift is one inversion
		var inv int64
		for i := 1; i < n; i++ {
			a := v[i]
			j := i
			for j > 0 && v[j-1] > a {
				v[j] = v[j-1]
				j--
			}
			inv += int64(i - j)
			v[j] = a
		}
		return inv
	}
	mid := n / 2
	inv := mergeCountInversions(v[:mid], buf[:mid]) + mergeCountInversions(v[mid:], buf[mid:])
	copy(buf, v)
	l, r, o := 0, mid, 0
	for l < mid && r < n {
		if buf[r] < buf[l] {
			v[o] = buf[r]
			inv += int64(mid - l)
			r++
		} else {
			v[o] = buf[l]
			l++
		}
		o++
	}
	o += copy(v[o:], buf[l:mid])
	copy(v[o:], buf[r:n])
	return inv
}
