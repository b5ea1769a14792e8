package search

import (
	"fmt"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/textenc"
)

// RegressorScorer scores photos with a regressor trained on expert scores: the query's
// normalised text embedding is joined to each photo's normalised embedding, [text | image]
// as in training, and the model predicts every row in one batch.
type RegressorScorer struct {
	Label  string
	Text   textenc.Encoder
	Images [][]float32 // normalised photo embeddings, in index order
	Model  regress.Model
}

// Name says which model and encoders score.
func (r *RegressorScorer) Name() string { return r.Label }

// Score predicts the match score of the query with every photo.
func (r *RegressorScorer) Score(query string) ([]float32, error) {
	t, err := embedQuery(r.Text, query)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, len(r.Images))
	buf := make([]float32, len(r.Images)*(len(t)+len(r.Images[0])))
	for i, img := range r.Images {
		row := buf[: 0 : len(t)+len(img)]
		buf = buf[len(t)+len(img):]
		rows[i] = append(append(row, t...), img...)
	}
	return r.Model.Predict(rows)
}

// CosineScorer scores photos by the cosine of the query's and the photo's embeddings in
// a shared space: Project maps a normalised text embedding into the photos' space (nil
// when both encoders already share one).
type CosineScorer struct {
	Label   string
	Text    textenc.Encoder
	Images  [][]float32 // normalised photo vectors in the shared space, in index order
	Project func(text []float32) ([]float32, error)
}

// Name says which space scores.
func (c *CosineScorer) Name() string { return c.Label }

// Score returns the cosine of the query with every photo.
func (c *CosineScorer) Score(query string) ([]float32, error) {
	t, err := embedQuery(c.Text, query)
	if err != nil {
		return nil, err
	}
	if c.Project != nil {
		if t, err = c.Project(t); err != nil {
			return nil, err
		}
		if t, err = features.Normalize(t); err != nil {
			return nil, err
		}
	}
	out := make([]float32, len(c.Images))
	for i, v := range c.Images {
		if len(v) != len(t) {
			return nil, fmt.Errorf("photo %d has %d dims, query %d", i, len(v), len(t))
		}
		var s float32
		for j := range v {
			s += v[j] * t[j]
		}
		out[i] = s
	}
	return out, nil
}

func embedQuery(enc textenc.Encoder, query string) ([]float32, error) {
	vecs, err := enc.Embed([]string{query})
	if err != nil {
		return nil, err
	}
	return features.Normalize(vecs[0])
}
