package search

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/textenc"
)

// Open builds the search over an index with the trained models of the saved
// configuration (LoadConfig) and a variant ("" for the configuration's default).
func Open(ix *Index, variant string) (*Searcher, error) {
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	return OpenWith(cfg, ix, variant)
}

// OpenPhotos embeds the photos (through the embedding cache) with the encoders cfg needs
// and opens the search over them: the way to search a given list of photos.
func OpenPhotos(cfg Config, paths []string, variant string) (*Searcher, error) {
	encoders, err := cfg.imageEncoders(cmp.Or(variant, cfg.Default))
	if err != nil {
		return nil, err
	}
	ix, err := Build(paths, encoders)
	if err != nil {
		return nil, err
	}
	return OpenWith(cfg, ix, variant)
}

// OpenWith builds the search over an index with cfg's models and a variant ("" for
// cfg.Default).
func OpenWith(cfg Config, ix *Index, variant string) (*Searcher, error) {
	if variant == "" {
		variant = cfg.Default
	}
	scorer, err := NewScorer(cfg, ix, variant)
	if err != nil {
		return nil, err
	}
	return &Searcher{Paths: ix.Paths, IDs: ix.IDs, Hidden: ix.Hidden(), Scorer: scorer}, nil
}

// NewScorer builds a variant's scorer over an index.
func NewScorer(cfg Config, ix *Index, variant string) (Scorer, error) {
	if !knownVariant(variant) {
		return nil, fmt.Errorf("unknown search variant %q (want one of %v)", variant, Variants)
	}
	var tt, mlp Scorer
	var err error
	texts := textOpener{}
	if variant != VariantMLP {
		if tt, err = twoTowerScorer(cfg, ix, texts); err != nil {
			return nil, err
		}
	}
	if variant != VariantTwoTower && variant != VariantLabels {
		if mlp, err = mlpScorer(cfg, ix, texts); err != nil {
			return nil, err
		}
	}
	switch variant {
	case VariantMLP:
		return mlp, nil
	case VariantTwoTower:
		return tt, nil
	case VariantRerank:
		return &Rerank{First: tt, Second: mlp, Depth: cfg.RerankDepth}, nil
	case VariantLabels:
		labels, err := labelScorer(ix, texts)
		if err != nil {
			return nil, err
		}
		return &Blend{A: tt, B: labels, W: cfg.LabelWeight}, nil
	}
	return &Blend{A: tt, B: mlp}, nil
}

