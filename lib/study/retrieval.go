package study

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/settings"
)

// The two-tower's candidate encoders, in the order the tables show them; those that cannot
// be opened are left out. Joined encoders ("a+b", image or text) concatenate their parts'
// unit vectors.
var (
	TwoTowerImages = []string{"inception-mixed5", "inception-mixed5+centernet-pool", "inception-mixed5+centernet-pool+centernet-classes",
		"inception-mixed5+centernet-pool+centernet-counts"}
	TwoTowerTexts = []string{"glove-mean", "use", "use+glove-mean"}
)

// RankStats are the retrieval metrics of one variant over a set of queries.
type RankStats = metrics.Retrieval

// Spread is a metric's mean and standard deviation over seeds.
type Spread struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

// RankSpread is RankStats as mean ± sd over seeds.
type RankSpread struct {
	Queries int    `json:"queries"`
	Seeds   int    `json:"seeds"`
	R1      Spread `json:"recall_at_1"`
	R5      Spread `json:"recall_at_5"`
	R10     Spread `json:"recall_at_10"`
	MRR     Spread `json:"mrr"`
}

// EncoderTrial is one pair of encoders for the two-tower, trained without the validation
// photos and ranked on them (allowed queries: what the search answers).
type EncoderTrial struct {
	Image   string    `json:"image"`
	Text    string    `json:"text"`
	Allowed RankStats `json:"allowed"`
}

// RunoffTrial is one of the two best encoder trials trained with every validation seed:
// its one model's metrics, mean ± sd over the seeds (and seed by seed).
type RunoffTrial struct {
	Image   string      `json:"image"`
	Text    string      `json:"text"`
	Single  RankSpread  `json:"single"`
	PerSeed []RankStats `json:"single_per_seed"`
}

// VariantResult is one search variant on a set of queries: over those the content filter
// lets through (allowed: the search's own answers) and over all of them, blocked ones ranked
// as if allowed (search.Searcher.RankUnfiltered: the models' quality on every query, as
// EVALUATION.md's references are measured).
type VariantResult struct {
	Variant string    `json:"variant"`
	Allowed RankStats `json:"allowed"`
	All     RankStats `json:"all"`
	// ExpertTauC is the out-of-fold Kendall τ-c × 100 (Flickr8K-Expert protocol) of the
	// variant's pair score, where it has one.
	ExpertTauC *float64 `json:"expert_tau_c,omitempty"`
	// LabelWeight is the weight of the zero-shot label score the variant blends (the best
	// of LabelWeights on validation), 0 for the others.
	LabelWeight float64 `json:"label_weight,omitempty"`
}

// EnsembleTrial compares, on the validation queries the filter allows, the two-tower
// variant scored by one model (each of the chosen encoders' validation seeds alone: mean ±
// sd over them) with the mean cosine of all of them (sd: jackknife, leave one seed out).
type EnsembleTrial struct {
	Single   RankSpread  `json:"single"`
	Ensemble RankSpread  `json:"ensemble"`
	PerSeed  []RankStats `json:"single_per_seed"`
}

// LabelWeights are the weights of the zero-shot label score tried on validation for the
// two-tower+labels variant.
var LabelWeights = []float64{0.25, 0.5, 1, 2}

// HubnessScales are the β of the two-tower's hubness correction tried on validation
// (search.HubnessOffsets; 0: plain cosines).
var HubnessScales = []float64{0, 10, 20, 30, 50}

// HubnessTrial is the two-tower variant on the validation queries with one β of the
// hubness correction.
type HubnessTrial struct {
	Scale   float64   `json:"scale"`
	Allowed RankStats `json:"allowed"`
	All     RankStats `json:"all"`
}

