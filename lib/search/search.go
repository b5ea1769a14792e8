// Package search answers a photographer's description with the photos that match it best:
// the query is checked and cleaned, blocked if it is about children (see Blocked), scored
// against every photo of an index by a Scorer, and the top k photos are returned, never
// including photos that the NSFW guard hides.
package search

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/withsense/withsense/lib/textenc"
)

// MaxQueryRunes is the longest query accepted; a description is a sentence, and a longer
// text is far more likely a paste by mistake than a search.
const MaxQueryRunes = 1000

// ErrEmptyQuery is returned for a query with no letter or digit.
var ErrEmptyQuery = errors.New("empty query: type a description of the scene, e.g. \"two dogs running through shallow water\"")

// SupportedLanguages are the languages the text encoders understand (the content filter
// also reads Russian, the original users' language, to block what it must).
const SupportedLanguages = "English"

// NotUnderstoodError is returned for a query that passes the filter but that the text
// encoders cannot read: one without a Latin letter (a Russian query), or one with no word
// the scorer's text encoder knows (GloVe's ErrNoWords).
type NotUnderstoodError struct {
	Query string
	Err   error // the encoder's own error, if it gave one
}

func (e *NotUnderstoodError) Error() string {
	return fmt.Sprintf("the search does not understand %q: describe the scene in %s, e.g. \"two dogs running through shallow water\"", e.Query, SupportedLanguages)
}

func (e *NotUnderstoodError) Unwrap() error { return e.Err }

// Scorer scores every photo of an index for one query: higher is a better match. The
// returned slice has one score per photo, in index order.
type Scorer interface {
	Name() string
	Score(query string) ([]float32, error)
}

// Result is one photo of an answer.
type Result struct {
	Rank  int     `json:"rank"`
	Path  string  `json:"path"`
	ID    string  `json:"id,omitempty"` // the photo's content hash, when the index has one
	Score float32 `json:"score"`
	// URL is where a server shows the photo (set by lib/web, empty elsewhere).
	URL string `json:"url,omitempty"`
	// Why says what made the photo match, where the scorer can tell (see Explainer).
	Why []string `json:"why,omitempty"`
}

// Answer is what a search returns. A blocked query has no results and carries the Notice.
type Answer struct {
	Query   string   `json:"query"`
	Scorer  string   `json:"scorer"`
	Blocked bool     `json:"blocked"`
	Notice  string   `json:"notice,omitempty"`
	Word    string   `json:"blocked_word,omitempty"`
	Hidden  int      `json:"hidden_by_guard"`
	Results []Result `json:"results"`
}

// Searcher ranks the photos of one index with one scorer.
type Searcher struct {
	Paths  []string // the photos, in the order the scorer scores them
	IDs    []string // the photos' content hashes, in Paths order (nil: none)
	Hidden []bool   // photos the NSFW guard hides (nil: none)
	Scorer Scorer
}

// CheckQuery returns the query with control characters replaced by spaces and outer
// white space trimmed, or an error for an empty, too long or invalid query.
func CheckQuery(q string) (string, error) {
	if !utf8.ValidString(q) {
		return "", fmt.Errorf("query is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(q); n > MaxQueryRunes {
		return "", fmt.Errorf("query is %d characters long; the limit is %d", n, MaxQueryRunes)
	}
	q = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, q)
	q = strings.Join(strings.Fields(q), " ")
	if !strings.ContainsFunc(q, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return "", ErrEmptyQuery
	}
	return q, nil
}

// Search returns the k best photos for the query (all of them if k exceeds the index).
func (s *Searcher) Search(query string, k int) (Answer, error) {
	if k < 1 {
		return Answer{}, fmt.Errorf("k = %d: ask for at least one photo", k)
	}
	ans, scores, order, err := s.rank(query)
	if err != nil || ans.Blocked {
		return ans, err
	}
	for r, i := range TopK(scores, order, k) {
		res := Result{Rank: r + 1, Path: s.Paths[i], Score: scores[i]}
		if s.IDs != nil {
			res.ID = s.IDs[i]
		}
		ans.Results = append(ans.Results, res)
	}
	return ans, nil
}

// Rank returns the 1-based rank that Search gives the photo at path for the query (the
// same filter, guard, scorer and tie order), 0 if the guard hides it; blocked reports a
// query the filter blocks (rank 0 then).
func (s *Searcher) Rank(query, path string) (rank int, blocked bool, err error) {
	return s.rankOf(query, path, false)
}

// RankUnfiltered is Rank for evaluation on every query: a query the filter blocks is
// ranked as if it were allowed (blocked still says so). Search never does this; it
// measures the models on the queries the product refuses to answer.
func (s *Searcher) RankUnfiltered(query, path string) (rank int, blocked bool, err error) {
	return s.rankOf(query, path, true)
}

