// Package study runs the research flow of the original study end to end and caches what
// it found, so that the notebooks' cells (which GoNB re-runs as one program) stay cheap:
// Embeddings opens every available encoder, Models compares every model on every pair of
// encoders, computes out-of-fold predictions and the benchmark correlations, and saves the
// best MLP. Results are cached under data/cache/study/ by a key of everything they depend
// on (encoders and their weights, model settings, the data), written atomically.
package study

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/project"
)

// Version is bumped when the study's code changes what it computes, so caches are redone.
const Version = "study-v1"

// Inputs are the data and embeddings every experiment of the study starts from.
type Inputs struct {
	Course  *dataset.Course
	Samples []dataset.Sample
	Texts   []*features.Table // available text encoders, table order
	Images  []*features.Table // available image encoders, table order
	Missing []features.Unavailable
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
	in := &Inputs{Course: c, Samples: samples}
	var missT, missI []features.Unavailable
	in.Texts, missT, err = features.Tables(features.TextEncoders, func(n string) (*features.Table, error) { return features.TextTable(n, texts) })
	if err != nil {
		return nil, err
	}
	photos := c.AllPhotos()
	in.Images, missI, err = features.Tables(features.ImageEncoders, func(n string) (*features.Table, error) { return features.ImageTable(n, photos) })
	if err != nil {
		return nil, err
	}
	in.Missing = append(missT, missI...)
	return in, nil
}

// key hashes anything JSON-encodable with the study's version.
func key(parts ...any) (string, error) {
	b, err := json.Marshal(append([]any{Version}, parts...))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

// cached returns the value stored under name-key, or computes, stores and returns it.
func cached[T any](name, key string, compute func() (T, error)) (T, error) {
	path := filepath.Join(project.CacheDir(), "study", name+"-"+key+".json")
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