// RetrievalReport is what notebook 04 shows and the search uses.
type RetrievalReport struct {
	// Validation: ValidPhotos of the seed split's validation photos and their Flickr8k
	// captions; every choice below is made there.
	ValidPhotos  int            `json:"valid_photos"`
	ValidQueries int            `json:"valid_queries"`
	Trials       []EncoderTrial `json:"encoder_trials"`
	// Runoff holds the two best Trials trained with every seed (empty with one seed or one
	// trial): the higher mean MRR of one model chose Encoders.
	Runoff    []RunoffTrial      `json:"encoder_runoff,omitempty"`
	Encoders  [2]string          `json:"encoders"` // chosen two-tower image, text
	Settings  retrieval.Settings `json:"settings"`
	Curve     []retrieval.Epoch  `json:"curve"`
	CurveBest int                `json:"curve_best_epoch"`
	// ValidSeeds are the chosen encoders' validation two-towers, seed by seed (the first
	// is the trial's); EnsembleValid compares one of them with their ensemble (nil with one
	// seed), and Ensemble is the choice, made there once, before the variants: the search's
	// two-tower score is the mean cosine of every seed's model (search.Config.TwoTowerDirs)
	// when the ensemble's MRR beats one model's mean MRR.
	ValidSeeds    []string       `json:"valid_two_tower_seeds"`
	EnsembleValid *EnsembleTrial `json:"ensemble_validation,omitempty"`
	Ensemble      bool           `json:"ensemble"`
	// HubnessTrials try each of HubnessScales on the two-tower variant (with the ensemble
	// when chosen); HubnessScale is the best, used by every variant after it.
	HubnessTrials []HubnessTrial  `json:"hubness_trials"`
	HubnessScale  float64         `json:"hubness_scale"`
	Validation    []VariantResult `json:"validation_variants"`
	Default       string          `json:"default"`
	LabelWeight   float64         `json:"label_weight"`      // chosen on validation (two-tower+labels)
	Skipped       []string        `json:"skipped,omitempty"` // variants that could not run here, and why
	ChosenOn      string          `json:"chosen_on"`
	MLPDir        string          `json:"mlp_dir"`
	MLPEncoders   [2]string       `json:"mlp_encoders"`
	TwoTowerDir   string          `json:"two_tower_dir"`
	TwoTowerSeeds []string        `json:"two_tower_seeds"` // the final models' folders, seed by seed

	// Test: the final evaluation, once, of the chosen variant through search.Searcher on
	// the 100 test photos and 500 test queries: for every seed of the final two-tower alone
	// and, when Ensemble, for their ensemble (the search's configuration).
	Test        TestResult `json:"test"`
	OOFTwoTower []float32  `json:"oof_two_tower"`
	OOFBlend    []float32  `json:"oof_blend"`
	// Out-of-fold correlations on the expert pairs (the two-tower, and its blend with the
	// best MLP's out-of-fold predictions).
	TwoTowerCorr evaluate.Correlation `json:"two_tower_correlation"`
	BlendCorr    evaluate.Correlation `json:"blend_correlation"`
}

// TestResult is the final evaluation on the test queries.
type TestResult struct {
	Variant string `json:"variant"`
	// Allowed and All: each final seed's two-tower alone, mean ± sd over the seeds.
	Allowed RankSpread  `json:"allowed"`
	All     RankSpread  `json:"all"`
	PerSeed []RankStats `json:"allowed_per_seed"`
	// Ensemble is the ensemble of every final seed, when validation chose it (nil
	// otherwise): the search's own configuration.
	Ensemble *EnsembleTest `json:"ensemble,omitempty"`
	// Ranks and Blocked are per test query, of the chosen configuration (the ensemble's
	// when chosen, else seed 0's model; blocked ones ranked as if allowed; rank 0: hidden
	// by the guard). They go to results/test_ranks.csv, not to metrics.json.
	Ranks   []int  `json:"ranks,omitempty"`
	Blocked []bool `json:"blocked,omitempty"`
}

// EnsembleTest is an ensemble's test result: its metrics (Mean) with their jackknife
// standard deviation over the seeds (SD: the spread of the ensembles that leave one seed
// out).
type EnsembleTest struct {
	Allowed RankSpread `json:"allowed"`
	All     RankSpread `json:"all"`
}

// ChosenOnRetrieval says what the search's choices are made on.
const ChosenOnRetrieval = "validation: the Flickr8k captions of held-out training photos (from the seed split's validation side) ranked among those photos by search.Searcher; best MRR over the queries the filter allows"

