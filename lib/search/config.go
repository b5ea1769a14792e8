package search

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/project"
)

// The search variants: which trained models score a query.
const (
	VariantMLP      = "mlp"                  // the best expert-score MLP scores every photo
	VariantTwoTower = "two-tower"            // cosine in the contrastive model's shared space
	VariantRerank   = "two-tower+mlp-rerank" // two-tower top RerankDepth, reordered by the MLP
	VariantBlend    = "blend"                // z-scored two-tower cosine + z-scored MLP score
	VariantLabels   = "two-tower+labels"     // z-scored two-tower cosine + LabelWeight × z-scored label score (labels.go)
)

// Variants lists the search variants in table order.
var Variants = []string{VariantMLP, VariantTwoTower, VariantRerank, VariantBlend, VariantLabels}

// RerankDepth is how many photos the two-tower retrieves for the MLP to rerank.
const RerankDepth = 10

// Config is what the search loads: the trained models and the variant measured best.
// The study writes it (WriteConfig) after it trains them.
type Config struct {
	Default     string `json:"default"`
	TwoTowerDir string `json:"two_tower_dir"`
	// TwoTowerDirs, when it names more than one folder, makes the two-tower score an
	// ensemble: the mean of the cosines of these models (the same encoders, other seeds),
	// TwoTowerDir first. Empty, or TwoTowerDir alone: that one model.
	TwoTowerDirs []string  `json:"two_tower_dirs,omitempty"`
	MLPDir       string    `json:"mlp_dir"`
	MLPEncoders  [2]string `json:"mlp_encoders"` // text, image
	RerankDepth  int       `json:"rerank_depth"`
	// LabelWeight weighs the zero-shot label score against the two-tower's in the
	// two-tower+labels variant (z-scores; 0 or unset stands for 1).
	LabelWeight float64 `json:"label_weight,omitempty"`
	// HubnessScale, when above 0, is the β of the two-tower's hubness correction: each
	// photo's cosine less its HubnessOffsets against the models' caption banks. 0: plain
	// cosines.
	HubnessScale float64 `json:"hubness_scale,omitempty"`
}

// ConfigPath is where the study leaves the search's configuration.
func ConfigPath() string { return filepath.Join(project.TrainedDir(), "search.json") }

// WriteConfig records the search's configuration at ConfigPath.
func WriteConfig(c Config) error { return WriteConfigFile(ConfigPath(), c) }

// LoadConfig reads the search's configuration from ConfigPath, or says how to make it.
func LoadConfig() (Config, error) { return ReadConfigFile(ConfigPath()) }

// WriteConfigFile writes a checked configuration to path, atomically.
func WriteConfigFile(path string, c Config) error {
	if err := c.Check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// ReadConfigFile reads and checks a configuration written by WriteConfigFile.
func ReadConfigFile(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("no trained search models (%v): run `make report` once, which trains them", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Check reports a configuration that names no models or an unknown variant.
func (c Config) Check() error {
	if !knownVariant(c.Default) {
		return fmt.Errorf("default variant %q is not one of %v", c.Default, Variants)
	}
	if c.TwoTowerDir == "" || c.MLPDir == "" || c.MLPEncoders[0] == "" || c.MLPEncoders[1] == "" {
		return fmt.Errorf("two_tower_dir, mlp_dir and both mlp_encoders must be set")
	}
	if len(c.TwoTowerDirs) > 0 && c.TwoTowerDirs[0] != c.TwoTowerDir {
		return fmt.Errorf("two_tower_dirs must start with two_tower_dir %q, not %q", c.TwoTowerDir, c.TwoTowerDirs[0])
	}
	for i, d := range c.TwoTowerDirs {
		if d == "" || slices.Contains(c.TwoTowerDirs[:i], d) {
			return fmt.Errorf("two_tower_dirs %q: empty or repeated folder %q", c.TwoTowerDirs, d)
		}
	}
	if c.RerankDepth < 1 {
		return fmt.Errorf("rerank_depth %d, want at least 1", c.RerankDepth)
	}
	if !(c.LabelWeight >= 0) || math.IsInf(c.LabelWeight, 0) {
		return fmt.Errorf("label_weight %v, want a finite weight ≥ 0", c.LabelWeight)
	}
	if !(c.HubnessScale >= 0) || math.IsInf(c.HubnessScale, 0) {
		return fmt.Errorf("hubness_scale %v, want a finite β ≥ 0 (0: off)", c.HubnessScale)
	}
	return nil
}

// TwoTowers lists the folders of the two-tower models whose mean cosine scores: the
// ensemble's (TwoTowerDirs), or TwoTowerDir alone.
func (c Config) TwoTowers() []string {
	if len(c.TwoTowerDirs) > 0 {
		return c.TwoTowerDirs
	}
	return []string{c.TwoTowerDir}
}

func knownVariant(v string) bool {
	for _, k := range Variants {
		if v == k {
			return true
		}
	}
	return false
}

// ImageEncoders are the image encoders an index needs for this configuration's default
// variant: the two-tower's (from its saved info; an ensemble's models all take the same) and the MLP's, and CenterNet's class
// presence for two-tower+labels, without repeats. Names are opaque (a composite such as
// "inception-mixed5+centernet-pool" is one name).
func (c Config) ImageEncoders() ([]string, error) { return c.imageEncoders(c.Default) }

// imageEncoders is ImageEncoders for a variant.
func (c Config) imageEncoders(variant string) ([]string, error) {
	info, err := twoTowerInfo(c.TwoTowerDir)
	if err != nil {
		return nil, err
	}
	names := []string{info.ImageEncoder}
	if c.MLPEncoders[1] != info.ImageEncoder {
		names = append(names, c.MLPEncoders[1])
	}
	if variant == VariantLabels && !slices.Contains(names, LabelImage) {
		names = append(names, LabelImage)
	}
	return names, nil
}
