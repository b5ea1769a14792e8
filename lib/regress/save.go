package regress

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/train"
)

// MLPInfoFile is the JSON saved beside an MLP's GoMLX checkpoint: its name, settings,
// input width, the encoders whose features it expects and its learning curve.
const MLPInfoFile = "model.json"

// MLPInfo is the content of MLPInfoFile.
type MLPInfo struct {
	Name      string      `json:"name"`
	Settings  MLPSettings `json:"settings"`
	Encoders  []string    `json:"encoders"`
	InputDim  int         `json:"input_dim"`
	BestEpoch int         `json:"best_epoch"`
	History   []Epoch     `json:"history"`
}

// MLPDir is where an MLP named name is saved: models/mlp/<name>/.
func MLPDir(name string) string { return filepath.Join(project.TrainedDir(), "mlp", name) }

// Save writes the trained MLP to dir (MLPDir(m.Name()) if dir is empty) as a GoMLX
// checkpoint plus MLPInfoFile. The folder is written beside the target and renamed over
// it, so a reader never sees half a model.
func (m *MLP) Save(dir string) error {
	if m.store == nil {
		return fmt.Errorf("%s: Save before Fit", m.Name())
	}
	if dir == "" {
		dir = MLPDir(m.Name())
	}
	info := MLPInfo{Name: m.Name(), Settings: m.Settings, Encoders: m.Encoders,
		InputDim: m.InputDim, BestEpoch: m.BestEpoch, History: m.History}
	if err := train.SaveStore(dir, m.store, MLPInfoFile, info); err != nil {
		return fmt.Errorf("%s: %w", m.Name(), err)
	}
	return nil
}

// LoadMLP reads an MLP saved by Save from dir (a name alone, without a path separator,
// means MLPDir(name)). If encoders are given, they must equal the ones the model was
// trained with, in order.
func LoadMLP(dir string, encoders ...string) (m *MLP, err error) {
	if !filepath.IsAbs(dir) && filepath.Base(dir) == dir && dir != "." && dir != ".." {
		if _, err := os.Stat(dir); err != nil {
			dir = MLPDir(dir)
		}
	}
	var info MLPInfo
	store, err := train.LoadStore(dir, MLPInfoFile, &info)
	if err != nil {
		return nil, fmt.Errorf("load MLP: %w", err)
	}
	if err := info.Settings.Check(info.InputDim); err != nil {
		return nil, fmt.Errorf("load MLP: %s: %w", filepath.Join(dir, MLPInfoFile), err)
	}
	if len(encoders) > 0 && !slices.Equal(encoders, info.Encoders) {
		return nil, fmt.Errorf("load MLP: %s was trained on features of %q, not %q", dir, info.Encoders, encoders)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("load MLP: %s: %v", dir, r)
		}
	}()
	loaded := train.Paths(store)
	m = &MLP{ModelName: info.Name, Settings: info.Settings, Encoders: info.Encoders, InputDim: info.InputDim,
		BestEpoch: info.BestEpoch, History: info.History, store: store}
	// Compile and run once so a checkpoint that does not fit the settings fails here
	// (a weight the network needs but the checkpoint lacks would be initialised at random).
	if _, err := m.Predict([][]float32{make([]float32, info.InputDim)}); err != nil {
		return nil, fmt.Errorf("load MLP: %s: checkpoint does not match %s: %w", dir, MLPInfoFile, err)
	}
	if missing := info.Settings.scopes().Missing(store, loaded); missing != "" {
		return nil, fmt.Errorf("load MLP: %s: the checkpoint lacks weight %s that %s's settings need", dir, missing, MLPInfoFile)
	}
	return m, nil
}