// Retrieval chooses the two-tower's encoders, whether the search averages the cosines of
// its Config.TwoTowerSeeds seeds (an ensemble), and the search's default variant on validation
// photos, trains the final two-tower (Config.TwoTowerSeeds seeds, saved under models/retrieval/),
// evaluates the choice once on the test queries through the search itself, and computes
// the out-of-fold correlations. models must come from Models (its
// best MLP is the reranker and the blend's partner). Cached like Models.
func Retrieval(in *Inputs, models *ModelsReport) (*RetrievalReport, error) {
	mk, err := key(in, "models", []string{"models.go"}, []string{"lib/evaluate"})
	if err != nil {
		return nil, err
	}
	k, err := key(in, "retrieval", []string{"retrieval.go"}, []string{"lib/retrieval", "lib/search"}, mk)
	if err != nil {
		return nil, err
	}
	r, err := cached("retrieval", k, func() (*RetrievalReport, error) { return runRetrieval(in, models) })
	if err != nil {
		return nil, err
	}
	for _, dir := range r.SearchTwoTowers() {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("two-tower model missing (%v): delete %s to retrain", err, filepath.Join("data", "cache", "study"))
		}
	}
	return r, nil
}

// SearchTwoTowers are the final two-tower models the search scores with: every seed's
// when validation chose the ensemble, else the first seed's.
func (r *RetrievalReport) SearchTwoTowers() []string {
	if r.Ensemble {
		return r.TwoTowerSeeds
	}
	return []string{r.TwoTowerDir}
}

// twoTowerSettings are the two-tower defaults with the run's "twotower" settings.
func twoTowerSettings(a settings.Assignments) (retrieval.Settings, error) {
	s := retrieval.DefaultSettings()
	return s, settings.Apply(&s, "twotower", a)
}

// ValidationPhotos returns n photos of the seed split's validation side (which the MLP never
// trained on), drawn with the project seed, sorted.
func ValidationPhotos(samples []dataset.Sample, n int) ([]string, error) {
	split, err := evaluate.SeedSplit(samples)
	if err != nil {
		return nil, err
	}
	var photos []string
	seen := map[string]bool{}
	for _, i := range split.Valid {
		if p := samples[i].Image; !seen[p] {
			seen[p] = true
			photos = append(photos, p)
		}
	}
	slices.Sort(photos)
	if len(photos) < n {
		return nil, fmt.Errorf("%d validation photos wanted, the seed split has %d", n, len(photos))
	}
	rng := rand.New(rand.NewPCG(project.Seed, 0))
	rng.Shuffle(len(photos), func(i, j int) { photos[i], photos[j] = photos[j], photos[i] })
	photos = photos[:n]
	slices.Sort(photos)
	return photos, nil
}

// query is one retrieval query: a text and the path of its one relevant photo.
type query struct{ text, photo string }

