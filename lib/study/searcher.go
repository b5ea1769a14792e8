package study

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/textenc"
)

// SearchConfig is what the search loads: the trained models and the variant measured
// best. The study writes it to models/search.json.
type SearchConfig struct {
	Default     string    `json:"default"`
	TwoTowerDir string    `json:"two_tower_dir"`
	MLPDir      string    `json:"mlp_dir"`
	MLPEncoders [2]string `json:"mlp_encoders"` // text, image
	RerankDepth int       `json:"rerank_depth"`
}

// SearchConfigPath is where the study leaves the search's configuration.
func SearchConfigPath() string { return filepath.Join(project.ModelsDir(), "search.json") }

// WriteSearchConfig records the retrieval report's default for the search.
func WriteSearchConfig(r *RetrievalReport) error {
	b, err := json.MarshalIndent(SearchConfig{Default: r.Default, TwoTowerDir: r.TwoTowerDir, MLPDir: r.MLPDir,
		MLPEncoders: r.MLPEncoders, RerankDepth: RerankDepth}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(SearchConfigPath(), b)
}

// LoadSearchConfig reads the search's configuration, or says how to make it.
func LoadSearchConfig() (SearchConfig, error) {
	var c SearchConfig
	b, err := os.ReadFile(SearchConfigPath())
	if err != nil {
		return c, fmt.Errorf("no trained search models (%v): run `make report` once, which trains them", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", SearchConfigPath(), err)
	}
	return c, nil
}

// DatasetPhotos returns the dataset's 1,100 photos.
func DatasetPhotos() ([]string, error) {
	c, err := dataset.LoadDefault()
	if err != nil {
		return nil, err
	}
	return c.AllPhotos(), nil
}

// IndexEncoders are the image encoders a search index holds: the two-tower's and the
// MLP's (the same or two).
func IndexEncoders() []string {
	names := []string{TwoTowerImage}
	if c, err := LoadSearchConfig(); err == nil && c.MLPEncoders[1] != TwoTowerImage && c.MLPEncoders[1] != "" {
		names = append(names, c.MLPEncoders[1])
	}
	return names
}

// BuildIndex embeds the photos for the search (cached).
func BuildIndex(paths []string) (*search.Index, error) {
	return search.Build(paths, IndexEncoders())
}

// NewSearcher builds the search over the photos with the default variant the study measured.
func NewSearcher(paths []string) (*search.Searcher, error) {
	return NewSearcherVariant(paths, "")
}

// NewSearcherVariant is NewSearcher with a chosen variant ("" for the default).
func NewSearcherVariant(paths []string, variant string) (*search.Searcher, error) {
	cfg, err := LoadSearchConfig()
	if err != nil {
		return nil, err
	}
	if variant == "" {
		variant = cfg.Default
	}
	ix, err := BuildIndex(paths)
	if err != nil {
		return nil, err
	}
	scorer, err := Scorer(cfg, ix, variant)
	if err != nil {
		return nil, err
	}
	return &search.Searcher{Paths: ix.Paths, Hidden: ix.Hidden(), Scorer: scorer}, nil
}

// Scorer builds a variant's scorer over an index.
func Scorer(cfg SearchConfig, ix *search.Index, variant string) (search.Scorer, error) {
	var tt, mlp search.Scorer
	var err error
	needTT := variant != VariantMLP
	needMLP := variant != VariantTwoTower
	if needTT {
		if tt, err = twoTowerScorer(cfg, ix); err != nil {
			return nil, err
		}
	}
	if needMLP {
		if mlp, err = mlpScorer(cfg, ix); err != nil {
			return nil, err
		}
	}
	switch variant {
	case VariantMLP:
		return mlp, nil
	case VariantTwoTower:
		return tt, nil
	case VariantRerank:
		return &search.Rerank{First: tt, Second: mlp, Depth: cfg.RerankDepth}, nil
	case VariantBlend:
		return &search.Blend{A: tt, B: mlp}, nil
	}
	return nil, fmt.Errorf("unknown search variant %q (want %s, %s, %s or %s)", variant, VariantMLP, VariantTwoTower, VariantRerank, VariantBlend)
}

func twoTowerScorer(cfg SearchConfig, ix *search.Index) (search.Scorer, error) {
	m, err := retrieval.Load(cfg.TwoTowerDir)
	if err != nil {
		return nil, err
	}
	text, err := textenc.Encoders.Open(m.TextEncoder)
	if err != nil {
		return nil, err
	}
	vecs, ok := ix.Vecs[m.ImageEncoder]
	if !ok {
		return nil, fmt.Errorf("the index has no %s vectors", m.ImageEncoder)
	}
	proj, err := m.ProjectImages(vecs)
	if err != nil {
		return nil, err
	}
	for i := range proj {
		if proj[i], err = features.Normalize(proj[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", ix.Paths[i], err)
		}
	}
	return &search.CosineScorer{Label: fmt.Sprintf("two-tower (%s + %s)", m.ImageEncoder, m.TextEncoder), Text: text, Images: proj,
		Project: func(t []float32) ([]float32, error) {
			out, err := m.ProjectText([][]float32{t})
			if err != nil {
				return nil, err
			}
			return out[0], nil
		}}, nil
}

func mlpScorer(cfg SearchConfig, ix *search.Index) (search.Scorer, error) {
	m, err := LoadScorer(cfg.MLPDir, cfg.MLPEncoders[0], cfg.MLPEncoders[1])
	if err != nil {
		return nil, err
	}
	text, err := textenc.Encoders.Open(cfg.MLPEncoders[0])
	if err != nil {
		return nil, err
	}
	vecs, ok := ix.Vecs[cfg.MLPEncoders[1]]
	if !ok {
		return nil, fmt.Errorf("the index has no %s vectors", cfg.MLPEncoders[1])
	}
	return &search.RegressorScorer{Label: fmt.Sprintf("%s (%s + %s)", m.Name(), cfg.MLPEncoders[0], cfg.MLPEncoders[1]),
		Text: text, Images: vecs, Model: m}, nil
}
