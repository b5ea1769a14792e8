package search

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/textenc"
)

// MaxWhy is how many words a result's explanation names at most.
const MaxWhy = 3

// PartScorer is a Scorer that can also score a few photos for several queries at once,
// which explaining a result needs (see Explain). A query the text encoder cannot embed
// scores NaN.
type PartScorer interface {
	Scorer
	ScorePart(queries []string, photos []int) ([][]float32, error)
}

// explainer returns the scorer that explains a scorer's ranking: itself, or for a
// combination the part that decides the order (the reranker of a Rerank; the two-tower
// of a Blend, whose z-scores depend on every photo).
func explainer(s Scorer) (PartScorer, bool) {
	switch c := s.(type) {
	case *Rerank:
		return explainer(c.Second)
	case *Blend:
		return explainer(c.A)
	case PartScorer:
		return c, true
	}
	return nil, false
}

// Explain fills each result's Why with the query's words that matter most for that
// photo, most first: the words whose removal from the query lowers the photo's score
// the most (at most MaxWhy, only those that lower it). It does nothing for a blocked
// answer or a scorer that cannot explain. A scorer with a label part (two-tower+labels)
// adds the classes its label score comes from ("frisbee 0.71", see LabelScorer.Why).
func (s *Searcher) Explain(ans *Answer) error {
	if err := s.explainWords(ans); err != nil {
		return err
	}
	return s.explainLabels(ans)
}

// explainWords fills each result's Why with the query's words that matter most (Explain).
func (s *Searcher) explainWords(ans *Answer) error {
	ps, ok := explainer(s.Scorer)
	if !ok || ans.Blocked || len(ans.Results) == 0 {
		return nil
	}
	words := textenc.Words(textenc.Clean(ans.Query))
	var distinct []string
	for _, w := range words {
		if !slices.Contains(distinct, w) {
			distinct = append(distinct, w)
		}
	}
	if len(distinct) < 2 {
		for i := range ans.Results {
			ans.Results[i].Why = distinct
		}
		return nil
	}
	queries := []string{ans.Query}
	for _, d := range distinct {
		var rest []string
		for _, w := range words {
			if w != d {
				rest = append(rest, w)
			}
		}
		queries = append(queries, strings.Join(rest, " "))
	}
	photos, err := s.resultPhotos(ans)
	if err != nil {
		return err
	}
	scores, err := ps.ScorePart(queries, photos)
	if err != nil {
		return err
	}
	for i := range ans.Results {
		type drop struct {
			word string
			by   float32
		}
		var drops []drop
		for j, w := range distinct {
			by := scores[0][i] - scores[j+1][i]
			if scores[j+1][i] != scores[j+1][i] { // NaN: the rest of the query has no known word
				by = float32(1e9)
			}
			if by > 0 {
				drops = append(drops, drop{w, by})
			}
		}
		slices.SortStableFunc(drops, func(a, b drop) int { return cmp.Compare(b.by, a.by) })
		ans.Results[i].Why = nil
		for _, d := range drops[:min(MaxWhy, len(drops))] {
			ans.Results[i].Why = append(ans.Results[i].Why, d.word)
		}
	}
	return nil
}

// resultPhotos returns the index positions of an answer's photos.
func (s *Searcher) resultPhotos(ans *Answer) ([]int, error) {
	photos := make([]int, len(ans.Results))
	for i, r := range ans.Results {
		if photos[i] = slices.Index(s.Paths, r.Path); photos[i] < 0 {
			return nil, fmt.Errorf("explain: photo %s is not in the index", r.Path)
		}
	}
	return photos, nil
}

// embedQueries embeds each query on its own (nil for one without a known word).
func embedQueries(enc textenc.Encoder, queries []string) ([][]float32, error) {
	out := make([][]float32, len(queries))
	for i, q := range queries {
		v, err := embedQuery(enc, q)
		if errors.Is(err, textenc.ErrNoWords) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ScorePart returns the scores of each query with the given photos (as Score).
func (c *CosineScorer) ScorePart(queries []string, photos []int) ([][]float32, error) {
	texts, err := embedQueries(c.Text, queries)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(queries))
	for qi, t := range texts {
		out[qi] = make([]float32, len(photos))
		if t == nil {
			for i := range out[qi] {
				out[qi][i] = nan32()
			}
			continue
		}
		if t, err = c.project(queries[qi], t); err != nil {
			return nil, err
		}
		for i, p := range photos {
			out[qi][i] = dot32(c.Images[p], t)
			if c.Offsets != nil {
				out[qi][i] -= c.Offsets[p]
			}
		}
	}
	return out, nil
}

// ScorePart predicts the match score of each query with the given photos, in one batch.
func (r *RegressorScorer) ScorePart(queries []string, photos []int) ([][]float32, error) {
	texts, err := embedQueries(r.Text, queries)
	if err != nil {
		return nil, err
	}
	var rows [][]float32
	for _, t := range texts {
		if t == nil {
			continue
		}
		for _, p := range photos {
			rows = append(rows, append(slices.Clone(t), r.Images[p]...))
		}
	}
	pred, err := r.Model.Predict(rows)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(queries))
	for qi, t := range texts {
		out[qi] = make([]float32, len(photos))
		for i := range photos {
			if t == nil {
				out[qi][i] = nan32()
			} else {
				out[qi][i], pred = pred[0], pred[1:]
			}
		}
	}
	return out, nil
}
