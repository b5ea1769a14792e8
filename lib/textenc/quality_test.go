package textenc

import (
	"math"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

// fakeEncoder maps each text to a fixed vector.
type fakeEncoder map[string][]float32

func (f fakeEncoder) Name() string    { return "fake" }
func (f fakeEncoder) Dim() int        { return 2 }
func (f fakeEncoder) Weights() string { return "none" }
func (f fakeEncoder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		out[i] = f[s]
	}
	return out, nil
}

// TestParaphrasesByHand checks the AUC on a case small enough to count by hand.
// Photos A (a1 = a2 = (1,0)), B (b1 = (0,1), b2 = (1,1)), C (c1 = (1,1)).
// Same-photo cosines: a1·a2 = 1, b1·b2 = 1/√2.
// Different-photo cosines (all 8 pairs): a1b1 0, a1b2 1/√2, a1c1 1/√2, a2b1 0, a2b2 1/√2,
// a2c1 1/√2, b1c1 1/√2, b2c1 1 (mean (1 + 5/√2)/8).
// Same 1 beats 7 and ties 1: 7.5; same 1/√2 beats 2, ties 5, loses 1: 4.5.
// AUC = (7.5 + 4.5) / (2 × 8) = 0.75.
// Nearest other caption: a1 → a2 (same), a2 → a1 (same), b1 → b2 or c1 at 1/√2 with
// a1, a2 at 0: best 1/√2 shared by b2 (same) and c1: 1/2; b2 → c1 at 1 (different): 0;
// c1 → b2 (different): 0. Share = (1 + 1 + 0.5 + 0 + 0) / 5 = 0.5.
// Chance: (1 + 1 + 1 + 1 + 0) / 4 / 5 = 0.2.
func TestParaphrasesByHand(t *testing.T) {
	r2 := float32(1)
	enc := fakeEncoder{"a1": {1, 0}, "a2": {1, 0}, "b1": {0, 1}, "b2": {r2, r2}, "c1": {1, 1}}
	caps := []Caption{{Image: "A", Text: "a1"}, {Image: "B", Text: "b1"}, {Image: "A", Text: "a2"}, {Image: "C", Text: "c1"}, {Image: "B", Text: "b2"}}
	r, err := CheckParaphrases(enc, caps, ParaphraseOptions{Examples: []int{0}, K: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Photos != 3 || r.Captions != 5 || r.SamePairs != 2 || r.DiffPairs != 8 {
		t.Errorf("counts %+v", r)
	}
	if math.Abs(r.AUC-0.75) > 1e-12 {
		t.Errorf("AUC = %v, want 0.75", r.AUC)
	}
	if s := 1 / math.Sqrt2; math.Abs(r.MeanSame-(1+s)/2) > 1e-12 || math.Abs(r.MeanDiff-(1+5*s)/8) > 1e-12 {
		t.Errorf("mean cosines %v %v", r.MeanSame, r.MeanDiff)
	}
	if math.Abs(r.NearestSamePhoto-0.5) > 1e-12 || math.Abs(r.ChanceNearest-0.2) > 1e-12 {
		t.Errorf("nearest same photo %v (chance %v), want 0.5 (0.2)", r.NearestSamePhoto, r.ChanceNearest)
	}
	// a1's neighbours: a2 (1), then b1's tie partners in caption order: c1 (index 3) and
	// b2 (index 4) at 1/√2.
	ex := r.Examples[0]
	if ex.Query.Text != "a1" || len(ex.Neighbors) != 3 || ex.Neighbors[0].Text != "a2" || !ex.Neighbors[0].SamePhoto ||
		ex.Neighbors[1].Text != "c1" || ex.Neighbors[2].Text != "b2" {
		t.Errorf("nearest of a1: %+v", ex)
	}
	// Sampled pairs: the same seed draws the same pairs.
	opt := ParaphraseOptions{DiffPairs: 100, Seed: 42}
	x, err1 := CheckParaphrases(enc, caps, opt)
	y, err2 := CheckParaphrases(enc, caps, opt)
	if err1 != nil || err2 != nil || x.AUC != y.AUC || x.DiffPairs != 100 {
		t.Errorf("sampled: %v %v, AUC %v vs %v", err1, err2, x, y)
	}
	// No same-photo pair: an error, not NaN.
	if _, err := CheckParaphrases(enc, []Caption{{Image: "A", Text: "a1"}, {Image: "B", Text: "b1"}}, ParaphraseOptions{}); err == nil {
		t.Error("check without same-photo pairs accepted")
	}
	if _, err := CheckParaphrases(enc, caps, ParaphraseOptions{Examples: []int{9}}); err == nil {
		t.Error("example out of range accepted")
	}
}

// TestParaphrasesGloVe runs the check on the 1000 photos of the Flickr8k test split (the
// course's training photos, 5 captions each) for both GloVe encoders.
func TestParaphrasesGloVe(t *testing.T) {
	flickr8kSplit(t, dataset.Flickr8kTest) // skips if the captions are absent
	if _, err := CheckEncoders("no-such-encoder"); err == nil {
		t.Error("unknown encoder accepted")
	}
	reports, err := CheckEncoders("glove-mean", "glove-sif")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		name := r.Encoder
		if r.Photos != 1000 || r.Captions != 5000 || r.SamePairs != 10000 || r.DiffPairs != 50000 || r.Coverage == nil || r.Coverage.Failed != 0 {
			t.Errorf("%s: counts %+v", name, r)
		}
		// Far better than chance (0.5 and 4/4999), far from perfect.
		if r.AUC < 0.7 || r.AUC > 0.99 || r.NearestSamePhoto < 10*r.ChanceNearest || r.MeanSame <= r.MeanDiff {
			t.Errorf("%s: AUC %.4f, nearest same photo %.4f (chance %.4f), mean cosines %.3f / %.3f",
				name, r.AUC, r.NearestSamePhoto, r.ChanceNearest, r.MeanSame, r.MeanDiff)
		}
		t.Logf("%s: AUC %.4f, nearest caption of the same photo %.4f (chance %.4f), mean cosine same %.3f, different %.3f, OOV %.2f%%",
			name, r.AUC, r.NearestSamePhoto, r.ChanceNearest, r.MeanSame, r.MeanDiff, 100*r.Coverage.OOVRate())
		for _, ex := range r.Examples[:1] {
			t.Logf("  %q", ex.Query.Text)
			for _, n := range ex.Neighbors {
				t.Logf("    %.3f %v %q", n.Cosine, n.SamePhoto, n.Text)
			}
		}
	}
}
