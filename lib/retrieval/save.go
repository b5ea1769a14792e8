package retrieval

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/train"
)

// InfoFile is the JSON saved beside a model's GoMLX checkpoint: its name, settings, the
// encoders and widths of the features it takes and its learning curve.
const InfoFile = "model.json"

// Info is the content of InfoFile.
type Info struct {
	Name         string   `json:"name"`
	Settings     Settings `json:"settings"`
	ImageEncoder string   `json:"image_encoder"`
	TextEncoder  string   `json:"text_encoder"`
	ImageDim     int      `json:"image_dim"`
	TextDim      int      `json:"text_dim"`
	BestEpoch    int      `json:"best_epoch"`
	ValidPhotos  int      `json:"valid_photos"`
	History      []Epoch  `json:"history"`
}

// Dir is where a model named name is saved: models/retrieval/<name>/.
func Dir(name string) string { return filepath.Join(project.TrainedDir(), "retrieval", name) }

// Save writes the model to dir (Dir(m.Name) if dir is empty) as a GoMLX checkpoint plus
// InfoFile, atomically (train.SaveStore): a reader never sees half a model.
func (m *Model) Save(dir string) error {
	if m == nil || m.store == nil {
		return fmt.Errorf("two-tower: Save before Train")
	}
	if dir == "" {
		if m.Name == "" {
			return fmt.Errorf("two-tower: Save with no folder and no model name")
		}
		dir = Dir(m.Name)
	}
	info := Info{Name: m.Name, Settings: m.Settings, ImageEncoder: m.ImageEncoder, TextEncoder: m.TextEncoder,
		ImageDim: m.ImageDim, TextDim: m.TextDim, BestEpoch: m.BestEpoch, ValidPhotos: m.ValidPhotos, History: m.History}
	if err := train.SaveStore(dir, m.store, InfoFile, info); err != nil {
		return fmt.Errorf("two-tower %s: %w", m.Name, err)
	}
	return nil
}

// Load reads a model saved by Save from dir (a name alone, without a path separator and
// not an existing folder, means Dir(name)).
func Load(dir string) (m *Model, err error) {
	if !filepath.IsAbs(dir) && filepath.Base(dir) == dir && dir != "." && dir != ".." {
		if _, err := os.Stat(dir); err != nil {
			dir = Dir(dir)
		}
	}
	infoPath := filepath.Join(dir, InfoFile)
	var info Info
	store, err := train.LoadStore(dir, InfoFile, &info)
	if err != nil {
		return nil, fmt.Errorf("load two-tower: %w", err)
	}
	if err := info.Settings.Check(); err != nil {
		return nil, fmt.Errorf("load two-tower: %s: %w", infoPath, err)
	}
	if info.ImageDim <= 0 || info.TextDim <= 0 {
		return nil, fmt.Errorf("load two-tower: %s: image_dim %d, text_dim %d, want > 0", infoPath, info.ImageDim, info.TextDim)
	}
	loaded := train.Paths(store)
	m = &Model{Name: info.Name, Settings: info.Settings, ImageEncoder: info.ImageEncoder, TextEncoder: info.TextEncoder,
		ImageDim: info.ImageDim, TextDim: info.TextDim, BestEpoch: info.BestEpoch, ValidPhotos: info.ValidPhotos,
		History: info.History, store: store}
	// Compile and run once so a checkpoint that does not fit the settings fails here (a
	// weight the towers need but the checkpoint lacks would be initialised at random).
	if _, err := m.ProjectImages([][]float32{make([]float32, info.ImageDim)}); err != nil {
		return nil, fmt.Errorf("load two-tower: %s: checkpoint does not match %s: %w", dir, InfoFile, err)
	}
	if _, err := m.ProjectText([][]float32{make([]float32, info.TextDim)}); err != nil {
		return nil, fmt.Errorf("load two-tower: %s: checkpoint does not match %s: %w", dir, InfoFile, err)
	}
	if missing := modelScopes.Missing(store, loaded); missing != "" {
		return nil, fmt.Errorf("load two-tower: %s: the checkpoint lacks weight %s that %s's settings need", dir, missing, InfoFile)
	}
	if _, err := m.Temperature(); err != nil {
		return nil, fmt.Errorf("load two-tower: %s: %w", dir, err)
	}
	return m, nil
}
