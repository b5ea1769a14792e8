package study

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/search"
)

// TestJackknife: the ensemble's metrics are the full ensemble's, and their spread is the
// jackknife estimate that evaluate.EnsembleMAE gives the MLP ensemble.
func TestJackknife(t *testing.T) {
	y := []float32{0.1, 0.5, 0.9, 0.3}
	preds := [][]float32{{0.2, 0.4, 0.7, 0.3}, {0, 0.6, 1, 0.5}, {0.1, 0.1, 0.8, 0.2}, {0.3, 0.5, 0.9, 0.1}}
	mae, sd, err := evaluate.EnsembleMAE(y, preds)
	if err != nil {
		t.Fatal(err)
	}
	loo := make([]RankStats, len(preds))
	for i := range preds {
		v, err := metrics.MAE(y, evaluate.Average(slices.Delete(slices.Clone(preds), i, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		loo[i] = RankStats{Queries: 4, MRR: v, R1: 2 * v}
	}
	got := jackknife(RankStats{Queries: 4, MRR: mae, R1: 0.25}, loo)
	if got.Seeds != 4 || got.Queries != 4 || got.MRR.Mean != mae || got.R1.Mean != 0.25 {
		t.Errorf("jackknife %+v: want the full ensemble's values and 4 seeds", got)
	}
	if math.Abs(got.MRR.SD-sd) > 1e-12 || math.Abs(got.R1.SD-2*sd) > 1e-12 {
		t.Errorf("jackknife sd %v (R@1 %v), want %v as evaluate.EnsembleMAE (and twice that)", got.MRR.SD, got.R1.SD, sd)
	}
	if one := jackknife(RankStats{MRR: 0.5}, loo[:1]); one.MRR.SD != 0 || one.MRR.Mean != 0.5 {
		t.Errorf("one member: %+v", one)
	}
}

// TestEnsembleTables: the tables mark the chosen two-tower, show the ensemble beside one
// model, and the conclusion claims a difference only beyond twice the combined spread.
func TestEnsembleTables(t *testing.T) {
	rs := func(seeds int, mrr, sd, r1, r1sd float64) RankSpread {
		return RankSpread{Queries: 400, Seeds: seeds, MRR: Spread{mrr, sd}, R1: Spread{r1, r1sd}}
	}
	r := &RetrievalReport{
		ValidSeeds:    []string{"a", "b", "c"},
		TwoTowerSeeds: []string{"x", "y", "z"},
		EnsembleValid: &EnsembleTrial{Single: rs(3, 0.40, 0.01, 0.25, 0.01), Ensemble: rs(3, 0.45, 0.005, 0.30, 0.01)},
		Ensemble:      true,
		Default:       search.VariantTwoTower,
		Validation: []VariantResult{{Variant: search.VariantMLP, Allowed: RankStats{Queries: 400}},
			{Variant: search.VariantTwoTower, Allowed: RankStats{Queries: 400, MRR: 0.45}},
			{Variant: search.VariantLabels, LabelWeight: 0.5, Allowed: RankStats{Queries: 400, MRR: 0.40}}},
		Test: TestResult{Variant: search.VariantTwoTower, Allowed: rs(3, 0.38, 0.02, 0.254, 0.013), All: rs(3, 0.37, 0.02, 0.25, 0.01),
			Ensemble: &EnsembleTest{Allowed: rs(3, 0.40, 0.01, 0.27, 0.01), All: rs(3, 0.39, 0.01, 0.26, 0.01)}},
	}
	_, rows := ValidationTable(r)
	if len(rows) != 5 || !strings.Contains(rows[1][0], "ensemble") || !strings.HasSuffix(rows[1][0], "✓") || strings.Contains(rows[0][0], "✓") {
		t.Errorf("validation rows %q: want one model, then the ensemble ✓, then the variants", rows)
	}
	if strings.Contains(rows[2][0], "×") || !strings.Contains(rows[3][0], "two-tower ×3") || !strings.Contains(rows[3][0], "default") {
		t.Errorf("variant rows %q: the two-tower's variants say they use the ensemble", rows[2:])
	}
	if rows[4][0] != "two-tower+labels (label weight 0.5, two-tower ×3)" {
		t.Errorf("labels row %q", rows[4][0])
	}
	if rows[0][2] != "25.0 ± 1.0%" || rows[1][5] != "0.450 ± 0.005" {
		t.Errorf("validation rows %q", rows[:2])
	}
	_, rows = TestTable(r)
	if len(rows) != 4 || !strings.HasPrefix(rows[0][0], "✓ ensemble") || rows[0][3] != "27.0 ± 1.0%" || rows[2][3] != "25.4 ± 1.3%" || rows[2][2] != "3" {
		t.Errorf("test rows %q", rows)
	}
	c := EnsembleConclusion(r)
	if !strings.Contains(c, "MRR **0.450 ± 0.005**") || !strings.Contains(c, "the ensemble is better, beyond") || !strings.Contains(c, "R@1 **27.0 ± 1.0 %**") ||
		!strings.Contains(c, "R@1 within twice the combined spread") {
		t.Errorf("conclusion:\n%s", c)
	}

	// One model chosen: the test table is as before, the conclusion says so.
	r.Ensemble, r.Test.Ensemble = false, nil
	r.EnsembleValid.Ensemble = rs(3, 0.39, 0.01, 0.24, 0.01)
	_, rows = ValidationTable(r)
	if !strings.HasSuffix(rows[0][0], "✓") || strings.Contains(rows[1][0], "✓") || strings.Contains(rows[3][0], "×") {
		t.Errorf("validation rows %q", rows)
	}
	if _, rows = TestTable(r); len(rows) != 2 || strings.Contains(rows[0][0], "ensemble") {
		t.Errorf("test rows %q", rows)
	}
	if c := EnsembleConclusion(r); !strings.Contains(c, "one model (the first seed's)") || !strings.Contains(c, "no clear difference") || strings.Contains(c, "Test") {
		t.Errorf("conclusion:\n%s", c)
	}

	// The runoff comes first, the chosen encoders marked.
	r.Encoders = [2]string{"img-b", "use"}
	r.Runoff = []RunoffTrial{{Image: "img-a", Text: "use", Single: rs(3, 0.41, 0.01, 0.26, 0.01)},
		{Image: "img-b", Text: "use", Single: rs(3, 0.43, 0.02, 0.28, 0.01)}}
	_, rows = ValidationTable(r)
	if len(rows) != 7 || rows[0][0] != "runoff: img-a + use, one model (mean ± sd over 3 seeds)" ||
		rows[1][0] != "runoff: img-b + use, one model (mean ± sd over 3 seeds) ✓" || rows[1][5] != "0.430 ± 0.020" {
		t.Errorf("runoff rows %q", rows[:2])
	}
}

// TestHubGallery: the photos the correction lowers most come first, those it lowers least
// in the second gallery, each with its offset and caption; plain cosines say so.
func TestHubGallery(t *testing.T) {
	paths := []string{"/p/a.jpg", "/p/b.jpg", "/p/c.jpg", "/p/d.jpg", "/p/e.jpg"}
	tt := &search.CosineScorer{Offsets: []float32{0.2, 0.9, 0.1, 0.5, 0.3}}
	s := &search.Searcher{Paths: paths, Scorer: &search.Blend{A: tt, B: &search.CosineScorer{}}}
	caps := map[string]string{"b.jpg": "a hub caption", "c.jpg": "a lonely caption"}
	got := HubGallery(s, caps, 2)
	hubs, rest, ok := strings.Cut(got, "lowers least")
	if !ok {
		t.Fatalf("no second gallery in %s", got)
	}
	if !strings.Contains(got, "from 0.100 to 0.900") || strings.Index(hubs, "b.jpg") < 0 || strings.Index(hubs, "d.jpg") < strings.Index(hubs, "b.jpg") ||
		!strings.Contains(hubs, "offset 0.900") || !strings.Contains(hubs, "a hub caption") || strings.Contains(hubs, "c.jpg") {
		t.Errorf("hubs gallery: %s", hubs)
	}
	if !strings.Contains(rest, "c.jpg") || !strings.Contains(rest, "a.jpg") || strings.Contains(rest, "b.jpg") || !strings.Contains(rest, "a lonely caption") {
		t.Errorf("least lowered gallery: %s", rest)
	}
	if got := HubGallery(&search.Searcher{Paths: paths, Scorer: &search.CosineScorer{}}, caps, 2); !strings.Contains(got, "plain cosines") {
		t.Errorf("no correction: %s", got)
	}
}
