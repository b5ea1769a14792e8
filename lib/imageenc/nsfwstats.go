package imageenc

import (
	"cmp"
	"slices"
)

// CountAbove returns, for each NSFW class (NSFWClasses order) and each threshold, how many
// photos have a probability above it: counts[class][threshold].
func CountAbove(scores []NSFWScores, thresholds []float32) [5][]int {
	var counts [5][]int
	for c := range counts {
		counts[c] = make([]int, len(thresholds))
		for _, s := range scores {
			for i, th := range thresholds {
				if s[c] > th {
					counts[c][i]++
				}
			}
		}
	}
	return counts
}

// MostLikely returns the indices of the n photos with the highest probability of class
// (an index into NSFWClasses), highest first.
func MostLikely(scores []NSFWScores, class, n int) []int {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b][class], scores[a][class]) })
	return order[:min(n, len(order))]
}
