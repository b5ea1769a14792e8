package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/withsense/withsense/lib/atomicfile"
)

// Scopes names the top-level variable scopes that hold a model: its weights, its
// standardisers and any learnt constants. Every other variable of its store (the
// optimizer's moments, step counters, the random state) is training state, dropped when
// training ends.
type Scopes []string

// Holds tells whether the variable at path belongs to the model.
func (s Scopes) Holds(path string) bool {
	for _, scope := range s {
		if strings.HasPrefix(path, "/"+scope+"/") {
			return true
		}
	}
	return false
}

// NewStore returns an empty store whose initialisers and dropout draw from seed: the
// same seed gives the same weights and the same dropout masks.
func NewStore(seed uint64) *model.Store {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(seed))
	return store
}

// snapshot copies the values of the model's variables to host memory (to keep the best
// epoch's weights), freeing a previous snapshot first.
func (s Scopes) snapshot(store *model.Store, prev map[string]*tensors.Tensor) (map[string]*tensors.Tensor, error) {
	for _, t := range prev {
		t.FinalizeAll()
	}
	out := map[string]*tensors.Tensor{}
	for v := range store.IterVariables() {
		if !s.Holds(v.Path()) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return nil, err
		}
		c, err := val.LocalClone()
		if err != nil {
			return nil, fmt.Errorf("snapshot of %s: %w", v.Path(), err)
		}
		out[v.Path()] = c
	}
	return out, nil
}

// restore sets the store's variables to a snapshot's values.
func restore(store *model.Store, snap map[string]*tensors.Tensor) error {
	for path, t := range snap {
		if err := store.GetVariable(path).SetValue(t); err != nil {
			return fmt.Errorf("restoring %s: %w", path, err)
		}
	}
	return nil
}

// dropTrainingState deletes every variable but the model's, so a checkpoint holds just
// what prediction needs.
func (s Scopes) dropTrainingState(store *model.Store) error {
	var drop []string
	for v := range store.IterVariables() {
		if !s.Holds(v.Path()) {
			drop = append(drop, v.Path())
		}
	}
	for _, path := range drop {
		if err := store.DeleteVariable(path); err != nil {
			return fmt.Errorf("dropping %s: %w", path, err)
		}
	}
	return nil
}

// Paths returns the paths of the store's variables, to tell after a first compilation
// (which creates any variable the model needs and the store lacks) what a checkpoint held.
func Paths(store *model.Store) map[string]bool {
	out := map[string]bool{}
	for v := range store.IterVariables() {
		out[v.Path()] = true
	}
	return out
}

// Missing returns the first (by path) model variable of store not in loaded (Paths of the
// store as read from a checkpoint), "" if none: a weight the model needed and initialised
// at random.
func (s Scopes) Missing(store *model.Store, loaded map[string]bool) string {
	first := ""
	for v := range store.IterVariables() {
		if p := v.Path(); s.Holds(p) && !loaded[p] && (first == "" || p < first) {
			first = p
		}
	}
	return first
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
	if err := fixCheckpointName(tmp); err != nil {
		return err
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

// checkpointName replaces the base name GoMLX gives a checkpoint's files (which holds the
// time of saving), so that the same model saves to the same bytes under the same names.
// It keeps GoMLX's "checkpoint-n<count>-" prefix, by which its loader finds them.
const checkpointName = "checkpoint-n0000000-model"

// fixCheckpointName renames the one checkpoint (.json and .bin) in dir to checkpointName.
func fixCheckpointName(dir string) error {
	jsons, err := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if err != nil {
		return err
	}
	if len(jsons) != 1 {
		return fmt.Errorf("checkpoint in %s: %d checkpoint-*.json files, want 1", dir, len(jsons))
	}
	base := strings.TrimSuffix(jsons[0], ".json")
	for _, ext := range []string{".json", ".bin"} {
		if err := os.Rename(base+ext, filepath.Join(dir, checkpointName+ext)); err != nil {
			return err
		}
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
