package regress

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/project"
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
func MLPDir(name string) string { return filepath.Join(project.ModelsDir(), "mlp", name) }

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
	if err := SaveStore(dir, m.store, MLPInfoFile, info); err != nil {
		return fmt.Errorf("%s: %w", m.Name(), err)
	}
	return nil
}

// SaveStore writes a GoMLX model store to dir as a checkpoint, with info as JSON in
// infoFile beside it. The folder is built beside dir and renamed over it, so a reader
// never sees half a model and a failure leaves the previous one.
func SaveStore(dir string, store *model.Store, infoFile string, info any) (err error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("saving checkpoint to %s: %v", dir, r)
		}
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	// A clone: attaching a checkpoint handler to the live store would make it its loader.
	clone, err := store.Clone()
	if err != nil {
		return err
	}
	h, err := checkpoint.Build(clone).Dir(tmp).Keep(1).Done()
	if err != nil {
		return fmt.Errorf("checkpoint in %s: %w", tmp, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("checkpoint in %s: %w", tmp, err)
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, infoFile), append(b, '\n')); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// Swap folders: the old one (if any) steps aside, the new one takes its name.
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// LoadStore reads the checkpoint in dir into a new store (all variables at once) and
// decodes dir/infoFile into info.
func LoadStore(dir, infoFile string, info any) (store *model.Store, err error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, infoFile), err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %v", dir, r)
		}
	}()
	store = model.NewStore()
	if _, err := checkpoint.Load(store).Dir(dir).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return store, nil
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
	store, err := LoadStore(dir, MLPInfoFile, &info)
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
	loaded := map[string]bool{}
	for v := range store.IterVariables() {
		loaded[v.Path()] = true
	}
	m = &MLP{ModelName: info.Name, Settings: info.Settings, Encoders: info.Encoders, InputDim: info.InputDim,
		BestEpoch: info.BestEpoch, History: info.History, store: store}
	// Compile and run once so a checkpoint that does not fit the settings fails here
	// (a weight the network needs but the checkpoint lacks would be initialised at random).
	if _, err := m.Predict([][]float32{make([]float32, info.InputDim)}); err != nil {
		return nil, fmt.Errorf("load MLP: %s: checkpoint does not match %s: %w", dir, MLPInfoFile, err)
	}
	for v := range store.IterVariables() {
		if isModelVariable(v.Path()) && !loaded[v.Path()] {
			return nil, fmt.Errorf("load MLP: %s: the checkpoint lacks weight %s that %s's settings need", dir, v.Path(), MLPInfoFile)
		}
	}
	return m, nil
}
