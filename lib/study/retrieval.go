package study

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/search"
)

// The two-tower model's encoders: the best pair measured for retrieval (notebook 04).
const (
	TwoTowerImage = "inception-mixed5"
	TwoTowerText  = "glove-mean"
)

// RankStats are the retrieval metrics of one variant over a set of queries.
type RankStats struct {
	Queries    int     `json:"queries"`
	R1         float64 `json:"recall_at_1"`
	R5         float64 `json:"recall_at_5"`
	R10        float64 `json:"recall_at_10"`
	MRR        float64 `json:"mrr"`
	MedianRank float64 `json:"median_rank"`
}

// VariantResult is one variant on the 500 test queries (all) and on those the content
// filter lets through (allowed); its out-of-fold τ-c on the expert pairs where defined.
type VariantResult struct {
	Variant string    `json:"variant"`
	All     RankStats `json:"all"`
	Allowed RankStats `json:"allowed"`
	// ExpertTauC is the out-of-fold Kendall τ-c × 100 (Flickr8K-Expert protocol) of the
	// variant's pair score; NaN-free: omitted where the variant has no pair score.
	ExpertTauC *float64 `json:"expert_tau_c,omitempty"`
	Ranks      []int    `json:"ranks"`
}

// RetrievalReport is what notebook 04 shows and the search uses.
type RetrievalReport struct {
	Encoders     [2]string            `json:"encoders"` // two-tower image, text
	Settings     retrieval.Settings   `json:"settings"`
	Curve        []retrieval.Epoch    `json:"curve"`
	CurveBest    int                  `json:"curve_best_epoch"`
	TrainSeconds float64              `json:"train_seconds"`
	Variants     []VariantResult      `json:"variants"`
	Default      string               `json:"default"` // the best variant by MRR over all queries
	Blocked      []bool               `json:"blocked"` // per test query
	TwoTowerDir  string               `json:"two_tower_dir"`
	MLPDir       string               `json:"mlp_dir"`
	MLPEncoders  [2]string            `json:"mlp_encoders"`
	OOFTwoTower  []float32            `json:"oof_two_tower"`
	OOFBlend     []float32            `json:"oof_blend"`
	TwoTowerCorr evaluate.Correlation `json:"two_tower_correlation"`
	BlendCorr    evaluate.Correlation `json:"blend_correlation"`
}

// Retrieval trains the two-tower model (saved under models/retrieval/), measures every
// variant on the test queries and the out-of-fold correlations, and picks the default.
// models must come from Models (its best MLP is the reranker). Cached like Models.
func Retrieval(in *Inputs, models *ModelsReport) (*RetrievalReport, error) {
	img, txt, err := retrievalTables(in)
	if err != nil {
		return nil, err
	}
	k, err := key("retrieval", img.Weights, txt.Weights, retrieval.DefaultSettings(), models.BestMLP, search.RerankDepth)
	if err != nil {
		return nil, err
	}
	r, err := cached("retrieval", k, func() (*RetrievalReport, error) { return runRetrieval(in, models, img, txt) })
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.TwoTowerDir); err != nil {
		return nil, fmt.Errorf("two-tower model missing (%v): delete %s to retrain", err, filepath.Join("data", "cache", "study"))
	}
	return r, nil
}

// retrievalTables embeds the two-tower's photos and texts: every photo, and the training
// captions, the samples' captions and the test queries.
func retrievalTables(in *Inputs) (img, txt *features.Table, err error) {
	for _, t := range in.Images {
		if t.Encoder == TwoTowerImage {
			img = t
		}
	}
	if img == nil {
		return nil, nil, fmt.Errorf("image encoder %s unavailable", TwoTowerImage)
	}
	pairs, err := retrieval.TrainingPairs(in.Course)
	if err != nil {
		return nil, nil, err
	}
	texts := append([]string{}, pairs.Texts...)
	for _, s := range in.Samples {
		texts = append(texts, s.Text)
	}
	for _, q := range in.Course.TestQueries {
		texts = append(texts, q.Text)
	}
	txt, err = features.TextTable(TwoTowerText, texts)
	return img, txt, err
}