func runRetrieval(in *Inputs, models *ModelsReport) (*RetrievalReport, error) {
	c := in.Course
	s, err := twoTowerSettings(in.Run.Set)
	if err != nil {
		return nil, err
	}
	pairs, err := retrieval.TrainingPairs(c)
	if err != nil {
		return nil, err
	}
	validPhotos, err := ValidationPhotos(in.Samples, in.Run.Config.RetrievalValidPhotos)
	if err != nil {
		return nil, err
	}
	isValid := map[string]bool{}
	for _, p := range validPhotos {
		isValid[p] = true
	}
	notValid := map[string]bool{}
	for _, p := range pairs.Photos {
		notValid[p] = !isValid[p]
	}
	trainPairs, validPairs := pairs.Without(isValid), pairs.Without(notValid)
	var validQ []query
	for i, t := range validPairs.Texts {
		validQ = append(validQ, query{t, c.TrainPath(validPairs.Photos[validPairs.ImageOfText[i]])})
	}
	validPaths := make([]string, len(validPhotos))
	for i, p := range validPhotos {
		validPaths[i] = c.TrainPath(p)
	}
	r := &RetrievalReport{ValidPhotos: len(validPhotos), ValidQueries: len(validQ), Settings: s, ChosenOn: ChosenOnRetrieval,
		MLPDir: models.BestMLPDir, MLPEncoders: [2]string{models.BestMLP.Text, models.BestMLP.Image}}

	// 1. The encoders: every available pair trained without the validation photos.
	texts := retrievalTexts(in, pairs)
	type trial struct {
		img, txt *features.Table
		model    *retrieval.Model
	}
	// Each encoder's table once (unavailable encoders are left out: notebook 02 says why).
	txts, _, errT := features.Tables(in.Run.Config.TwoTowerTexts, func(n string) (*features.Table, error) { return features.TextTable(n, texts) })
	imgs, _, errI := features.Tables(in.Run.Config.TwoTowerImages, func(n string) (*features.Table, error) { return features.ImageTable(n, c.AllPhotos()) })
	var trials []*trial
	if errT == nil && errI == nil {
		for _, txt := range txts {
			for _, img := range imgs {
				trials = append(trials, &trial{img: img, txt: txt})
			}
		}
	}
	if len(trials) == 0 {
		return nil, fmt.Errorf("no two-tower encoders available (image %v, text %v)", in.Run.Config.TwoTowerImages, in.Run.Config.TwoTowerTexts)
	}
	bar := progress.New("two-tower encoders on validation", len(trials))
	err = parallel(len(trials), func(i int) error {
		t := trials[i]
		m, err := retrieval.TrainOn(trainPairs, t.img, t.txt, s)
		if err != nil {
			return err
		}
		m.Name = "valid-" + m.Name
		t.model = m
		bar.Add(1)
		return m.Save("")
	})
	bar.Done()
	if err != nil {
		return nil, err
	}
	for _, t := range trials {
		cfg := searchConfig(search.VariantTwoTower, []string{retrieval.Dir(t.model.Name)}, r)
		vr, err := evaluateVariant(cfg, search.VariantTwoTower, validPaths, validQ)
		if err != nil {
			return nil, err
		}
		r.Trials = append(r.Trials, EncoderTrial{Image: t.img.Encoder, Text: t.txt.Encoder, Allowed: vr.Allowed})
	}
	// The two best trials (by MRR, the first listed on ties) go to the runoff.
	order := make([]int, len(trials))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(r.Trials[b].Allowed.MRR, r.Trials[a].Allowed.MRR) })
	seeds := in.Run.Config.TwoTowerSeeds
	finalists := order[:1]
	if seeds > 1 && len(order) > 1 {
		finalists = order[:2]
	}

	// 2. The runoff and the ensemble of the seeds: each finalist's validation two-tower
	// with every seed (the trial's is the first). One seed cannot tell close encoders
	// apart, so the finalist whose one model has the higher mean MRR over the seeds wins;
	// then its one model against the mean of its seeds' cosines.
	seedDirs := make([][]string, len(finalists))
	for f, ti := range finalists {
		seedDirs[f] = make([]string, seeds)
		seedDirs[f][0] = retrieval.Dir(trials[ti].model.Name)
	}
	winner := 0
	if seeds > 1 {
		bar = progress.New("two-tower validation seeds", len(finalists)*(seeds-1))
		err = parallel(len(finalists)*(seeds-1), func(j int) error {
			f, i := j/(seeds-1), j%(seeds-1)
			t := trials[finalists[f]]
			si := s
			si.Seed = evaluate.Seed(i + 1)
			m, err := retrieval.TrainOn(trainPairs, t.img, t.txt, si)
			if err != nil {
				return err
			}
			m.Name = fmt.Sprintf("valid-%s-seed%d", m.Name, si.Seed)
			seedDirs[f][i+1] = retrieval.Dir(m.Name)
			bar.Add(1)
			return m.Save("")
		})
		bar.Done()
		if err != nil {
			return nil, err
		}
		// Each set of models is evaluated once: the winner's seeds alone are the runoff's
		// and the ensemble comparison's.
		evaluated := map[string]VariantResult{}
		eval := func(dirs []string) (VariantResult, error) {
			key := strings.Join(dirs, "\x00")
			if vr, ok := evaluated[key]; ok {
				return vr, nil
			}
			vr, err := evaluateVariant(searchConfig(search.VariantTwoTower, dirs, r), search.VariantTwoTower, validPaths, validQ)
			if err == nil {
				evaluated[key] = vr
			}
			return vr, err
		}
		if len(finalists) > 1 {
			for f, ti := range finalists {
				per := make([]RankStats, seeds)
				for i, dir := range seedDirs[f] {
					vr, err := eval([]string{dir})
					if err != nil {
						return nil, err
					}
					per[i] = vr.Allowed
				}
				r.Runoff = append(r.Runoff, RunoffTrial{Image: trials[ti].img.Encoder, Text: trials[ti].txt.Encoder, Single: spread(per), PerSeed: per})
				if r.Runoff[f].Single.MRR.Mean > r.Runoff[winner].Single.MRR.Mean {
					winner = f
				}
			}
		}
		singles, ens, _, err := ensembleStats(seedDirs[winner], eval)
		if err != nil {
			return nil, err
		}
		single := make([]RankStats, len(singles))
		for i, v := range singles {
			single[i] = v.Allowed
		}
		r.EnsembleValid = &EnsembleTrial{Single: spread(single), Ensemble: ens, PerSeed: single}
		r.Ensemble = ens.MRR.Mean > r.EnsembleValid.Single.MRR.Mean
	}
	best := trials[finalists[winner]]
	r.ValidSeeds = seedDirs[winner]
	r.Encoders = [2]string{best.img.Encoder, best.txt.Encoder}
	r.Curve, r.CurveBest = best.model.History, best.model.BestEpoch
	twoTowers := r.ValidSeeds[:1]
	if r.Ensemble {
		twoTowers = r.ValidSeeds
	}

	// 3. The hubness correction's β, on the two-tower variant.
	bestMRR := -1.0
	for _, b := range HubnessScales {
		r.HubnessScale = b
		vr, err := evaluateVariant(searchConfig(search.VariantTwoTower, twoTowers, r), search.VariantTwoTower, validPaths, validQ)
		if err != nil {
			return nil, err
		}
		r.HubnessTrials = append(r.HubnessTrials, HubnessTrial{Scale: b, Allowed: vr.Allowed, All: vr.All})
		if vr.Allowed.MRR > bestMRR {
			bestMRR = vr.Allowed.MRR
		}
	}
	for _, t := range r.HubnessTrials {
		if t.Allowed.MRR == bestMRR {
			r.HubnessScale = t.Scale
			break
		}
	}

	// 4. The default variant (and the label score's weight), on the same validation queries.
	bestMRR = -1
	for _, v := range search.Variants {
		weights := []float64{0}
		if v == search.VariantLabels {
			weights = LabelWeights
		}
		var vbest VariantResult
		for _, w := range weights {
			r.LabelWeight = w
			vr, err := evaluateVariant(searchConfig(v, twoTowers, r), v, validPaths, validQ)
			if err != nil {
				if v == search.VariantLabels {
					// Needs use and CenterNet: without them the variant is left out, and says why.
					r.Skipped = append(r.Skipped, fmt.Sprintf("%s: %v", v, project.Relative(err.Error())))
					break
				}
				return nil, err
			}
			vr.LabelWeight = w
			if vbest.Variant == "" || vr.Allowed.MRR > vbest.Allowed.MRR {
				vbest = vr
			}
		}
		if vbest.Variant == "" {
			continue
		}
		r.Validation = append(r.Validation, vbest)
		if vbest.Allowed.MRR > bestMRR {
			r.Default, bestMRR = v, vbest.Allowed.MRR
		}
	}
	r.LabelWeight = 0
	for _, v := range r.Validation {
		if v.Variant == search.VariantLabels {
			r.LabelWeight = v.LabelWeight
		}
	}

	// 5. The final two-tower on every training photo, one model per seed.
	finals := make([]*retrieval.Model, seeds)
	bar = progress.New("two-tower, final seeds", seeds)
	err = parallel(seeds, func(i int) error {
		si := s
		si.Seed = evaluate.Seed(i)
		m, err := retrieval.TrainOn(pairs, best.img, best.txt, si)
		if err != nil {
			return err
		}
		if i > 0 {
			m.Name = fmt.Sprintf("%s-seed%d", m.Name, si.Seed)
		}
		finals[i] = m
		bar.Add(1)
		return m.Save("")
	})
	bar.Done()
	if err != nil {
		return nil, err
	}
	for _, m := range finals {
		r.TwoTowerSeeds = append(r.TwoTowerSeeds, retrieval.Dir(m.Name))
	}
	r.TwoTowerDir = r.TwoTowerSeeds[0]

	// 6. The test queries, once, through the search, for every seed (and their ensemble).
	if err := finalTest(r, c); err != nil {
		return nil, err
	}

	// 7. Out-of-fold pair scores on the expert pairs: two-tower cosine, and its blend with
	// the best MLP's out-of-fold predictions.
	bar = progress.New("two-tower out of fold", 1) // the folds' own bars stay silent
	r.OOFTwoTower, err = retrieval.OutOfFold(in.Samples, pairs, best.img, best.txt, s)
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
	for i := range r.Validation {
		switch r.Validation[i].Variant {
		case search.VariantTwoTower:
			r.Validation[i].ExpertTauC = &r.TwoTowerCorr.ExpertTauC
		case search.VariantBlend:
			r.Validation[i].ExpertTauC = &r.BlendCorr.ExpertTauC
		case search.VariantMLP:
			for _, mc := range models.Correlation {
				if mc.Model == models.BestMLP.Model && mc.Undefined == "" {
					tau := mc.ExpertTauC
					r.Validation[i].ExpertTauC = &tau
				}
			}
		}
	}
	return r, nil
}

