package textenc

import (
	"fmt"
	"math"
	"strings"
)

func init() { Encoders.Joins(Join) }

// Join is text encoders side by side, named name ("use+glove-mean"): a text's vector is
// each part's vector scaled to unit length, concatenated, and scaled to unit length again
// (the way features.ImageTable joins image encoders), so each part weighs the same
// whatever its dimension. A part's refusal is the join's: glove-mean's *NoWordsError for a
// text without a known word comes back wrapped (errors.Is(err, ErrNoWords) holds), as
// glove-mean alone would answer.
func Join(name string, parts []Encoder) (Encoder, error) {
	if len(parts) < 2 {
		return nil, fmt.Errorf("text encoder %q: a join needs at least two parts, got %d", name, len(parts))
	}
	j := &joined{name: name, parts: parts}
	for _, p := range parts {
		j.dim += p.Dim()
	}
	return j, nil
}

type joined struct {
	name  string
	parts []Encoder
	dim   int
}

func (j *joined) Name() string { return j.name }
func (j *joined) Dim() int     { return j.dim }

// Weights joins the parts' weights with "+".
func (j *joined) Weights() string {
	w := make([]string, len(j.parts))
	for i, p := range j.parts {
		w[i] = p.Weights()
	}
	return strings.Join(w, "+")
}

// Embed embeds the texts with every part and joins the vectors.
func (j *joined) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = make([]float32, 0, j.dim)
	}
	for _, p := range j.parts {
		vecs, err := p.Embed(texts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.name, err)
		}
		if len(vecs) != len(texts) {
			return nil, fmt.Errorf("%s: %s gave %d vectors for %d texts", j.name, p.Name(), len(vecs), len(texts))
		}
		for i, v := range vecs {
			if len(v) != p.Dim() {
				return nil, fmt.Errorf("%s: %s gave a vector of length %d for text %q, want %d", j.name, p.Name(), len(v), texts[i], p.Dim())
			}
			out[i] = append(out[i], unit(v)...)
		}
	}
	for _, v := range out {
		copy(v, unit(v))
	}
	return out, nil
}

// unit returns v scaled to unit L2 norm (a new slice); a zero vector stays zero (a
// sentence encoder's vectors are never zero; the join's are not either).
func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	u := make([]float32, len(v))
	if s == 0 {
		return u
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		u[i] = float32(float64(x) * inv)
	}
	return u
}