func (s *Searcher) rankOf(query, path string, unfiltered bool) (rank int, blocked bool, err error) {
	target := slices.Index(s.Paths, path)
	if target < 0 {
		return 0, false, fmt.Errorf("photo %s is not in the index", path)
	}
	ans, scores, order, err := s.score(query, unfiltered)
	if err != nil {
		return 0, ans.Blocked, err
	}
	if ans.Blocked && !unfiltered {
		return 0, true, nil
	}
	for r, i := range TopK(scores, order, len(order)) {
		if i == target {
			return r + 1, ans.Blocked, nil
		}
	}
	return 0, ans.Blocked, nil
}

// rank checks and filters the query and scores every photo: the answer so far, the
// scores and the photos the guard lets through (nil for a blocked query).
func (s *Searcher) rank(query string) (Answer, []float32, []int, error) {
	return s.score(query, false)
}

// score is rank; with unfiltered, a blocked query is scored too (evaluation only).
func (s *Searcher) score(query string, unfiltered bool) (Answer, []float32, []int, error) {
	q, err := CheckQuery(query)
	if err != nil {
		return Answer{}, nil, nil, err
	}
	ans := Answer{Query: q, Scorer: s.Scorer.Name(), Results: []Result{}}
	if blocked, word := Blocked(q); blocked {
		ans.Blocked, ans.Notice, ans.Word = true, Notice, word
		if !unfiltered {
			return ans, nil, nil, nil
		}
	}
	// The text encoders are English models: a query without a Latin letter (Russian,
	// Chinese, digits alone) would be scored from tokens they never learnt.
	if !strings.ContainsFunc(q, func(r rune) bool { return unicode.Is(unicode.Latin, r) }) {
		return Answer{}, nil, nil, &NotUnderstoodError{Query: q}
	}
	scores, err := s.Scorer.Score(q)
	if errors.Is(err, textenc.ErrNoWords) {
		return Answer{}, nil, nil, &NotUnderstoodError{Query: q, Err: err}
	}
	if err != nil {
		return Answer{}, nil, nil, err
	}
	if len(scores) != len(s.Paths) {
		return Answer{}, nil, nil, fmt.Errorf("scorer %s gave %d scores for %d photos", s.Scorer.Name(), len(scores), len(s.Paths))
	}
	order := make([]int, 0, len(scores))
	for i, v := range scores {
		if s.Hidden != nil && s.Hidden[i] {
			ans.Hidden++
			continue
		}
		if math.IsNaN(float64(v)) {
			return Answer{}, nil, nil, fmt.Errorf("scorer %s gave NaN for %s", s.Scorer.Name(), s.Paths[i])
		}
		order = append(order, i)
	}
	return ans, scores, order, nil
}

// TopK returns the k candidates with the highest scores, best first; ties keep the
// candidates' order. For k much smaller than the candidates it keeps a heap of the k best
// (n log k instead of sorting all n).
func TopK(scores []float32, candidates []int, k int) []int {
	k = min(k, len(candidates))
	// before reports whether the candidate at position a ranks before the one at b.
	before := func(a, b int) bool {
		sa, sb := scores[candidates[a]], scores[candidates[b]]
		return sa > sb || (sa == sb && a < b)
	}
	if k <= 0 {
		return []int{}
	}
	if k > len(candidates)/8 {
		pos := make([]int, len(candidates))
		for i := range pos {
			pos[i] = i
		}
		slices.SortStableFunc(pos, func(a, b int) int { return cmp.Compare(scores[candidates[b]], scores[candidates[a]]) })
		out := make([]int, k)
		for i := range out {
			out[i] = candidates[pos[i]]
		}
		return out
	}
	// heap[0] is the worst of the k best so far (positions into candidates).
	heap := make([]int, 0, k)
	down := func(i int) {
		for {
			w, l, r := i, 2*i+1, 2*i+2
			if l < len(heap) && before(heap[w], heap[l]) {
				w = l
			}
			if r < len(heap) && before(heap[w], heap[r]) {
				w = r
			}
			if w == i {
				return
			}
			heap[i], heap[w] = heap[w], heap[i]
			i = w
		}
	}
	for p := range candidates {
		if len(heap) < k {
			heap = append(heap, p)
			for i := len(heap) - 1; i > 0 && before(heap[(i-1)/2], heap[i]); i = (i - 1) / 2 {
				heap[i], heap[(i-1)/2] = heap[(i-1)/2], heap[i]
			}
		} else if before(p, heap[0]) {
			heap[0] = p
			down(0)
		}
	}
	slices.SortFunc(heap, func(a, b int) int {
		if before(a, b) {
			return -1
		}
		return 1
	})
	out := make([]int, k)
	for i, p := range heap {
		out[i] = candidates[p]
	}
	return out
}

// RankOf returns the 1-based rank of photo target among the candidates by score (ties
// counted pessimistically: a photo tied with the target ranks before it).
func RankOf(scores []float32, target int) int {
	rank := 1
	for i, v := range scores {
		if i != target && v >= scores[target] {
			rank++
		}
	}
	return rank
}
