package regress

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/withsense/withsense/lib/train"
)

// Ensemble averages the predictions of several models of one kind that differ only in
// their seed. For MLPs the seed also draws the photos held out for early stopping, so
// together the members learn from every training photo, and averaging removes much of
// the seed-to-seed spread of single networks.
type Ensemble struct {
	ModelName string
	Members   []Model
}

// NewMLPEnsemble returns k MLPs with settings s and seeds s.Seed, s.Seed+1, …, named
// <name>/<i>.
func NewMLPEnsemble(name string, s MLPSettings, k int) *Ensemble {
	e := &Ensemble{ModelName: name}
	for i := range k {
		si := s
		si.Seed = s.Seed + uint64(i)
		e.Members = append(e.Members, NewMLP(fmt.Sprintf("%s/%d", name, i), si))
	}
	return e
}

func (e *Ensemble) Name() string { return e.ModelName }

// Fit fits every member on the same rows, one member per core at a time (train.Each);
// each member draws from its own seed, so the result does not depend on the scheduling.
func (e *Ensemble) Fit(X [][]float32, y []float32, groups []string) error {
	if len(e.Members) == 0 {
		return fmt.Errorf("%s: ensemble without members", e.Name())
	}
	return train.Each(len(e.Members), 0, func(i int) error {
		if err := e.Members[i].Fit(X, y, groups); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		return nil
	})
}

// Predict returns the mean of the members' predictions.
func (e *Ensemble) Predict(X [][]float32) ([]float32, error) {
	if len(e.Members) == 0 {
		return nil, fmt.Errorf("%s: ensemble without members", e.Name())
	}
	sum := make([]float64, len(X))
	for _, m := range e.Members {
		p, err := m.Predict(X)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for i, v := range p {
			sum[i] += float64(v)
		}
	}
	out := make([]float32, len(X))
	for i, s := range sum {
		out[i] = float32(s / float64(len(e.Members)))
	}
	return out, nil
}

// Save writes an ensemble of MLPs to dir (MLPDir(e.Name()) if empty), member i in dir/<i>/.
func (e *Ensemble) Save(dir string) error {
	if dir == "" {
		dir = MLPDir(e.Name())
	}
	for i, m := range e.Members {
		mlp, ok := m.(*MLP)
		if !ok {
			return fmt.Errorf("%s: member %d is a %T; only MLP ensembles are saved", e.Name(), i, m)
		}
		if err := mlp.Save(filepath.Join(dir, strconv.Itoa(i))); err != nil {
			return err
		}
	}
	// Drop members left over from a larger ensemble saved here before.
	for i := len(e.Members); ; i++ {
		old := filepath.Join(dir, strconv.Itoa(i))
		if _, err := os.Stat(old); err != nil {
			return nil
		}
		if err := os.RemoveAll(old); err != nil {
			return err
		}
	}
}

// LoadMLPEnsemble reads an ensemble saved by Ensemble.Save (members dir/0, dir/1, …); a
// name alone means MLPDir(name). encoders are checked as LoadMLP does.
func LoadMLPEnsemble(dir string, encoders ...string) (*Ensemble, error) {
	name := filepath.Base(dir)
	if !filepath.IsAbs(dir) && name == dir {
		if _, err := os.Stat(dir); err != nil {
			dir = MLPDir(dir)
		}
	}
	e := &Ensemble{ModelName: name}
	for i := 0; ; i++ {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if _, err := os.Stat(sub); err != nil {
			break
		}
		m, err := LoadMLP(sub, encoders...)
		if err != nil {
			return nil, err
		}
		e.Members = append(e.Members, m)
	}
	if len(e.Members) == 0 {
		return nil, fmt.Errorf("load MLP ensemble: no members (0/, 1/, …) in %s", dir)
	}
	return e, nil
}
