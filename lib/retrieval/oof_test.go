package retrieval

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
)

// oofFixture returns synthetic photos (5 captions each) as feature tables and pairs, and
// as expert samples each photo with its own caption 0 and with caption 0 of the next photo.
func oofFixture(photos int) ([]dataset.Sample, *Pairs, *features.Table, *features.Table) {
	return oofTables(synthetic(photos, 5, 32, 16, 0.5, 10))
}

// oofTables turns synthetic features into the tables, pairs and samples of oofFixture.
func oofTables(img, text [][]float32, of []int) ([]dataset.Sample, *Pairs, *features.Table, *features.Table) {
	it := &features.Table{Encoder: "img", Dim: len(img[0]), Vecs: map[string][]float32{}}
	tt := &features.Table{Encoder: "txt", Dim: len(text[0]), Vecs: map[string][]float32{}}
	p := &Pairs{}
	for i, v := range img {
		name := fmt.Sprintf("p%03d.jpg", i)
		p.Photos = append(p.Photos, name)
		it.Vecs[name] = v
	}
	for i, v := range text {
		s := fmt.Sprintf("caption %d", i)
		p.Texts, p.ImageOfText = append(p.Texts, s), append(p.ImageOfText, of[i])
		p.CaptionIDs = append(p.CaptionIDs, fmt.Sprintf("%s#%d", p.Photos[of[i]], i%5))
		tt.Vecs[s] = v
	}
	var samples []dataset.Sample
	for i, name := range p.Photos {
		own, other := 5*i, 5*((i+1)%len(p.Photos))
		samples = append(samples,
			dataset.Sample{Image: name, QueryID: p.CaptionIDs[own], Text: p.Texts[own], Crowd: math.NaN()},
			dataset.Sample{Image: name, QueryID: p.CaptionIDs[other], Text: p.Texts[other], Crowd: math.NaN()})
	}
	return samples, p, it, tt
}

// TestOutOfFold scores synthetic expert pairs out of fold: a photo with one of its own
// captions must score above a photo with another photo's caption far more often than not.
func TestOutOfFold(t *testing.T) {
	samples, p, it, tt := oofFixture(150)
	s := testSettings()
	s.Epochs = 8
	scores, err := OutOfFold(samples, p, it, tt, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != len(samples) {
		t.Fatalf("%d scores for %d samples", len(scores), len(samples))
	}
	wins := 0
	for i := 0; i < len(samples); i += 2 {
		if scores[i] > scores[i+1] {
			wins++
		}
	}
	if wins < 120 {
		t.Errorf("own caption above another photo's for %d of 150 photos, want ≥ 120", wins)
	}
	delete(tt.Vecs, p.Texts[5])
	if _, err := OutOfFold(samples, p, it, tt, s); err == nil || !strings.Contains(err.Error(), `no vector for caption p001.jpg#0 "caption 5"`) {
		t.Errorf("missing caption vector: %v", err)
	}
}

// TestOutOfFoldDeterministic checks the out-of-fold scores are the same bits whether the
// folds train one after the other or one per core at once. The image tower is wide
// enough (256 → 256 on batches of 128) that the Go backend splits its matrix products
// over its workers.
func TestOutOfFoldDeterministic(t *testing.T) {
	samples, p, it, tt := oofTables(synthetic(200, 5, 256, 64, 0.5, 11))
	s := testSettings()
	s.Epochs, s.BatchSize, s.ImageHidden = 2, 128, 256
	seq, err := outOfFold(samples, p, it, tt, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	par, err := outOfFold(samples, p, it, tt, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range seq {
		if math.Float32bits(seq[i]) != math.Float32bits(par[i]) {
			t.Fatalf("sample %d: %v with folds one at a time, %v with folds at once", i, seq[i], par[i])
		}
	}
}

// BenchmarkOutOfFold times the five folds of OutOfFold with DefaultSettings on data of
// the course's shape (1,000 photos × 768, five captions each × 100; benchOOFEpochs
// epochs a fold), folds one per core at once, and reports the speed-up over the same
// folds one after the other, measured in the same run.
func BenchmarkOutOfFold(b *testing.B) {
	const benchOOFEpochs = 5
	img, text, of := synthetic(1000, 5, 768, 100, 0.7, 5)
	samples, p, it, tt := oofTables(img, text, of)
	s := DefaultSettings()
	s.Epochs = benchOOFEpochs
	for b.Loop() {
		start := time.Now()
		if _, err := outOfFold(samples, p, it, tt, s, 1); err != nil {
			b.Fatal(err)
		}
		seq := time.Since(start)
		start = time.Now()
		if _, err := outOfFold(samples, p, it, tt, s, 0); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(seq.Seconds()/time.Since(start).Seconds(), "x-speedup")
		b.ReportMetric(seq.Seconds(), "s-sequential")
	}
}