func table(in *Inputs, name string, images bool) (*features.Table, error) {
	list := in.Texts
	if images {
		list = in.Images
	}
	for _, t := range list {
		if t.Encoder == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("encoder %s unavailable", name)
}

func runRetrieval(in *Inputs, models *ModelsReport, img, txt *features.Table) (*RetrievalReport, error) {
	c := in.Course
	pairs, err := retrieval.TrainingPairs(c)
	if err != nil {
		return nil, err
	}
	s := retrieval.DefaultSettings()
	tt, err := retrieval.TrainOn(pairs, img, txt, s)
	if err != nil {
		return nil, err
	}
	if err := tt.Save(""); err != nil {
		return nil, err
	}
	r := &RetrievalReport{Encoders: [2]string{img.Encoder, txt.Encoder}, Settings: s, Curve: tt.History,
		CurveBest: tt.BestEpoch, TwoTowerDir: retrieval.Dir(tt.Name), MLPDir: models.BestMLPDir,
		MLPEncoders: [2]string{models.BestMLP.Text, models.BestMLP.Image}}
	if n := len(tt.History); n > 0 {
		r.TrainSeconds = tt.History[n-1].Seconds
	}
	mlp, err := LoadScorer(models.BestMLPDir, models.BestMLP.Text, models.BestMLP.Image)
	if err != nil {
		return nil, err
	}
	mlpText, err := table(in, models.BestMLP.Text, false)
	if err != nil {
		return nil, err
	}
	mlpImage, err := table(in, models.BestMLP.Image, true)
	if err != nil {
		return nil, err
	}

	// Scores of every test query against every test photo, per scorer.
	photos, queries := c.TestImages, c.TestQueries
	relevant := make([]int, len(queries))
	at := map[string]int{}
	for i, p := range photos {
		at[p] = i
	}
	imgFeats, err := img.Rows(photos)
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(queries))
	for i, q := range queries {
		texts[i], relevant[i] = q.Text, at[q.Image]
		blocked, _ := search.Blocked(q.Text)
		r.Blocked = append(r.Blocked, blocked)
	}
	textFeats, err := txt.Rows(texts)
	if err != nil {
		return nil, err
	}
	cos, err := tt.Similarities(imgFeats, textFeats)
	if err != nil {
		return nil, err
	}
	mlpScores := make([][]float32, len(queries))
	mlpImgs, err := mlpImage.Rows(photos)
	if err != nil {
		return nil, err
	}
	for i, q := range queries {
		rows := make([][]float32, len(photos))
		t := mlpText.Vecs[q.Text]
		for j, v := range mlpImgs {
			rows[j] = append(append(make([]float32, 0, len(t)+len(v)), t...), v...)
		}
		if mlpScores[i], err = mlp.Predict(rows); err != nil {
			return nil, err
		}
	}
	variants := map[string][][]float32{search.VariantMLP: mlpScores, search.VariantTwoTower: cos, search.VariantRerank: rerank(cos, mlpScores, search.RerankDepth),
		search.VariantBlend: blendRows(cos, mlpScores)}
	for _, name := range []string{search.VariantMLP, search.VariantTwoTower, search.VariantRerank, search.VariantBlend} {
		v := VariantResult{Variant: name}
		for i, row := range variants[name] {
			rank, err := metrics.Rank(row, relevant[i])
			if err != nil {
				return nil, err
			}
			v.Ranks = append(v.Ranks, rank)
		}
		if v.All, err = stats(v.Ranks, nil); err != nil {
			return nil, err
		}
		if v.Allowed, err = stats(v.Ranks, r.Blocked); err != nil {
			return nil, err
		}
		r.Variants = append(r.Variants, v)
	}

	// Out-of-fold pair scores on the expert pairs: two-tower cosine, and its blend with the
	// best MLP's out-of-fold predictions.
	bar := progress.New("two-tower out of fold", 1) // the folds' own bars stay silent
	r.OOFTwoTower, err = retrieval.OutOfFold(in.Samples, pairs, img, txt, s)
	bar.Add(1)
	bar.Done()
	if err != nil {
		return nil, err
	}
	if r.TwoTowerCorr, err = evaluate.Correlate(in.Samples, r.OOFTwoTower); err != nil {
		return nil, err
	}
	r.OOFBlend = search.BlendScores(r.OOFTwoTower, models.OOF[models.BestMLP.Model])
	if r.BlendCorr, err = evaluate.Correlate(in.Samples, r.OOFBlend); err != nil {
		return nil, err
	}
	for i := range r.Variants {
		switch r.Variants[i].Variant {
		case search.VariantTwoTower:
			r.Variants[i].ExpertTauC = &r.TwoTowerCorr.ExpertTauC
		case search.VariantBlend:
			r.Variants[i].ExpertTauC = &r.BlendCorr.ExpertTauC
		case search.VariantMLP:
			for _, mc := range models.Correlation {
				if mc.Model == models.BestMLP.Model && mc.Undefined == "" {
					tau := mc.ExpertTauC
					r.Variants[i].ExpertTauC = &tau
				}
			}
		}
	}
	best := -1.0
	for _, v := range r.Variants {
		if v.All.MRR > best {
			best, r.Default = v.All.MRR, v.Variant
		}
	}
	return r, nil
}

// stats summarises ranks, leaving out the queries where skip is true.
func stats(ranks []int, skip []bool) (RankStats, error) {
	var kept []int
	for i, r := range ranks {
		if skip == nil || !skip[i] {
			kept = append(kept, r)
		}
	}
	s := RankStats{Queries: len(kept)}
	if len(kept) == 0 {
		return s, nil
	}
	var err error
	if s.R1, err = metrics.RecallAt(kept, 1); err != nil {
		return s, err
	}
	s.R5, _ = metrics.RecallAt(kept, 5)
	s.R10, _ = metrics.RecallAt(kept, 10)
	s.MRR, _ = metrics.MRR(kept)
	s.MedianRank, _ = metrics.MedianRank(kept)
	return s, nil
}

func blendRows(a, b [][]float32) [][]float32 {
	out := make([][]float32, len(a))
	for i := range a {
		out[i] = search.BlendScores(a[i], b[i])
	}
	return out
}

func rerank(first, second [][]float32, depth int) [][]float32 {
	out := make([][]float32, len(first))
	for i := range first {
		out[i] = search.RerankScores(first[i], second[i], depth)
	}
	return out
}