// retrievalTexts are the texts the two-tower's text tables must hold: the training
// captions, the samples' captions and the test queries.
func retrievalTexts(in *Inputs, pairs *retrieval.Pairs) []string {
	texts := slices.Clone(pairs.Texts)
	for _, s := range in.Samples {
		texts = append(texts, s.Text)
	}
	for _, q := range in.Course.TestQueries {
		texts = append(texts, q.Text)
	}
	return texts
}

// searchConfig is the search's configuration with a two-tower model (several: their
// ensemble) and r's MLP.
func searchConfig(variant string, twoTowers []string, r *RetrievalReport) search.Config {
	c := search.Config{Default: variant, TwoTowerDir: twoTowers[0], MLPDir: r.MLPDir, MLPEncoders: r.MLPEncoders,
		RerankDepth: search.RerankDepth, LabelWeight: r.LabelWeight, HubnessScale: r.HubnessScale}
	if len(twoTowers) > 1 {
		c.TwoTowerDirs = twoTowers
	}
	return c
}

// ensembleStats evaluates each of dirs' two-towers alone, the ensembles that leave one of
// them out, and their ensemble (at least two models): it returns the single models'
// results, and the ensemble's stats over the allowed and over all queries, with their
// jackknife standard deviations.
func ensembleStats(dirs []string, eval func(dirs []string) (VariantResult, error)) (single []VariantResult, allowed, all RankSpread, err error) {
	single = make([]VariantResult, len(dirs))
	looAllowed, looAll := make([]RankStats, len(dirs)), make([]RankStats, len(dirs))
	for i, dir := range dirs {
		one, err := eval([]string{dir})
		if err != nil {
			return nil, allowed, all, err
		}
		loo, err := eval(slices.Delete(slices.Clone(dirs), i, i+1))
		if err != nil {
			return nil, allowed, all, err
		}
		single[i], looAllowed[i], looAll[i] = one, loo.Allowed, loo.All
	}
	full, err := eval(dirs)
	if err != nil {
		return nil, allowed, all, err
	}
	return single, jackknife(full.Allowed, looAllowed), jackknife(full.All, looAll), nil
}

