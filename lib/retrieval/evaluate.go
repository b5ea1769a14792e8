package retrieval

import (
	"fmt"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/metrics"
)

// Similarities returns the cosine of every text with every photo in the shared space:
// sims[t][p] for texts × photos.
func (m *Model) Similarities(imgFeats, textFeats [][]float32) ([][]float32, error) {
	return m.similarities(imgFeats, textFeats, modeInfer)
}

func (m *Model) similarities(imgFeats, textFeats [][]float32, mode graphMode) ([][]float32, error) {
	vi, err := m.project(imageScope, imgFeats, mode)
	if err != nil {
		return nil, err
	}
	vt, err := m.project(textScope, textFeats, mode)
	if err != nil {
		return nil, err
	}
	sims := make([][]float32, len(vt))
	for t, a := range vt {
		sims[t] = make([]float32, len(vi))
		for p, b := range vi {
			sims[t][p] = dot(a, b)
		}
	}
	return sims, nil
}

// Ranks returns, for every text, the 1-based rank of its photo relevant[t] (an index into
// imgFeats) among all photos sorted by descending cosine (ties counted against it, as
// metrics.Rank does).
func (m *Model) Ranks(imgFeats, textFeats [][]float32, relevant []int) ([]int, error) {
	return m.ranks(imgFeats, textFeats, relevant, modeInfer)
}

func (m *Model) ranks(imgFeats, textFeats [][]float32, relevant []int, mode graphMode) ([]int, error) {
	if len(relevant) != len(textFeats) {
		return nil, fmt.Errorf("two-tower: %d texts but %d relevant photos", len(textFeats), len(relevant))
	}
	for t, p := range relevant {
		if p < 0 || p >= len(imgFeats) {
			return nil, fmt.Errorf("two-tower: relevant[%d] = %d, out of range [0, %d) of the photos", t, p, len(imgFeats))
		}
	}
	sims, err := m.similarities(imgFeats, textFeats, mode)
	if err != nil {
		return nil, err
	}
	ranks := make([]int, len(sims))
	for t, row := range sims {
		if ranks[t], err = metrics.Rank(row, relevant[t]); err != nil {
			return nil, fmt.Errorf("two-tower: text %d: %w", t, err)
		}
	}
	return ranks, nil
}

// TestRanks ranks the course's test photos (test_images.csv, 100) for each test query
// (test_queries.csv, 500) and returns the rank of each query's own photo, in the order of
// c.TestQueries. img must hold the test photos' vectors and txt the queries' (tables of
// the encoders the model was trained on).
func (m *Model) TestRanks(c *dataset.Course, img, txt *features.Table) ([]int, error) {
	if err := m.checkTables(img, txt); err != nil {
		return nil, err
	}
	at := make(map[string]int, len(c.TestImages))
	imgFeats := make([][]float32, len(c.TestImages))
	for i, name := range c.TestImages {
		v, ok := img.Vecs[name]
		if !ok {
			return nil, fmt.Errorf("two-tower: %s: no vector for test photo %s", img.Encoder, name)
		}
		at[name], imgFeats[i] = i, v
	}
	textFeats := make([][]float32, len(c.TestQueries))
	relevant := make([]int, len(c.TestQueries))
	for q, tq := range c.TestQueries {
		v, ok := txt.Vecs[tq.Text]
		if !ok {
			return nil, fmt.Errorf("two-tower: %s: no vector for test query %s %q", txt.Encoder, tq.QueryID, tq.Text)
		}
		p, ok := at[tq.Image]
		if !ok {
			return nil, fmt.Errorf("two-tower: test query %s names photo %s, not in test_images.csv", tq.QueryID, tq.Image)
		}
		textFeats[q], relevant[q] = v, p
	}
	return m.Ranks(imgFeats, textFeats, relevant)
}

// checkTables refuses feature tables of other encoders than the model's (where the model
// knows them) or of another width.
func (m *Model) checkTables(img, txt *features.Table) error {
	if m.ImageEncoder != "" && img.Encoder != m.ImageEncoder {
		return fmt.Errorf("two-tower: trained on image encoder %q, given %q", m.ImageEncoder, img.Encoder)
	}
	if m.TextEncoder != "" && txt.Encoder != m.TextEncoder {
		return fmt.Errorf("two-tower: trained on text encoder %q, given %q", m.TextEncoder, txt.Encoder)
	}
	if img.Dim != m.ImageDim || txt.Dim != m.TextDim {
		return fmt.Errorf("two-tower: takes %d-d image and %d-d text features, tables are %d-d (%s) and %d-d (%s)",
			m.ImageDim, m.TextDim, img.Dim, img.Encoder, txt.Dim, txt.Encoder)
	}
	return nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
