package retrieval

import (
	"fmt"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
)

// TestTestRanks runs TestRanks on a made-up course of 20 synthetic test photos with five
// queries each, and checks its refusals.
func TestTestRanks(t *testing.T) {
	img, text, of := synthetic(200, 5, 32, 16, 0.5, 8)
	s := testSettings()
	s.Epochs = 10
	m, err := Train(img, text, of, s)
	if err != nil {
		t.Fatal(err)
	}
	m.ImageEncoder, m.TextEncoder = "img", "txt"
	timg, ttext, tof := synthetic(20, 5, 32, 16, 0.5, 9)
	c := &dataset.Course{}
	it := &features.Table{Encoder: "img", Dim: 32, Vecs: map[string][]float32{}}
	tt := &features.Table{Encoder: "txt", Dim: 16, Vecs: map[string][]float32{}}
	for i, v := range timg {
		name := fmt.Sprintf("p%02d.jpg", i)
		c.TestImages = append(c.TestImages, name)
		it.Vecs[name] = v
	}
	for q, v := range ttext {
		text := fmt.Sprintf("query %d", q)
		c.TestQueries = append(c.TestQueries, dataset.TestQuery{QueryID: fmt.Sprintf("p%02d.jpg#%d", tof[q], q%5), Text: text, Image: c.TestImages[tof[q]]})
		tt.Vecs[text] = v
	}
	ranks, err := m.TestRanks(c, it, tt)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranks) != 100 {
		t.Fatalf("%d ranks for 100 queries", len(ranks))
	}
	first := 0
	for _, r := range ranks {
		if r < 1 || r > 20 {
			t.Fatalf("rank %d outside 1..20", r)
		}
		if r == 1 {
			first++
		}
	}
	if first < 50 {
		t.Errorf("%d of 100 queries find their photo first, want ≥ 50", first)
	}
	other := *tt
	other.Encoder = "glove-sif"
	if _, err := m.TestRanks(c, it, &other); err == nil || !strings.Contains(err.Error(), `trained on text encoder "txt", given "glove-sif"`) {
		t.Errorf("wrong text encoder: %v", err)
	}
	delete(it.Vecs, "p03.jpg")
	if _, err := m.TestRanks(c, it, tt); err == nil || !strings.Contains(err.Error(), "no vector for test photo p03.jpg") {
		t.Errorf("missing photo vector: %v", err)
	}
}
