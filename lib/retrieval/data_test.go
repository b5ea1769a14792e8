package retrieval

import (
	"errors"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
)

// course loads the course archive, or skips when it is absent.
func course(t *testing.T) *dataset.Course {
	t.Helper()
	c, err := dataset.LoadDefault()
	if errors.Is(err, dataset.ErrNotFound) {
		t.Skipf("course archive absent: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTrainingPairs checks the training pairs on the real data: five captions for each of
// the 1,000 training photos, none of a test photo, no test query among them as the same
// (photo, caption).
func TestTrainingPairs(t *testing.T) {
	c := course(t)
	p, err := TrainingPairs(c)
	if errors.Is(err, dataset.ErrNotFound) {
		t.Skipf("Flickr8k text files absent: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Photos) != 1000 || len(p.Texts) != 5000 || len(p.ImageOfText) != 5000 || len(p.CaptionIDs) != 5000 {
		t.Fatalf("%d photos, %d texts, %d indices, %d ids: want 1000, 5000, 5000, 5000", len(p.Photos), len(p.Texts), len(p.ImageOfText), len(p.CaptionIDs))
	}
	test := map[string]bool{}
	for _, im := range c.TestImages {
		test[im] = true
	}
	for i, id := range p.CaptionIDs {
		photo := p.Photos[p.ImageOfText[i]]
		if test[photo] {
			t.Fatalf("caption %s of test photo %s among the training pairs", id, photo)
		}
		if !strings.HasPrefix(id, photo+"#") {
			t.Fatalf("caption %s paired with photo %s", id, photo)
		}
	}
	// Pairs of a test photo are refused.
	caps := []dataset.Caption{{ID: c.TestImages[0] + "#0", Image: c.TestImages[0], Text: "a dog"}}
	if _, err := pairsOf(caps, c); err == nil || !strings.Contains(err.Error(), "course test photo") {
		t.Errorf("a caption of test photo %s: error %v", c.TestImages[0], err)
	}
	// Without drops a photo with all its captions and renumbers the rest.
	w := p.Without(map[string]bool{p.Photos[0]: true})
	if len(w.Photos) != 999 || len(w.Texts) != 4995 || w.Photos[0] != p.Photos[1] || w.ImageOfText[0] != 0 {
		t.Errorf("without photo %s: %d photos, %d texts, first %s (index %d)", p.Photos[0], len(w.Photos), len(w.Texts), w.Photos[0], w.ImageOfText[0])
	}
	// Features name what a table lacks.
	img := &features.Table{Encoder: "fake", Dim: 2, Vecs: map[string][]float32{}}
	if _, _, err := p.Features(img, img); err == nil || !strings.Contains(err.Error(), "no vector for photo "+p.Photos[0]) {
		t.Errorf("empty tables: %v", err)
	}
}