// twoTowerInfo reads the saved two-tower's info without loading its weights.
func twoTowerInfo(dir string) (retrieval.Info, error) {
	var info retrieval.Info
	path := filepath.Join(dir, retrieval.InfoFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return info, fmt.Errorf("two-tower model: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	if info.ImageEncoder == "" || info.TextEncoder == "" {
		return info, fmt.Errorf("%s: image_encoder and text_encoder must be set", path)
	}
	return info, nil
}

func indexVecs(ix *Index, encoder string) ([][]float32, error) {
	vecs, ok := ix.Vecs[encoder]
	if !ok {
		have := make([]string, 0, len(ix.Vecs))
		for k := range ix.Vecs {
			have = append(have, k)
		}
		return nil, fmt.Errorf("the index has no %s vectors (it has %v): index the photos again", encoder, have)
	}
	return vecs, nil
}

// twoTowerScorer is the cosine in the two-tower's shared space, or, with several models
// (Config.TwoTowers: the same encoders, other seeds), the mean of their cosines: each
// photo's vector is the concatenation of every model's normalised projection divided by
// √n, and so is the query's, so that their dot product is the mean of the n cosines.
func twoTowerScorer(cfg Config, ix *Index, texts textOpener) (Scorer, error) {
	dirs := cfg.TwoTowers()
	models := make([]*retrieval.Model, len(dirs))
	for i, dir := range dirs {
		m, err := retrieval.Load(dir)
		if err != nil {
			return nil, err
		}
		if f := models[0]; f != nil && (m.ImageEncoder != f.ImageEncoder || m.TextEncoder != f.TextEncoder) {
			return nil, fmt.Errorf("two-tower ensemble: %s takes %s + %s but %s takes %s + %s: every model must take the same encoders",
				dir, m.ImageEncoder, m.TextEncoder, dirs[0], f.ImageEncoder, f.TextEncoder)
		}
		models[i] = m
	}
	m0 := models[0]
	text, err := texts.open(m0.TextEncoder)
	if err != nil {
		return nil, err
	}
	vecs, err := indexVecs(ix, m0.ImageEncoder)
	if err != nil {
		return nil, err
	}
	projs := make([][][]float32, len(models))
	for k, m := range models {
		proj, err := m.ProjectImages(vecs)
		if err != nil {
			return nil, err
		}
		for i := range proj {
			if proj[i], err = features.Normalize(proj[i]); err != nil {
				return nil, fmt.Errorf("%s: %w", ix.Paths[i], err)
			}
		}
		projs[k] = proj
	}
	if len(models) == 1 {
		c := &CosineScorer{Label: fmt.Sprintf("two-tower (%s + %s)", m0.ImageEncoder, m0.TextEncoder),
			Text: text, Images: projs[0], Project: batchedProjection(m0.ProjectText)}
		return c, correctHubness(c, cfg, models, dirs)
	}
	images := joinScaled(projs)
	// Every model's text tower on the same batch of queries, each projection normalised.
	projectAll := func(t [][]float32) ([][]float32, error) {
		parts := make([][][]float32, len(models))
		for k, m := range models {
			p, err := m.ProjectText(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", dirs[k], err)
			}
			for i := range p {
				if p[i], err = features.Normalize(p[i]); err != nil {
					return nil, fmt.Errorf("%s: %w", dirs[k], err)
				}
			}
			parts[k] = p
		}
		return joinScaled(parts), nil
	}
	c := &CosineScorer{Label: fmt.Sprintf("two-tower ×%d (%s + %s)", len(models), m0.ImageEncoder, m0.TextEncoder),
		Text: text, Images: images, Project: batchedProjection(projectAll)}
	return c, correctHubness(c, cfg, models, dirs)
}

// joinScaled joins each row's vectors of every part (one per model), each scaled by 1/√n:
// the dot product of two joined rows is the mean of the parts' dot products.
func joinScaled(parts [][][]float32) [][]float32 {
	scale := float32(1 / math.Sqrt(float64(len(parts))))
	out := make([][]float32, len(parts[0]))
	for i := range out {
		for _, p := range parts {
			out[i] = appendScaled(out[i], p[i], scale)
		}
	}
	return out
}

// correctHubness sets c's offsets from the models' caption banks when cfg asks for the
// hubness correction (the banks joined as the photos are, so that a photo's cosine with a
// caption is the models' mean).
func correctHubness(c *CosineScorer, cfg Config, models []*retrieval.Model, dirs []string) error {
	if cfg.HubnessScale == 0 {
		return nil
	}
	banks := make([][][]float32, len(models))
	for k, m := range models {
		b, err := m.Bank()
		if err != nil {
			return fmt.Errorf("%s: %w", dirs[k], err)
		}
		if len(b) != len(banks[0]) && k > 0 {
			return fmt.Errorf("two-tower ensemble: %s has %d captions in its bank, %s %d: every model must be trained on the same captions", dirs[k], len(b), dirs[0], len(banks[0]))
		}
		banks[k] = b
	}
	bank := banks[0]
	if len(models) > 1 {
		bank = joinScaled(banks)
	}
	m, err := c.matrix() // the one copy of the photos, which Score uses too
	if err != nil {
		return err
	}
	if c.Offsets, err = hubnessOffsets(m, bank, cfg.HubnessScale); err != nil {
		return err
	}
	c.Label += fmt.Sprintf(", hubness-corrected (β %g)", cfg.HubnessScale)
	return nil
}

// appendScaled appends scale·v to dst: one model's unit vector in an ensemble's joined one.
func appendScaled(dst, v []float32, scale float32) []float32 {
	for _, x := range v {
		dst = append(dst, x*scale)
	}
	return dst
}

// batchedProjection runs a projection of text vectors once per batch of concurrent
// queries (textenc.Batcher, at most QueryBatch, the first waiting at most QueryWait).
func batchedProjection(fn func([][]float32) ([][]float32, error)) func([]float32) ([]float32, error) {
	b := textenc.NewBatcher(fn, QueryBatch, QueryWait)
	return func(t []float32) ([]float32, error) {
		out, err := b.Do([][]float32{t})
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
}

// LoadRegressor loads the MLP or MLP ensemble saved in dir, checking its encoders.
func LoadRegressor(dir string, encoders ...string) (regress.Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "0")); err == nil {
		return regress.LoadMLPEnsemble(dir, encoders...)
	}
	return regress.LoadMLP(dir, encoders...)
}

func mlpScorer(cfg Config, ix *Index, texts textOpener) (Scorer, error) {
	m, err := LoadRegressor(cfg.MLPDir, cfg.MLPEncoders[0], cfg.MLPEncoders[1])
	if err != nil {
		return nil, err
	}
	text, err := texts.open(cfg.MLPEncoders[0])
	if err != nil {
		return nil, err
	}
	vecs, err := indexVecs(ix, cfg.MLPEncoders[1])
	if err != nil {
		return nil, err
	}
	return &RegressorScorer{Label: fmt.Sprintf("%s (%s + %s)", m.Name(), cfg.MLPEncoders[0], cfg.MLPEncoders[1]),
		Text: text, Images: vecs, Model: m}, nil
}
