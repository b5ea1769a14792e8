package search

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/ortref"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/search/searchtest"
	"github.com/withsense/withsense/lib/textenc"
)

// openUSE opens the `use` encoder; missing weights skip t, or fail it when
// $WITH_SENSE_REQUIRE_TESTGRAPHS is set.
func openUSE(t *testing.T) textenc.Encoder {
	t.Helper()
	enc, err := textenc.Encoders.Open(LabelText)
	if err != nil {
		if os.Getenv(ortref.RequireGraphsEnv) != "" {
			t.Fatal(err)
		}
		t.Skipf("the label scorer needs the use encoder: %v", err)
	}
	return enc
}

// presence returns a normalised 80-class presence vector, as an index holds it, with the
// named classes at the given values and every other class at 0.01 (CenterNet's heatmaps
// are never exactly zero).
func presence(t *testing.T, classes map[string]float32) []float32 {
	t.Helper()
	v := make([]float32, len(imageenc.COCOClasses))
	for i := range v {
		v[i] = 0.01
	}
	for name, x := range classes {
		i := slices.Index(imageenc.COCOClasses[:], name)
		if i < 0 {
			t.Fatalf("%q is not a COCO class", name)
		}
		v[i] = x
	}
	v, err := features.Normalize(v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLabelScorer: with the real `use` encoder, each query ranks first the photo whose
// CenterNet presence holds the objects it names, and the explanation names them with the
// photo's presence.
func TestLabelScorer(t *testing.T) {
	enc := openUSE(t)
	paths := []string{"frisbee.jpg", "street.jpg", "kitten.jpg"} // no "a" in the names: WordScorer counts substrings
	pres := [][]float32{
		presence(t, map[string]float32{"dog": 0.93, "frisbee": 0.71, "person": 0.05}),
		presence(t, map[string]float32{"car": 0.9, "person": 0.8, "traffic light": 0.4}),
		presence(t, map[string]float32{"cat": 0.88, "couch": 0.6}),
	}
	l, err := NewLabelScorer(enc, pres)
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"a dog catching a frisbee": 0, "cars waiting at a traffic light": 1, "a cat sleeping on a couch": 2} {
		w, err := l.Weights(q)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, x := range w {
			sum += x
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%q: weights sum to %g", q, sum)
		}
		scores, err := l.Score(q)
		if err != nil {
			t.Fatal(err)
		}
		if best := TopK(scores, []int{0, 1, 2}, 1)[0]; best != want {
			t.Errorf("%q ranks %s first (scores %v), want %s", q, paths[best], scores, paths[want])
		}
	}
	frisbee := slices.Index(imageenc.COCOClasses[:], "frisbee")
	s := &Searcher{Paths: paths, Scorer: &Blend{A: &searchtest.WordScorer{Names: paths}, B: l, W: 0.5}}
	ans, err := s.Search("a dog catching a frisbee", 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Explain(&ans); err != nil {
		t.Fatal(err)
	}
	top := ans.Results[0]
	if want := fmt.Sprintf("frisbee %.2f", pres[0][frisbee]); top.Path != "frisbee.jpg" || !slices.Contains(top.Why, want) {
		t.Errorf("top result %s explained %v, want frisbee.jpg with %q", top.Path, top.Why, want)
	}
	for _, r := range ans.Results[1:] {
		if len(r.Why) > 0 && strings.Contains(r.Why[len(r.Why)-1], "frisbee") {
			t.Errorf("%s, without a frisbee, explained %v", r.Path, r.Why)
		}
	}
	if _, err := l.Why("a dog", []int{3}); err == nil || !strings.Contains(err.Error(), "photo 3") {
		t.Errorf("why for a photo outside the index: %v", err)
	}
	if _, err := NewLabelScorer(enc, [][]float32{make([]float32, 79)}); err == nil || !strings.Contains(err.Error(), "photo 0 has a 79-d") {
		t.Errorf("a 79-d presence vector: %v", err)
	}
}

// TestLabelPrompts measures LabelPrompt against the bare class name on a few hand-written
// queries (none from the dataset): the rank of the class each query names among the 80
// by cosine with the query. LabelPrompt must rank every one in its top 3 and do no worse
// in total than the bare name.
func TestLabelPrompts(t *testing.T) {
	enc := openUSE(t)
	queries := map[string]string{
		"a dog catching a frisbee":               "dog",
		"a man riding a bicycle down the street": "bicycle",
		"a surfer riding a big wave":             "surfboard",
		"a cat sleeping on a couch":              "cat",
		"people eating pizza at a table":         "pizza",
		"two horses in a field":                  "horse",
		"a girl holding an umbrella in the rain": "umbrella",
	}
	total := map[string]int{}
	for _, prompt := range []string{LabelPrompt, "%s"} {
		vecs, err := embedPrompts(enc, prompt, imageenc.COCOClasses[:])
		if err != nil {
			t.Fatal(err)
		}
		for q, class := range queries {
			v, err := embedQuery(enc, q)
			if err != nil {
				t.Fatal(err)
			}
			cos := make([]float32, len(vecs))
			for c := range vecs {
				cos[c] = dot32(v, vecs[c])
			}
			rank := RankOf(cos, slices.Index(imageenc.COCOClasses[:], class))
			total[prompt] += rank
			if prompt == LabelPrompt && rank > 3 {
				t.Errorf("prompt %q: %q ranks %s %d of 80", prompt, q, class, rank)
			}
		}
		t.Logf("prompt %q: sum of the named classes' ranks over %d queries: %d", prompt, len(queries), total[prompt])
	}
	if total[LabelPrompt] > total["%s"] {
		t.Errorf("LabelPrompt %q ranks the named classes worse than the bare name: %v", LabelPrompt, total)
	}
}

// TestBlendWeighted: the weight scales B's z-scores (1 is BlendScores, 0 leaves A's alone).
func TestBlendWeighted(t *testing.T) {
	a, b := []float32{1, 2, 3, 6}, []float32{4, 0, 0, 0}
	za, zb := zscore(a), zscore(b)
	for _, w := range []float64{0, 0.5, 1, 3} {
		got := BlendWeighted(a, b, w)
		for i := range got {
			if want := za[i] + w*zb[i]; math.Abs(float64(got[i])-want) > 1e-6 {
				t.Errorf("w=%g: item %d %g, want %g", w, i, got[i], want)
			}
		}
	}
	if !slices.Equal(BlendScores(a, b), BlendWeighted(a, b, 1)) {
		t.Error("BlendScores is not BlendWeighted with weight 1")
	}
	// w = 0.5 keeps A's order where B's single spike would otherwise turn it over.
	if got := BlendWeighted(a, b, 0.5); !(got[3] > got[0]) {
		t.Errorf("w=0.5: %v", got)
	}
	if got := BlendWeighted(a, b, 3); !(got[0] > got[3]) {
		t.Errorf("w=3: %v", got)
	}
}

// TestLabelsConfig: two-tower+labels needs CenterNet's class presence in the index, and
// label_weight must be a finite weight ≥ 0.
func TestLabelsConfig(t *testing.T) {
	dir := t.TempDir()
	info := `{"name": "tt", "image_encoder": "inception-mixed5", "text_encoder": "use"}`
	if err := os.WriteFile(filepath.Join(dir, retrieval.InfoFile), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{Default: VariantLabels, TwoTowerDir: dir, MLPDir: "/m/mlp", MLPEncoders: [2]string{"use", "inception-mixed5"}, RerankDepth: RerankDepth}
	if got, err := c.ImageEncoders(); err != nil || !slices.Equal(got, []string{"inception-mixed5", LabelImage}) {
		t.Errorf("labels variant needs %v, %v", got, err)
	}
	c.Default = VariantTwoTower
	if got, err := c.ImageEncoders(); err != nil || !slices.Equal(got, []string{"inception-mixed5"}) {
		t.Errorf("two-tower variant needs %v, %v", got, err)
	}
	for _, w := range []float64{-0.5, math.NaN(), math.Inf(1)} {
		c.LabelWeight = w
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), "label_weight") {
			t.Errorf("label_weight %v: %v", w, err)
		}
	}
	c.LabelWeight = 0.5
	if err := c.Check(); err != nil {
		t.Errorf("label_weight 0.5: %v", err)
	}
	path := filepath.Join(dir, "search.json")
	if err := WriteConfigFile(path, c); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadConfigFile(path); err != nil || got.LabelWeight != 0.5 {
		t.Errorf("read back label_weight %v, %v", got.LabelWeight, err)
	}
}
