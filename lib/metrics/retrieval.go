package metrics

import (
	"fmt"
	"math"
	"slices"
)

// Rank returns the 1-based rank of candidate relevant when candidates are sorted by
// descending score. Ties are broken pessimistically (every candidate that scores the same
// as the relevant one is ranked before it), so a constant scorer gets the worst rank, not
// the best.
func Rank[T Float](scores []T, relevant int) (int, error) {
	if relevant < 0 || relevant >= len(scores) {
		return 0, fmt.Errorf("rank: relevant candidate %d out of range [0, %d)", relevant, len(scores))
	}
	if err := checkFinite("rank", "scores", scores); err != nil {
		return 0, err
	}
	s := scores[relevant]
	r := 1
	for i, v := range scores {
		if i != relevant && v >= s {
			r++
		}
	}
	return r, nil
}

func checkRanks(what string, ranks []int) error {
	if len(ranks) == 0 {
		return fmt.Errorf("%s: no ranks", what)
	}
	for i, r := range ranks {
		if r < 1 {
			return fmt.Errorf("%s: rank[%d] = %d, ranks start at 1", what, i, r)
		}
	}
	return nil
}

// RecallAt is the share of queries whose relevant item has rank ≤ k (Recall@k), in [0, 1].
func RecallAt(ranks []int, k int) (float64, error) {
	if err := checkRanks("Recall@k", ranks); err != nil {
		return math.NaN(), err
	}
	if k < 1 {
		return math.NaN(), fmt.Errorf("Recall@k: k = %d, need k ≥ 1", k)
	}
	hits := 0
	for _, r := range ranks {
		if r <= k {
			hits++
		}
	}
	return float64(hits) / float64(len(ranks)), nil
}

// MRR is the mean reciprocal rank of the relevant items.
func MRR(ranks []int) (float64, error) {
	if err := checkRanks("MRR", ranks); err != nil {
		return math.NaN(), err
	}
	var s float64
	for _, r := range ranks {
		s += 1 / float64(r)
	}
	return s / float64(len(ranks)), nil
}

// MedianRank is the median of the ranks (the mean of the two middle ones for an even count).
func MedianRank(ranks []int) (float64, error) {
	if err := checkRanks("median rank", ranks); err != nil {
		return math.NaN(), err
	}
	s := slices.Clone(ranks)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2]), nil
	}
	return float64(s[n/2-1]+s[n/2]) / 2, nil
}

// Retrieval summarises the ranks of a set of queries, as results/metrics.json reports them.
type Retrieval struct {
	Queries    int     `json:"queries"`
	R1         float64 `json:"recall_at_1"`
	R5         float64 `json:"recall_at_5"`
	R10        float64 `json:"recall_at_10"`
	MRR        float64 `json:"mrr"`
	MedianRank float64 `json:"median_rank"`
}

// Summarize computes Recall@1/5/10, MRR and the median rank of ranks.
func Summarize(ranks []int) (Retrieval, error) {
	if err := checkRanks("retrieval", ranks); err != nil {
		return Retrieval{}, err
	}
	r := Retrieval{Queries: len(ranks)}
	r.R1, _ = RecallAt(ranks, 1)
	r.R5, _ = RecallAt(ranks, 5)
	r.R10, _ = RecallAt(ranks, 10)
	r.MRR, _ = MRR(ranks)
	r.MedianRank, _ = MedianRank(ranks)
	return r, nil
}