// evaluateVariant ranks each query's photo among paths with the search itself.
func evaluateVariant(cfg search.Config, variant string, paths []string, queries []query) (VariantResult, error) {
	ranks, blocked, err := searchRanks(cfg, variant, paths, queries)
	if err != nil {
		return VariantResult{}, err
	}
	v := VariantResult{Variant: variant}
	if v.Allowed, err = stats(ranks, blocked, false); err != nil {
		return v, err
	}
	v.All, err = stats(ranks, blocked, true)
	return v, err
}

// searchRanks opens the search over paths and returns each query's rank of its photo as
// search.Searcher.Rank gives it (0: hidden by the guard; a blocked query ranked as if
// allowed, RankUnfiltered), and whether the filter blocks it.
func searchRanks(cfg search.Config, variant string, paths []string, queries []query) ([]int, []bool, error) {
	s, err := search.OpenPhotos(cfg, paths, variant)
	if err != nil {
		return nil, nil, err
	}
	ranks, blocked := make([]int, len(queries)), make([]bool, len(queries))
	for i, q := range queries {
		if ranks[i], blocked[i], err = s.RankUnfiltered(q.text, q.photo); err != nil {
			return nil, nil, fmt.Errorf("query %q: %w", q.text, err)
		}
	}
	return ranks, blocked, nil
}

