package dataset

import (
	"fmt"
	"math"
	"sort"
)

// Summary holds the counts of the exploration notebook.
type Summary struct {
	Pairs, Photos, Captions, OwnCaptions, CrowdRated int
	// PairsPerPhoto and PhotosPerCaption: how many rows share a photo or a caption,
	// as a histogram (count → number of photos or captions with that count).
	PairsPerPhoto, PhotosPerCaption map[int]int
	// ScoreCounts[e][s] is how often expert e gave score s (1..4).
	ScoreCounts [3][5]int
	// TargetCounts maps each possible target value (10 of them) to its number of pairs.
	TargetCounts map[float64]int
}

// Summarize counts samples, photos, captions and scores.
func Summarize(samples []Sample) Summary {
	s := Summary{PairsPerPhoto: map[int]int{}, PhotosPerCaption: map[int]int{}, TargetCounts: map[float64]int{}}
	perPhoto, perCaption := map[string]int{}, map[string]int{}
	for _, x := range samples {
		s.Pairs++
		perPhoto[x.Image]++
		perCaption[x.QueryID]++
		if x.OwnCaption() {
			s.OwnCaptions++
		}
		if !math.IsNaN(x.Crowd) {
			s.CrowdRated++
		}
		for e, v := range x.Experts {
			s.ScoreCounts[e][v]++
		}
		s.TargetCounts[math.Round(x.Target*9)/9]++
	}
	s.Photos, s.Captions = len(perPhoto), len(perCaption)
	for _, n := range perPhoto {
		s.PairsPerPhoto[n]++
	}
	for _, n := range perCaption {
		s.PhotosPerCaption[n]++
	}
	return s
}

// Agreement describes how the three experts agree.
type Agreement struct {
	// AllSame is the share of pairs where the three scores are equal; Exact[i][j] the
	// share where experts i and j agree exactly; Within1 where they differ by at most 1.
	AllSame        float64
	Exact, Within1 [3][3]float64
	// Pearson[i][j] is the correlation of experts i and j; LeaveOneOut[i] that of expert i
	// with the mean of the other two (the human agreement of EVALUATION.md).
	Pearson     [3][3]float64
	LeaveOneOut [3]float64
}

// Agree measures agreement between the experts over the samples.
func Agree(samples []Sample) Agreement {
	var a Agreement
	n := float64(len(samples))
	cols := [3][]float64{}
	for _, x := range samples {
		if x.Experts[0] == x.Experts[1] && x.Experts[1] == x.Experts[2] {
			a.AllSame++
		}
		for i := range 3 {
			cols[i] = append(cols[i], float64(x.Experts[i]))
			for j := range 3 {
				d := x.Experts[i] - x.Experts[j]
				if d == 0 {
					a.Exact[i][j]++
				}
				if d >= -1 && d <= 1 {
					a.Within1[i][j]++
				}
			}
		}
	}
	a.AllSame /= n
	for i := range 3 {
		for j := range 3 {
			a.Exact[i][j] /= n
			a.Within1[i][j] /= n
			a.Pearson[i][j] = Pearson(cols[i], cols[j])
		}
		others := make([]float64, len(samples))
		for k := range samples {
			others[k] = (cols[(i+1)%3][k] + cols[(i+2)%3][k]) / 2
		}
		a.LeaveOneOut[i] = Pearson(cols[i], others)
	}
	return a
}

// CrowdVsExpert returns, for the pairs the crowd rated, the expert target and the crowd's
// yes-share, in sample order.
func CrowdVsExpert(samples []Sample) (expert, crowd []float64) {
	for _, x := range samples {
		if !math.IsNaN(x.Crowd) {
			expert = append(expert, Target(x.Experts))
			crowd = append(crowd, x.Crowd)
		}
	}
	return expert, crowd
}

// Pearson is the correlation coefficient of x and y (NaN if either is constant).
func Pearson(x, y []float64) float64 {
	if len(x) != len(y) || len(x) == 0 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

// SortedKeys returns a histogram's keys in increasing order (for tables and charts).
func SortedKeys[K int | float64](m map[K]int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// String is a one-paragraph description of the counts.
func (s Summary) String() string {
	return fmt.Sprintf("%d scored pairs of %d photos and %d captions; %d pairs pair a photo with its own caption; %d pairs were also rated by the crowd",
		s.Pairs, s.Photos, s.Captions, s.OwnCaptions, s.CrowdRated)
}
