package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// ROCAUC is the area under the ROC curve of scores for the binary labels: the probability
// that a random positive scores above a random negative, ties counting one half
// (the Mann–Whitney U statistic divided by #positives × #negatives, with mid-ranks).
func ROCAUC[T Float](labels []bool, scores []T) (float64, error) {
	if len(labels) != len(scores) {
		return math.NaN(), fmt.Errorf("ROC-AUC: %d labels but %d scores", len(labels), len(scores))
	}
	if err := checkFinite("ROC-AUC", "scores", scores); err != nil {
		return math.NaN(), err
	}
	n := len(scores)
	idx := make([]int, n)
	var pos int
	for i := range idx {
		idx[i] = i
		if labels[i] {
			pos++
		}
	}
	neg := n - pos
	if pos == 0 || neg == 0 {
		return math.NaN(), fmt.Errorf("ROC-AUC of %d scores: %d positives and %d negatives, need both: %w",
			n, pos, neg, ErrUndefined)
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	// Sum of the (1-based, mid-rank for ties) ranks of the positives.
	var rankSum float64
	for i := 0; i < n; {
		j := i + 1
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+1+j) / 2 // mean of ranks i+1 … j
		for _, k := range idx[i:j] {
			if labels[k] {
				rankSum += mid
			}
		}
		i = j
	}
	u := rankSum - float64(pos)*float64(pos+1)/2
	return u / (float64(pos) * float64(neg)), nil
}
