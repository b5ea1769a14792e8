package study

import (
	"fmt"

	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/settings"
)

// Config holds the study's own settings (section "study" of lib/settings); the models'
// settings are the "mlp" and "twotower" sections. DefaultConfig is the one place of its
// defaults.
type Config struct {
	// Seeds is how many seeds train each model whose result depends on its seed, on the
	// chosen encoders (EVALUATION.md: at least 5); results are mean ± sd over them.
	Seeds int `json:"seeds"`
	// TwoTowerSeeds is how many seeds train the two-tower wherever its seed matters: each
	// finalist of the encoder runoff, the ensemble the search averages, the test's spread.
	// More than Seeds because the ensemble gains from them: on validation (three sets of
	// seeds, plain cosine) ensembles of 10 scored MRR 0.506 and 0.509 where ensembles of 5
	// scored 0.492-0.508 (mean 0.498), for about 3 more minutes of make report.
	TwoTowerSeeds int `json:"two_tower_seeds"`
	// RetrievalValidPhotos is how many of the seed split's validation photos, with their
	// five Flickr8k captions each, the search's choices are made on (the test pool has 100).
	RetrievalValidPhotos int `json:"retrieval_valid_photos"`
	// Texts and Images are the encoders whose pairs the models are compared on;
	// TwoTowerTexts and TwoTowerImages the two-tower's candidates (unavailable ones are
	// left out, with the reason).
	Texts          []string `json:"texts"`
	Images         []string `json:"images"`
	TwoTowerTexts  []string `json:"two_tower_texts"`
	TwoTowerImages []string `json:"two_tower_images"`
}

// DefaultConfig returns the study's defaults.
func DefaultConfig() Config {
	return Config{Seeds: 5, TwoTowerSeeds: 10, RetrievalValidPhotos: 100, Texts: ModelTexts, Images: ModelImages,
		TwoTowerTexts: TwoTowerTexts, TwoTowerImages: TwoTowerImages}
}

// Run is a run's settings: the study's Config and every assignment given (lib/settings),
// which the models read for their own sections.
type Run struct {
	Config Config               `json:"study"`
	Set    settings.Assignments `json:"set,omitempty"`
}

// CurrentRun reads this run's settings ($WITH_SENSE_SET, then -set) over the defaults.
func CurrentRun() (Run, error) {
	a, err := settings.Current()
	if err != nil {
		return Run{}, err
	}
	r := Run{Config: DefaultConfig(), Set: a}
	if err := settings.Apply(&r.Config, "study", a); err != nil {
		return r, err
	}
	// The models' sections are applied where the models are built (and not at all when
	// their results come from the cache): check their names now, and that no assignment
	// names a section nobody reads.
	mlp, tt := regress.MLPSettings{}, retrieval.Settings{}
	if err := settings.Apply(&mlp, "mlp", a); err != nil {
		return r, err
	}
	if err := settings.Apply(&tt, "twotower", a); err != nil {
		return r, err
	}
	if err := settings.CheckKnown(a); err != nil {
		return r, fmt.Errorf("%w (sections: study, mlp, twotower)", err)
	}
	if r.Config.Seeds < 1 || r.Config.Seeds > 50 {
		return r, fmt.Errorf("setting study.seeds=%d: want 1 to 50", r.Config.Seeds)
	}
	if r.Config.TwoTowerSeeds < 1 || r.Config.TwoTowerSeeds > 50 {
		return r, fmt.Errorf("setting study.two_tower_seeds=%d: want 1 to 50", r.Config.TwoTowerSeeds)
	}
	for _, l := range [][]string{r.Config.Texts, r.Config.Images, r.Config.TwoTowerTexts, r.Config.TwoTowerImages} {
		if len(l) == 0 {
			return r, fmt.Errorf("settings: an encoder list of the study is empty (%+v)", r.Config)
		}
	}
	if r.Config.RetrievalValidPhotos < 10 {
		return r, fmt.Errorf("setting study.retrieval_valid_photos=%d: want at least 10", r.Config.RetrievalValidPhotos)
	}
	return r, nil
}
