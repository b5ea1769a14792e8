// Package searchtest holds a transparent scorer for testing what is built on the search
// (the search's own mechanics, the server) without the trained models, as httptest does
// for net/http.
package searchtest

import "strings"

// WordScorer scores a photo by how many of the query's words (lower-cased) its name
// contains: "dog water" gives "dog_water.jpg" 2 and "dog_grass.jpg" 1.
type WordScorer struct{ Names []string }

// Name says what scores.
func (w *WordScorer) Name() string { return "words in the file name" }

// Score counts the query's words in every photo's name.
func (w *WordScorer) Score(q string) ([]float32, error) {
	out := make([]float32, len(w.Names))
	for i, n := range w.Names {
		for _, word := range strings.Fields(strings.ToLower(q)) {
			if strings.Contains(n, word) {
				out[i]++
			}
		}
	}
	return out, nil
}

// ScorePart scores the given photos for each query (search.PartScorer), so results can
// be explained.
func (w *WordScorer) ScorePart(queries []string, photos []int) ([][]float32, error) {
	out := make([][]float32, len(queries))
	for i, q := range queries {
		all, _ := w.Score(q)
		for _, p := range photos {
			out[i] = append(out[i], all[p])
		}
	}
	return out, nil
}
