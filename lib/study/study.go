// Package study runs the research flow of the original study end to end and caches what
// it found, so that the notebooks' cells (which GoNB re-runs as one program) stay cheap:
// Embeddings opens every available encoder, Models compares every model on every pair of
// encoders, computes out-of-fold predictions and the benchmark correlations, and saves the
// best MLP. Results are cached under data/cache/study/, written atomically, by a key of
// their content (lib/cachekey: the step's settings, the code it runs, the hashes of its
// input data and embeddings).
package study

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/cachekey"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/project"
)

// The encoders whose pairs the models are compared on, in table order (notebook 02 compares
// every encoder of lib/features; glove-sif and inception-pool, measured weaker there, are left
// out of the model table to keep the report's training time down). A joined encoder ("a+b",
// image or text) concatenates its parts' unit vectors.
var (
	ModelTexts  = []string{"minilm", "glove-mean", "use", "use+glove-mean"}
	ModelImages = []string{"resnet50", "inception-mixed5", "centernet-pool", "inception-mixed5+centernet-pool"}
)

// Inputs are the data and embeddings every experiment of the study starts from.
type Inputs struct {
	Course  *dataset.Course
	Samples []dataset.Sample
	Texts   []*features.Table // available text encoders, table order
	Images  []*features.Table // available image encoders, table order
	Missing []features.Unavailable
	// Run is this run's settings (lib/settings over the defaults).
	Run Run
	// hash is the content hash of everything above, part of every step's cache key.
	hash string
}

// Load opens the data and every available encoder, embedding the samples' captions, the
// test queries and every photo (through the embedding cache).
func Load() (*Inputs, error) {
	c, err := dataset.LoadDefault()
	if err != nil {
		return nil, err
	}
	samples, err := c.Samples(0)
	if err != nil {
		return nil, err
	}
	texts := make([]string, 0, len(samples)+len(c.TestQueries))
	for _, s := range samples {
		texts = append(texts, s.Text)
	}
	for _, q := range c.TestQueries {
		texts = append(texts, q.Text)
	}
	run, err := CurrentRun()
	if err != nil {
		return nil, err
	}
	in := &Inputs{Course: c, Samples: samples, Run: run}
	var missT, missI []features.Unavailable
	in.Texts, missT, err = features.Tables(run.Config.Texts, func(n string) (*features.Table, error) { return features.TextTable(n, texts) })
	if err != nil {
		return nil, err
	}
	photos := c.AllPhotos()
	in.Images, missI, err = features.Tables(run.Config.Images, func(n string) (*features.Table, error) { return features.ImageTable(n, photos) })
	if err != nil {
		return nil, err
	}
	in.Missing = append(missT, missI...)
	in.hash = inputsHash(in)
	return in, nil
}

// inputsHash hashes the samples, the test queries and every table's vectors.
func inputsHash(in *Inputs) string {
	parts := []string{cachekey.Value(in.Samples), cachekey.Value(in.Course.TestQueries), cachekey.Value(in.Course.TestImages)}
	for _, t := range append(slices.Clone(in.Texts), in.Images...) {
		parts = append(parts, t.Encoder, cachekey.Vectors(t.Vecs))
	}
	return cachekey.Value(parts)
}

// key is the cache key of a step of the study over in: the run's settings, the code of the
// step (its files in this package, and the packages it calls with their imports), the
// inputs and the keys of the steps it builds on (after).
func key(in *Inputs, step string, files, pkgs []string, after ...string) (string, error) {
	own := make([]string, len(files))
	for i, f := range files {
		own[i] = "lib/study/" + f
	}
	code, err := cachekey.Files(append(own, "lib/study/study.go")...)
	if err != nil {
		return "", err
	}
	return cachekey.Key(step, in.Run, pkgs, append([]string{in.hash, code}, after...)...)
}

// cached returns the value stored under name-key, or computes, stores and returns it.
func cached[T any](name, key string, compute func() (T, error)) (T, error) {
	path := filepath.Join(project.StudyCacheDir(), name+"-"+key+".json")
	var v T
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &v); err == nil {
			return v, nil
		}
		fmt.Fprintf(os.Stderr, "%s: unreadable cache, recomputing\n", path)
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v, err
	}
	return v, atomicfile.WriteFile(path, b)
}
