package features

import (
	"cmp"
	"fmt"
	"slices"
)

// Neighbor is a key of a table and its cosine similarity to a query vector.
type Neighbor struct {
	Key    string
	Cosine float32
}

// Nearest returns the k keys of the table most similar to the table's own key (itself
// excluded), best first.
func (t *Table) Nearest(key string, k int) ([]Neighbor, error) {
	q, ok := t.Vecs[key]
	if !ok {
		return nil, fmt.Errorf("%s: no vector for %q", t.Encoder, key)
	}
	out := make([]Neighbor, 0, len(t.Vecs))
	for other, v := range t.Vecs {
		if other == key {
			continue
		}
		var s float32
		for i := range v {
			s += v[i] * q[i]
		}
		out = append(out, Neighbor{other, s})
	}
	slices.SortFunc(out, func(a, b Neighbor) int {
		if c := cmp.Compare(b.Cosine, a.Cosine); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out[:min(k, len(out))], nil
}

// Rows returns the vectors of keys, in order; a missing key is an error.
func (t *Table) Rows(keys []string) ([][]float32, error) {
	out := make([][]float32, len(keys))
	for i, k := range keys {
		v, ok := t.Vecs[k]
		if !ok {
			return nil, fmt.Errorf("%s: no vector for %q", t.Encoder, k)
		}
		out[i] = v
	}
	return out, nil
}
