package search

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/retrieval"
)

// hashText is a text encoder for tests: a text's vector is drawn from the hash of its
// words (equal texts, equal vectors).
type hashText struct{ dim int }

func (h hashText) Name() string    { return "hash-text" }
func (h hashText) Dim() int        { return h.dim }
func (h hashText) Weights() string { return "none" }
func (h hashText) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		f := fnv.New64a()
		f.Write([]byte(t))
		rng := rand.New(rand.NewPCG(f.Sum64(), 1))
		out[i] = make([]float32, h.dim)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out, nil
}

// tinyTwoTowers trains n small two-tower models (seeds 1..n) on random features and saves
// them under t's temporary folder, the image encoder named "rand-image" and the text
// encoder as given; it returns their folders and the index they score.
func tinyTwoTowers(t *testing.T, n int, textEncoder string) ([]string, *Index) {
	t.Helper()
	const photos, perPhoto, imgDim = 24, 2, 12
	enc := hashText{dim: 10}
	rng := rand.New(rand.NewPCG(7, 7))
	ix := &Index{Vecs: map[string][][]float32{}}
	var imgFeats, textFeats [][]float32
	var imageOfText []int
	for p := range photos {
		v := make([]float32, imgDim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		v, _ = features.Normalize(v)
		imgFeats = append(imgFeats, v)
		ix.Paths = append(ix.Paths, filepath.Join("photos", string(rune('a'+p))+".jpg"))
		for c := range perPhoto {
			e, _ := enc.Embed([]string{string(rune('a'+p)) + " caption " + string(rune('0'+c))})
			e[0], _ = features.Normalize(e[0])
			textFeats = append(textFeats, e[0])
			imageOfText = append(imageOfText, p)
		}
	}
	ix.Vecs["rand-image"] = imgFeats
	s := retrieval.DefaultSettings()
	s.Dim, s.ImageHidden, s.TextHidden, s.Epochs, s.BatchSize, s.ValidFraction = 8, 16, 16, 2, 16, 0.25
	var dirs []string
	for i := range n {
		s.Seed = uint64(i + 1)
		m, err := retrieval.Train(imgFeats, textFeats, imageOfText, s)
		if err != nil {
			t.Fatal(err)
		}
		m.ImageEncoder, m.TextEncoder, m.Name = "rand-image", textEncoder, "tiny"
		dir := filepath.Join(t.TempDir(), "tt")
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	return dirs, ix
}

// TestTwoTowerEnsemble: the ensemble's score of every photo is the mean of its models'
// cosines (within float tolerance), one folder scores exactly as the model's own cosine,
// and models that take other encoders are refused, naming both folders.
func TestTwoTowerEnsemble(t *testing.T) {
	dirs, ix := tinyTwoTowers(t, 3, "hash-text")
	texts := textOpener{"hash-text": hashText{dim: 10}}
	queries := []string{"b caption 0", "a dog on the beach", "x"}

	// One model: the cosine of the normalised projections, as computed by hand.
	m, err := retrieval.Load(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	single := make([][][]float32, len(dirs)) // model → query → photo scores
	for k, dir := range dirs {
		sc, err := twoTowerScorer(Config{TwoTowerDir: dir}, ix, texts)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sc.Name(), "×") {
			t.Errorf("one model labelled %q", sc.Name())
		}
		for _, q := range queries {
			got, err := sc.Score(q)
			if err != nil {
				t.Fatal(err)
			}
			single[k] = append(single[k], got)
		}
	}
	proj, err := m.ProjectImages(ix.Vecs["rand-image"])
	if err != nil {
		t.Fatal(err)
	}
	for i := range proj {
		proj[i], _ = features.Normalize(proj[i])
	}
	for qi, q := range queries {
		e, _ := hashText{dim: 10}.Embed([]string{q})
		e[0], _ = features.Normalize(e[0])
		tp, err := m.ProjectText(e)
		if err != nil {
			t.Fatal(err)
		}
		tq, _ := features.Normalize(tp[0])
		for i, p := range proj {
			if want := dot32(p, tq); math.Abs(float64(single[0][qi][i]-want)) > 1e-6 {
				t.Fatalf("one model, query %q, photo %d: %v, want %v (within float rounding)", q, i, single[0][qi][i], want)
			}
		}
	}

	// The ensemble: the mean of the single models' cosines.
	cfg := Config{TwoTowerDir: dirs[0], TwoTowerDirs: dirs}
	ens, err := twoTowerScorer(cfg, ix, texts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ens.Name(), "two-tower ×3 (rand-image + hash-text)") {
		t.Errorf("ensemble labelled %q", ens.Name())
	}
	worst, spread := 0.0, 0.0
	for qi, q := range queries {
		got, err := ens.Score(q)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			var mean float64
			for k := range dirs {
				mean += float64(single[k][qi][i]) / float64(len(dirs))
				spread = max(spread, math.Abs(float64(single[k][qi][i]-single[0][qi][i])))
			}
			worst = max(worst, math.Abs(float64(got[i])-mean))
		}
	}
	if worst > 1e-5 {
		t.Errorf("ensemble score differs from the mean of the models' cosines by up to %g, want ≤ 1e-5", worst)
	}
	if spread < 1e-3 {
		t.Errorf("the seeds' models score alike (largest difference %g): the test does not tell an ensemble from one model", spread)
	}

	// Models with other encoders are not averaged.
	other, _ := tinyTwoTowers(t, 1, "other-text")
	_, err = twoTowerScorer(Config{TwoTowerDir: dirs[0], TwoTowerDirs: []string{dirs[0], other[0]}}, ix, texts)
	if err == nil || !strings.Contains(err.Error(), other[0]) || !strings.Contains(err.Error(), dirs[0]) || !strings.Contains(err.Error(), "same encoders") {
		t.Errorf("mismatched encoders: %v, want an error naming both folders", err)
	}
}

// TestTwoTowerHubness: each model keeps its training captions' projections (its bank,
// saved with it), and the hubness-corrected score of an ensemble is, photo by photo, the
// mean cosine less (1/β)·log Σ exp(β · mean cosine with each bank caption), computed here
// by hand from the single models; Score and ScorePart agree.
func TestTwoTowerHubness(t *testing.T) {
	dirs, ix := tinyTwoTowers(t, 2, "hash-text")
	texts := textOpener{"hash-text": hashText{dim: 10}}
	const beta = 20
	var banks, imgs [][][]float32
	for _, dir := range dirs {
		m, err := retrieval.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		bank, err := m.Bank()
		if err != nil {
			t.Fatal(err)
		}
		// The bank is the model's projection of its 48 training captions, in order.
		var caps [][]float32
		for p := range 24 {
			for c := range 2 {
				e, _ := hashText{dim: 10}.Embed([]string{string(rune('a'+p)) + " caption " + string(rune('0'+c))})
				e[0], _ = features.Normalize(e[0])
				caps = append(caps, e[0])
			}
		}
		want, err := m.ProjectText(caps)
		if err != nil {
			t.Fatal(err)
		}
		if len(bank) != len(want) {
			t.Fatalf("%s: bank of %d captions, want %d", dir, len(bank), len(want))
		}
		for i := range bank {
			for j := range bank[i] {
				if math.Abs(float64(bank[i][j]-want[i][j])) > 1e-6 {
					t.Fatalf("%s: bank row %d differs from the caption's projection", dir, i)
				}
			}
		}
		banks = append(banks, bank)
		img, err := m.ProjectImages(ix.Vecs["rand-image"])
		if err != nil {
			t.Fatal(err)
		}
		for i := range img {
			img[i], _ = features.Normalize(img[i])
		}
		imgs = append(imgs, img)
	}
	plain, err := twoTowerScorer(Config{TwoTowerDir: dirs[0], TwoTowerDirs: dirs}, ix, texts)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := twoTowerScorer(Config{TwoTowerDir: dirs[0], TwoTowerDirs: dirs, HubnessScale: beta}, ix, texts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sc.Name(), "hubness-corrected (β 20)") {
		t.Errorf("scorer labelled %q", sc.Name())
	}
	const q = "c caption 1"
	got, err := sc.Score(q)
	if err != nil {
		t.Fatal(err)
	}
	base, err := plain.Score(q)
	if err != nil {
		t.Fatal(err)
	}
	part, err := sc.(PartScorer).ScorePart([]string{q}, []int{3, 0, 7})
	if err != nil {
		t.Fatal(err)
	}
	for p := range got {
		// (1/β)·log Σ_q exp(β·mean cosine), in float64.
		var z float64
		for c := range banks[0] {
			var cos float64
			for k := range banks {
				cos += float64(dot32(banks[k][c], imgs[k][p])) / float64(len(banks))
			}
			z += math.Exp(beta * cos)
		}
		off := math.Log(z) / beta
		if want := float64(base[p]) - off; math.Abs(float64(got[p])-want) > 1e-5 {
			t.Errorf("photo %d: corrected score %v, want cosine %v − offset %v = %v", p, got[p], base[p], off, want)
		}
	}
	for i, p := range []int{3, 0, 7} {
		if math.Abs(float64(part[0][i]-got[p])) > 1e-5 {
			t.Errorf("ScorePart photo %d: %v, Score %v", p, part[0][i], got[p])
		}
	}
}
