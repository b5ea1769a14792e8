package search

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/search/searchtest"
	"github.com/withsense/withsense/lib/textenc"
)

func searcher() *Searcher {
	names := []string{"dog_water.jpg", "dog_grass.jpg", "cat_sofa.jpg", "dog_water_run.jpg"}
	return &Searcher{Paths: names, Scorer: &searchtest.WordScorer{Names: names}}
}

func TestSearchRanks(t *testing.T) {
	s := searcher()
	ans, err := s.Search("dog water run", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range ans.Results {
		got = append(got, fmt.Sprintf("%d:%s:%g", r.Rank, r.Path, r.Score))
	}
	want := "1:dog_water_run.jpg:3 2:dog_water.jpg:2 3:dog_grass.jpg:1"
	if strings.Join(got, " ") != want {
		t.Errorf("results %v, want %s", got, want)
	}
	// k larger than the index returns every photo.
	ans, _ = s.Search("dog", 50)
	if len(ans.Results) != 4 {
		t.Errorf("k=50 over 4 photos: %d results", len(ans.Results))
	}
	// Hidden photos are never returned, and counted.
	s.Hidden = []bool{false, false, false, true}
	ans, _ = s.Search("dog water run", 10)
	if len(ans.Results) != 3 || ans.Results[0].Path != "dog_water.jpg" || ans.Hidden != 1 {
		t.Errorf("with a hidden photo: %+v", ans)
	}
}

func TestSearchBlocksChildren(t *testing.T) {
	ans, err := searcher().Search("a boy and his dog in the water", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Blocked || ans.Notice != Notice || len(ans.Results) != 0 || ans.Word != "boy" {
		t.Errorf("blocked query answered %+v", ans)
	}
}

func TestBadQueries(t *testing.T) {
	s := searcher()
	for _, tc := range []struct{ q, want string }{
		{"", ErrEmptyQuery.Error()},
		{" \t\n ", ErrEmptyQuery.Error()},
		{"?!...", ErrEmptyQuery.Error()},
		{strings.Repeat("dog ", 2500), "query is 10000 characters long; the limit is 1000"},
		{"dog\xff", "query is not valid UTF-8 text"},
	} {
		_, err := s.Search(tc.q, 5)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Search(%.20q): %v, want %q", tc.q, err, tc.want)
		}
	}
	// A Russian query is read by the filter (blocked when about children) but not sent to
	// the English text encoders: it gets the supported languages.
	var nu *NotUnderstoodError
	if _, err := s.Search("собака в воде", 2); !errors.As(err, &nu) || nu.Query != "собака в воде" {
		t.Errorf("Cyrillic query: %v", err)
	}
	if ans, err := s.Search("мальчик с собакой", 2); err != nil || !ans.Blocked {
		t.Errorf("Cyrillic query about a child: %+v, %v", ans, err)
	}
	if _, err := s.Search("dog", 0); err == nil {
		t.Error("k = 0 accepted")
	}
	// Control characters become spaces.
	ans, err := s.Search("dog\x00water\x07", 1)
	if err != nil || ans.Query != "dog water" || ans.Results[0].Path != "dog_water.jpg" {
		t.Errorf("control characters: %+v %v", ans, err)
	}
	if !errors.Is(func() error { _, err := s.Search("", 1); return err }(), ErrEmptyQuery) {
		t.Error("empty query error is not ErrEmptyQuery")
	}
}

func TestRankOf(t *testing.T) {
	if r := RankOf([]float32{0.1, 0.9, 0.5, 0.9}, 2); r != 3 {
		t.Errorf("rank %d, want 3", r)
	}
	if r := RankOf([]float32{0.1, 0.9, 0.5, 0.9}, 1); r != 2 {
		t.Errorf("tied rank %d, want 2 (pessimistic)", r)
	}
}

func TestRerankAndBlend(t *testing.T) {
	first := []float32{0.9, 0.8, 0.1, 0.7}   // top 2: photos 0, 1
	second := []float32{0.2, 0.6, 0.99, 0.5} // prefers 1 over 0; photo 2 is outside the top
	got := RerankScores(first, second, 2)
	idx := []int{0, 1, 2, 3}
	order := TopK(got, idx, 4)
	if fmt.Sprint(order) != "[1 0 3 2]" {
		t.Errorf("rerank order %v, want [1 0 3 2]", order)
	}
	b := BlendScores([]float32{1, 2, 3}, []float32{30, 20, 10})
	for _, v := range b {
		if v > 1e-6 || v < -1e-6 {
			t.Errorf("opposite scores should blend to 0: %v", b)
		}
	}
	if c := BlendScores([]float32{1, 1, 1}, []float32{1, 2, 3}); c[0] >= c[2] {
		t.Errorf("a constant score should leave the other's order: %v", c)
	}
}

// TestNotUnderstood: a query that passes the filter but has no word GloVe knows gets a
// message naming the supported languages, not the encoder's internal text; through GloVe
// alone and through USE joined with it (whose USE part would embed any letters).
func TestNotUnderstood(t *testing.T) {
	for _, name := range []string{"glove-mean", "use+glove-mean"} {
		enc, err := textenc.Encoders.Open(name)
		if err != nil {
			t.Skip(err)
		}
		img := make([]float32, enc.Dim())
		img[0] = 1
		s := &Searcher{Paths: []string{"a.jpg"}, Scorer: &CosineScorer{Label: name, Text: enc, Images: [][]float32{img}}}
		_, err = s.Search("zzqxv blorptangle", 1)
		var nu *NotUnderstoodError
		if !errors.As(err, &nu) || !errors.Is(err, textenc.ErrNoWords) ||
			err.Error() != `the search does not understand "zzqxv blorptangle": describe the scene in English, e.g. "two dogs running through shallow water"` {
			t.Errorf("%s: query of words GloVe does not know: %v", name, err)
		}
		if ans, err := s.Search("a dog in the water", 1); err != nil || len(ans.Results) != 1 {
			t.Errorf("%s: English query: %+v, %v", name, ans, err)
		}
	}
}

func TestRankMatchesSearch(t *testing.T) {
	s := searcher()
	s.Hidden = []bool{false, true, false, false}
	ans, _ := s.Search("dog water run", 4)
	for _, r := range ans.Results {
		if rank, blocked, err := s.Rank("dog water run", r.Path); err != nil || blocked || rank != r.Rank {
			t.Errorf("Rank(%s) = %d %v %v, Search ranked it %d", r.Path, rank, blocked, err, r.Rank)
		}
	}
	if rank, _, err := s.Rank("dog water run", "dog_grass.jpg"); err != nil || rank != 0 {
		t.Errorf("hidden photo ranked %d, %v", rank, err)
	}
	if rank, blocked, _ := s.Rank("a boy with a dog", "dog_water.jpg"); !blocked || rank != 0 {
		t.Errorf("Rank of a blocked query: %d, blocked %v", rank, blocked)
	}
	// Unfiltered, a blocked query is ranked as its words without the blocked one would be
	// scored: the same scorer, guard and ties.
	want, _, _ := s.Rank("a dog", "dog_water.jpg")
	scores, _ := s.Scorer.Score("a boy with a dog")
	if rank, blocked, err := s.RankUnfiltered("a boy with a dog", "dog_water.jpg"); err != nil || !blocked || rank < 1 || want < 1 {
		t.Errorf("RankUnfiltered of a blocked query: %d, blocked %v, %v", rank, blocked, err)
	} else if order := TopK(scores, []int{0, 2, 3}, 3); s.Paths[order[rank-1]] != "dog_water.jpg" {
		t.Errorf("RankUnfiltered gave rank %d, the scorer's order is %v", rank, order)
	}
	if _, _, err := s.Rank("dog", "absent.jpg"); err == nil {
		t.Error("Rank of a photo not in the index")
	}
}

// TestTopKHeapMatchesSort: the heap path gives what a full stable sort gives, ties
// included.
func TestTopKHeapMatchesSort(t *testing.T) {
	scores := make([]float32, 1000)
	for i := range scores {
		scores[i] = float32((i * 7919) % 97) // many ties
	}
	var cands []int
	for i := range scores {
		if i%3 != 0 {
			cands = append(cands, i)
		}
	}
	all := TopK(scores, cands, len(cands)) // the sort path
	for _, k := range []int{1, 5, 10, 50} {
		if got := TopK(scores, cands, k); fmt.Sprint(got) != fmt.Sprint(all[:k]) {
			t.Errorf("k=%d: heap %v, sort %v", k, got, all[:k])
		}
	}
	if got := TopK(scores, nil, 3); len(got) != 0 {
		t.Errorf("no candidates: %v", got)
	}
}
