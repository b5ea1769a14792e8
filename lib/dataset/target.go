package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Sample is one scored (photo, caption) pair: the unit the regressors learn from.
type Sample struct {
	Image, QueryID, Text string
	Experts              [3]int
	// Crowd is the crowd's yes-share for the pair, NaN where the crowd did not rate it.
	Crowd float64
	// Target is what the regressors predict (see Target).
	Target float64
}

// OwnCaption reports whether the caption was written for this very photo (158 pairs).
func (s Sample) OwnCaption() bool {
	img, _, _ := strings.Cut(s.QueryID, "#")
	return img == s.Image
}

// Target is the study's target for three expert scores on 1..4: their mean rescaled to
// [0, 1] by (mean − 1) / 3, as in ../shared/docs/EVALUATION.md.
func Target(scores [3]int) float64 {
	return (float64(scores[0]+scores[1]+scores[2])/3 - 1) / 3
}

// Samples joins train_dataset.csv with the expert and crowd scores. crowdWeight in [0, 1]
// blends the crowd's yes-share into the target where the crowd rated the pair
// (0 = experts only, the study's definition).
func (c *Course) Samples(crowdWeight float64) ([]Sample, error) {
	if crowdWeight < 0 || crowdWeight > 1 || math.IsNaN(crowdWeight) {
		return nil, fmt.Errorf("crowd weight %v not in [0, 1]", crowdWeight)
	}
	experts := map[pairKey][3]int{}
	for _, e := range c.Expert {
		experts[pairKey{e.Image, e.QueryID}] = e.Scores
	}
	crowd := map[pairKey]float64{}
	for _, cr := range c.Crowd {
		crowd[pairKey{cr.Image, cr.QueryID}] = cr.ShareYes
	}
	out := make([]Sample, 0, len(c.Pairs))
	for _, p := range c.Pairs {
		k := pairKey{p.Image, p.QueryID}
		scores, ok := experts[k]
		if !ok {
			return nil, fmt.Errorf("pair (%s, %s) has no expert scores", p.Image, p.QueryID)
		}
		s := Sample{Image: p.Image, QueryID: p.QueryID, Text: p.Text, Experts: scores, Crowd: math.NaN(), Target: Target(scores)}
		if share, ok := crowd[k]; ok {
			s.Crowd = share
			s.Target = (1-crowdWeight)*s.Target + crowdWeight*share
		}
		out = append(out, s)
	}
	return out, nil
}

// Groups returns the photo of every sample: the groups of the splits.
func Groups(samples []Sample) []string {
	g := make([]string, len(samples))
	for i, s := range samples {
		g[i] = s.Image
	}
	return g
}

// uniqueShuffled returns the distinct groups in first-seen order, shuffled with seed.
func uniqueShuffled(groups []string, seed uint64) []string {
	seen := map[string]bool{}
	var uniq []string
	for _, g := range groups {
		if !seen[g] {
			seen[g] = true
			uniq = append(uniq, g)
		}
	}
	slices.Sort(uniq)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(uniq), func(i, j int) { uniq[i], uniq[j] = uniq[j], uniq[i] })
	return uniq
}

// GroupShuffleSplit splits row indices into train and validation so that no group (photo)
// is on both sides: ceil(validFrac × #groups) groups, drawn with seed, go to validation —
// scikit-learn's GroupShuffleSplit(test_size=validFrac, n_splits=1) with Go's random source.
func GroupShuffleSplit(groups []string, validFrac float64, seed uint64) (train, valid []int, err error) {
	if validFrac <= 0 || validFrac >= 1 || math.IsNaN(validFrac) {
		return nil, nil, fmt.Errorf("validation fraction %v not in (0, 1)", validFrac)
	}
	uniq := uniqueShuffled(groups, seed)
	if len(uniq) < 2 {
		return nil, nil, fmt.Errorf("%d groups: need at least 2 to split", len(uniq))
	}
	nValid := min(max(int(math.Ceil(validFrac*float64(len(uniq)))), 1), len(uniq)-1)
	isValid := map[string]bool{}
	for _, g := range uniq[:nValid] {
		isValid[g] = true
	}
	for i, g := range groups {
		if isValid[g] {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid, nil
}

// GroupKFold assigns every row to one of k folds so that each group (photo) is in exactly
// one fold and folds have nearly equal numbers of rows: groups, shuffled with seed, are
// taken largest first and each goes to the fold with the fewest rows so far (scikit-learn's
// GroupKFold balancing, with a seeded order among equal-sized groups).
func GroupKFold(groups []string, k int, seed uint64) ([]int, error) {
	uniq := uniqueShuffled(groups, seed)
	if k < 2 || k > len(uniq) {
		return nil, fmt.Errorf("%d folds for %d groups: need 2 ≤ k ≤ #groups", k, len(uniq))
	}
	size := map[string]int{}
	for _, g := range groups {
		size[g]++
	}
	slices.SortStableFunc(uniq, func(a, b string) int { return size[b] - size[a] })
	foldOf := map[string]int{}
	rows := make([]int, k)
	for _, g := range uniq {
		f := slices.Index(rows, slices.Min(rows))
		foldOf[g] = f
		rows[f] += size[g]
	}
	out := make([]int, len(groups))
	for i, g := range groups {
		out[i] = foldOf[g]
	}
	return out, nil
}

// FoldIndices splits rows by fold: train rows are all others, valid rows those of fold f.
func FoldIndices(folds []int, f int) (train, valid []int) {
	for i, x := range folds {
		if x == f {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid
}

// CaptionsByImage groups captions by photo, in caption order.
func CaptionsByImage(caps []Caption) map[string][]Caption {
	out := map[string][]Caption{}
	for _, c := range caps {
		out[c.Image] = append(out[c.Image], c)
	}
	return out
}
