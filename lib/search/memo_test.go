package search

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/textenc"
)

// countingText is a text encoder that counts how often it embeds each text.
type countingText struct {
	textenc.Encoder
	mu    sync.Mutex
	texts map[string]int
}

func (c *countingText) Embed(texts []string) ([][]float32, error) {
	c.mu.Lock()
	for _, s := range texts {
		c.texts[s]++
	}
	c.mu.Unlock()
	return c.Encoder.Embed(texts)
}

func (c *countingText) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.texts[s]
}

// TestQueryEmbeddedOnce: a Blend of a `use` cosine and the label score, both reading the
// same `use` encoder, embeds a query once: for its search, for Explain, for a second
// search and for its parts called on their own (the memo keeps recent queries), and scores
// as those parts do; a query pushed out of a small memo by newer ones is embedded again.
func TestQueryEmbeddedOnce(t *testing.T) {
	enc := &countingText{Encoder: openUSE(t), texts: map[string]int{}}
	captions := []string{"a dog runs through shallow water", "a cat sleeps on a sofa", "a man rides a bicycle", "two dogs play in the snow"}
	images, err := embedPrompts(enc, "%s", captions) // normalised
	if err != nil {
		t.Fatal(err)
	}
	labels, err := NewLabelScorer(enc, [][]float32{
		presence(t, map[string]float32{"dog": 0.9}), presence(t, map[string]float32{"cat": 0.9, "couch": 0.5}),
		presence(t, map[string]float32{"person": 0.9, "bicycle": 0.8}), presence(t, map[string]float32{"dog": 0.7}),
	})
	if err != nil {
		t.Fatal(err)
	}
	blend := &Blend{A: &CosineScorer{Label: "use cosine", Text: enc, Images: images}, B: labels}
	s := &Searcher{Paths: captions, Scorer: blend}
	const q = "dogs running in the water"
	ans, err := s.Search(q, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n := enc.count(q); n != 1 {
		t.Errorf("one search embedded the query %d times, want 1", n)
	}
	if err := s.Explain(&ans); err != nil {
		t.Fatal(err)
	}
	again, err := s.Search(q, 4)
	if err != nil {
		t.Fatal(err)
	}
	a, err := blend.A.Score(q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blend.B.Score(q)
	if err != nil {
		t.Fatal(err)
	}
	if n := enc.count(q); n != 1 {
		t.Errorf("Explain, a second search and the parts embedded the query %d more times, want 0", n-1)
	}
	want := BlendWeighted(a, b, 1)
	for i, r := range ans.Results {
		if j := slices.Index(captions, r.Path); r.Score != want[j] {
			t.Errorf("%s: score %g in the search, %g from the parts alone", r.Path, r.Score, want[j])
		}
		if again.Results[i].Path != r.Path || again.Results[i].Score != r.Score {
			t.Errorf("rank %d: %s in the first search, %s in the second", i+1, r.Path, again.Results[i].Path)
		}
	}
	if ans.Results[0].Path != captions[0] {
		t.Errorf("best match %s, want %s", ans.Results[0].Path, captions[0])
	}

	saved := memo
	defer func() { memo = saved }()
	memo = newQueryMemo(2)
	for _, other := range []string{q, "a red car", "a blue boat", q} {
		if _, err := s.Search(other, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := enc.count(q); n != 3 {
		t.Errorf("with a memo of 2 queries: query embedded %d times in all, want 3 (once more when new, once more after 2 newer queries)", n)
	}
}

// TestProjectTextBatched: the trained two-tower's text tower gives the same vectors (within
// 1e-5 per component) for 40 real queries projected together by concurrent callers
// through a Batcher as one by one. It needs the models `make report` trains.
func TestProjectTextBatched(t *testing.T) {
	cfg, err := LoadConfig()
	if err != nil {
		t.Skip(err)
	}
	m, err := retrieval.Load(cfg.TwoTowerDir)
	if err != nil {
		t.Fatal(err)
	}
	text, err := textenc.Encoders.Open(m.TextEncoder)
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{"two dogs running through shallow water", "a man on a red bicycle", "a child eating ice cream"}
	for len(queries) < 40 {
		queries = append(queries, queries[len(queries)%3]+" at night "+string(rune('a'+len(queries))))
	}
	feats, err := embedPrompts(text, "%s", queries) // normalised, as the search projects them
	if err != nil {
		t.Fatal(err)
	}
	b := textenc.NewBatcher(m.ProjectText, QueryBatch, 20*time.Millisecond)
	got := make([][]float32, len(feats))
	errs := make([]error, len(feats))
	var wg sync.WaitGroup
	for i := range feats {
		wg.Go(func() {
			out, err := b.Do(feats[i : i+1])
			if errs[i] = err; err == nil {
				got[i] = out[0]
			}
		})
	}
	wg.Wait()
	worst := 0.0
	for i := range feats {
		if errs[i] != nil {
			t.Fatalf("query %d: %v", i, errs[i])
		}
		alone, err := m.ProjectText(feats[i : i+1])
		if err != nil {
			t.Fatal(err)
		}
		for j := range alone[0] {
			worst = max(worst, math.Abs(float64(alone[0][j]-got[i][j])))
		}
	}
	t.Logf("largest difference to one by one: %.2g", worst)
	if worst > 1e-5 {
		t.Errorf("batched projections differ from one-by-one ones by up to %g, want ≤ 1e-5", worst)
	}
}