// finalTest evaluates the default variant on the test queries with every final seed's
// two-tower alone and, when validation chose it, with their ensemble (and the ensembles
// that leave one seed out, for its jackknife spread).
func finalTest(r *RetrievalReport, c *dataset.Course) error {
	paths := make([]string, len(c.TestImages))
	for i, p := range c.TestImages {
		paths[i] = c.TestPath(p)
	}
	queries := make([]query, len(c.TestQueries))
	for i, q := range c.TestQueries {
		queries[i] = query{q.Text, c.TestPath(q.Image)}
	}
	t := TestResult{Variant: r.Default}
	n := len(r.TwoTowerSeeds)
	runs := n
	if r.Ensemble {
		runs += 1 + n // the ensemble, and those that leave one seed out
	}
	bar := progress.New("test queries (final evaluation)", runs)
	defer bar.Done()
	// eval ranks the test queries with the two-towers dirs (allowed and all queries); the
	// ranks of the search's own configuration go to results/test_ranks.csv.
	eval := func(dirs []string) (VariantResult, error) {
		ranks, blocked, err := searchRanks(searchConfig(r.Default, dirs, r), r.Default, paths, queries)
		if err != nil {
			return VariantResult{}, err
		}
		if slices.Equal(dirs, r.SearchTwoTowers()) {
			t.Ranks, t.Blocked = ranks, blocked
		}
		v := VariantResult{Variant: r.Default}
		if v.Allowed, err = stats(ranks, blocked, false); err != nil {
			return v, err
		}
		v.All, _ = stats(ranks, blocked, true)
		bar.Add(1)
		return v, nil
	}
	var singles []VariantResult
	if r.Ensemble {
		var ens EnsembleTest
		var err error
		if singles, ens.Allowed, ens.All, err = ensembleStats(r.TwoTowerSeeds, eval); err != nil {
			return err
		}
		t.Ensemble = &ens
	} else {
		for _, dir := range r.TwoTowerSeeds {
			v, err := eval([]string{dir})
			if err != nil {
				return err
			}
			singles = append(singles, v)
		}
	}
	var allowed, all []RankStats
	for _, v := range singles {
		allowed, all = append(allowed, v.Allowed), append(all, v.All)
	}
	t.PerSeed = allowed
	t.Allowed, t.All = spread(allowed), spread(all)
	r.Test = t
	return nil
}

// jackknife is an ensemble's stats (full) with the jackknife standard deviation of each
// metric over its members, from the ensembles that leave one member out (loo), as
// evaluate.EnsembleMAE gives the MLP ensemble's MAE.
func jackknife(full RankStats, loo []RankStats) RankSpread {
	pick := func(f func(RankStats) float64) Spread {
		v := make([]float64, len(loo))
		for i, s := range loo {
			v[i] = f(s)
		}
		return Spread{f(full), evaluate.JackknifeSD(v)}
	}
	return RankSpread{Queries: full.Queries, Seeds: len(loo),
		R1:  pick(func(s RankStats) float64 { return s.R1 }),
		R5:  pick(func(s RankStats) float64 { return s.R5 }),
		R10: pick(func(s RankStats) float64 { return s.R10 }),
		MRR: pick(func(s RankStats) float64 { return s.MRR })}
}

// spread summarises per-seed stats as mean ± sd.
func spread(per []RankStats) RankSpread {
	pick := func(f func(RankStats) float64) Spread {
		v := make([]float64, len(per))
		for i, s := range per {
			v[i] = f(s)
		}
		m, sd := evaluate.MeanSD(v)
		return Spread{m, sd}
	}
	return RankSpread{Queries: per[0].Queries, Seeds: len(per),
		R1:  pick(func(s RankStats) float64 { return s.R1 }),
		R5:  pick(func(s RankStats) float64 { return s.R5 }),
		R10: pick(func(s RankStats) float64 { return s.R10 }),
		MRR: pick(func(s RankStats) float64 { return s.MRR })}
}

// stats summarises ranks (0: not returned, a miss). Without all, blocked queries are left
// out.
func stats(ranks []int, blocked []bool, all bool) (RankStats, error) {
	const miss = 1 << 30 // a query whose photo is not returned ranks below every k
	var kept []int
	for i, r := range ranks {
		if !blocked[i] || all {
			if r == 0 {
				r = miss
			}
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return RankStats{}, nil
	}
	return metrics.Summarize(kept)
}

// parallel runs f(0..n-1), one per core at a time, and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
