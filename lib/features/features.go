// Package features turns encoders' outputs into the regressors' inputs, as the original
// study did: every embedding L2-normalised, and a pair's row the text embedding followed
// by the photo's embedding, [text | image]. It also holds the list of encoders the study
// compares, in table order — the one place that list is written.
package features

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"

	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/textenc"
)

// The encoders the study compares, best expected first. The ONNX ones (resnet50, minilm)
// are the original study's and need `make models-onnx`; where their files are missing
// they are reported as unavailable and the offline encoders carry the study. A joined text
// encoder ("use+glove-mean", textenc.Join) puts its parts' unit vectors side by side.
var (
	ImageEncoders = []string{"resnet50", "inception-mixed5", "inception-pool", "centernet-pool", "centernet-classes", "centernet-counts"}
	TextEncoders  = []string{"minilm", "glove-mean", "glove-sif", "use", "use+glove-mean"}
)

// Table maps keys (a photo's file name, or a text) to one encoder's L2-normalised vectors.
type Table struct {
	Encoder string
	Weights string // the encoder's weights identity (see imageenc.Encoder.Weights)
	Dim     int
	Vecs    map[string][]float32
}

// Unavailable records an encoder that could not be opened and why (paths below the project
// relative to its root, so reports name no machine's folders).
type Unavailable struct {
	Encoder string `json:"encoder"`
	Reason  string `json:"reason"`
}

// Normalize scales v to unit L2 norm in place and returns it; a zero vector is an error
// (it would hide a failed embedding).
func Normalize(v []float32) ([]float32, error) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("cannot normalise a vector of norm %v", math.Sqrt(s))
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v, nil
}

// ImageTable embeds the photos with the named encoder (through the embedding cache) and
// keys the normalised vectors by file name. Photos must have distinct file names. A name
// "a+b" joins encoders: each part's normalised vector, concatenated and normalised again.
func ImageTable(name string, paths []string) (*Table, error) {
	if parts := strings.Split(name, "+"); len(parts) > 1 {
		return joined(name, parts, paths)
	}
	enc, err := imageenc.Encoders.Open(name)
	if err != nil {
		return nil, err
	}
	vecs, err := imageenc.EmbedFiles(enc, paths)
	if err != nil {
		return nil, err
	}
	t := &Table{Encoder: name, Weights: enc.Weights(), Dim: enc.Dim(), Vecs: make(map[string][]float32, len(paths))}
	for i, p := range paths {
		key := filepath.Base(p)
		if _, dup := t.Vecs[key]; dup {
			return nil, fmt.Errorf("two photos named %s", key)
		}
		if t.Vecs[key], err = Normalize(vecs[i]); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, p, err)
		}
	}
	return t, nil
}

// Joined reports whether an image encoder name joins several encoders ("a+b").
func Joined(name string) bool { return strings.Contains(name, "+") }

// joined builds the table of a joined encoder from its parts' tables.
func joined(name string, parts, paths []string) (*Table, error) {
	t := &Table{Encoder: name, Vecs: make(map[string][]float32, len(paths))}
	var weights []string
	for i, p := range parts {
		pt, err := ImageTable(p, paths)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		weights = append(weights, pt.Weights)
		t.Dim += pt.Dim
		for k, v := range pt.Vecs {
			if i == 0 {
				t.Vecs[k] = make([]float32, 0, len(v)*len(parts))
			}
			t.Vecs[k] = append(t.Vecs[k], v...)
		}
	}
	for k, v := range t.Vecs {
		if _, err := Normalize(v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, k, err)
		}
	}
	t.Weights = strings.Join(weights, "+")
	return t, nil
}

// TextTable embeds distinct texts with the named encoder and keys the normalised vectors
// by text.
func TextTable(name string, texts []string) (*Table, error) {
	enc, err := textenc.Encoders.Open(name)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var uniq []string
	for _, s := range texts {
		if !seen[s] {
			seen[s] = true
			uniq = append(uniq, s)
		}
	}
	vecs, err := enc.Embed(uniq)
	if err != nil {
		return nil, err
	}
	t := &Table{Encoder: name, Weights: enc.Weights(), Dim: enc.Dim(), Vecs: make(map[string][]float32, len(uniq))}
	for i, s := range uniq {
		if t.Vecs[s], err = Normalize(vecs[i]); err != nil {
			return nil, fmt.Errorf("%s: text %q: %w", name, s, err)
		}
	}
	return t, nil
}

// Tables opens each named encoder with open; those that fail are returned as Unavailable
// (their error says which file is missing and how to get it), the others as tables, in the
// order of names. The encoders run concurrently: one encoder's pass keeps about one core
// busy (measured: InceptionV3 and CenterNet on 96 photos, 22.3 s one after the other, 17.4 s
// at once on 2 cores); outputs of one pass (inception-mixed5 and inception-pool) wait for
// each other through the embedding cache's lock instead of computing twice.
func Tables(names []string, open func(string) (*Table, error)) ([]*Table, []Unavailable, error) {
	got := make([]*Table, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = open(n)
		}()
	}
	wg.Wait()
	var tables []*Table
	var missing []Unavailable
	for i, n := range names {
		if errs[i] != nil {
			missing = append(missing, Unavailable{n, project.Relative(errs[i].Error())})
			continue
		}
		tables = append(tables, got[i])
	}
	if len(tables) == 0 {
		return nil, missing, errors.New("no encoder available: " + fmt.Sprint(missing))
	}
	return tables, missing, nil
}

// Pair is one (text, photo) row to build.
type Pair struct{ Text, Image string }

// Rows builds [text | image] for each pair.
func Rows(pairs []Pair, text, image *Table) ([][]float32, error) {
	X := make([][]float32, len(pairs))
	for i, p := range pairs {
		t, ok := text.Vecs[p.Text]
		if !ok {
			return nil, fmt.Errorf("%s: no vector for text %q", text.Encoder, p.Text)
		}
		v, ok := image.Vecs[p.Image]
		if !ok {
			return nil, fmt.Errorf("%s: no vector for photo %s", image.Encoder, p.Image)
		}
		row := make([]float32, 0, len(t)+len(v))
		X[i] = append(append(row, t...), v...)
	}
	return X, nil
}
