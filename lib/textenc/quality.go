package textenc

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
)

// ParaphraseOptions set up CheckParaphrases.
type ParaphraseOptions struct {
	// DiffPairs is how many different-photo caption pairs are drawn (uniformly, with
	// replacement); 0 means every different-photo pair.
	DiffPairs int
	// Seed seeds the PCG generator that draws them.
	Seed uint64
	// Examples are indices of captions whose nearest captions are reported, K each.
	Examples []int
	K        int
	// BatchSize is the number of texts per Embed call.
	BatchSize int
}

// DefaultParaphraseOptions draws 50,000 different-photo pairs with the project seed and
// shows the 5 nearest captions of the first caption of the first three photos (for a
// caption list with five captions per photo: indices 0, 5, 10).
func DefaultParaphraseOptions() ParaphraseOptions {
	return ParaphraseOptions{DiffPairs: 50000, Seed: project.Seed, Examples: []int{0, 5, 10}, K: 5, BatchSize: 64}
}

// Paraphrases is the paraphrase check of one text encoder: the captions of one photo are
// paraphrases of each other, so a good sentence encoder puts them closer (cosine) than
// captions of different photos.
type Paraphrases struct {
	Encoder, Weights string
	Photos, Captions int
	// SamePairs is every pair of captions of the same photo; DiffPairs the drawn pairs of
	// captions of different photos.
	SamePairs, DiffPairs int
	Seed                 uint64
	// AUC is the ROC-AUC of cosine similarity separating same-photo from different-photo
	// pairs: the probability that a random same-photo pair is more similar than a random
	// different-photo pair, ties counting one half (0.5 = chance, 1 = perfect).
	AUC float64
	// MeanSame and MeanDiff are the mean cosines of the two kinds of pairs.
	MeanSame, MeanDiff float64
	// NearestSamePhoto is the share of captions whose most similar other caption (among
	// all Captions) describes the same photo; a tie for the top shares the credit.
	// ChanceNearest is that share for a random ordering.
	NearestSamePhoto, ChanceNearest float64
	// Coverage is the GloVe word coverage of the captions (nil for other encoders), and
	// TopOOV its 20 most frequent unknown words.
	Coverage *Coverage   `json:",omitempty"`
	TopOOV   []WordCount `json:",omitempty"`
	Examples []Nearest
}

// Nearest lists the captions most similar to a query caption.
type Nearest struct {
	Query     Caption
	Neighbors []Neighbor
}

// Neighbor is one caption near a query, with its cosine similarity.
type Neighbor struct {
	Caption
	Cosine    float64
	SamePhoto bool
}

// EmbedAll embeds texts in batches of batchSize with a progress bar.
func EmbedAll(enc Encoder, texts []string, batchSize int) ([][]float32, error) {
	batchSize = max(batchSize, 1)
	bar := progress.New("embedding with "+enc.Name(), len(texts))
	defer bar.Done()
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += batchSize {
		end := min(start+batchSize, len(texts))
		vecs, err := enc.Embed(texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("%s: texts %d–%d: %w", enc.Name(), start, end-1, err)
		}
		if len(vecs) != end-start {
			return nil, fmt.Errorf("%s: %d vectors for %d texts", enc.Name(), len(vecs), end-start)
		}
		for i, v := range vecs {
			if len(v) != enc.Dim() {
				return nil, fmt.Errorf("%s: text %d: vector of length %d, want %d", enc.Name(), start+i, len(v), enc.Dim())
			}
		}
		out = append(out, vecs...)
		bar.Add(end - start)
	}
	return out, nil
}

// Cosine is the cosine similarity of two vectors, computed in float64 as
// x·y / sqrt(|x|²|y|²); 0 if either is zero.
func Cosine(x, y []float32) float64 {
	var dot, nx, ny float64
	for i := range x {
		a, b := float64(x[i]), float64(y[i])
		dot += a * b
		nx += a * a
		ny += b * b
	}
	if nx == 0 || ny == 0 {
		return 0
	}
	return dot / math.Sqrt(nx*ny)
}

// Caption is a Flickr8k caption (see dataset.Caption).
type Caption = dataset.Caption

// CheckParaphrases embeds the captions with enc and measures how well cosine similarity
// tells captions of the same photo from captions of different photos (see Paraphrases).
// Captions of one photo need not be adjacent.
func CheckParaphrases(enc Encoder, caps []Caption, opt ParaphraseOptions) (*Paraphrases, error) {
	photoOf := make([]int, len(caps))
	photoIdx := map[string]int{}
	byPhoto := [][]int{}
	for i, c := range caps {
		p, ok := photoIdx[c.Image]
		if !ok {
			p = len(byPhoto)
			photoIdx[c.Image] = p
			byPhoto = append(byPhoto, nil)
		}
		photoOf[i] = p
		byPhoto[p] = append(byPhoto[p], i)
	}
	texts := make([]string, len(caps))
	for i, c := range caps {
		texts[i] = c.Text
	}
	vecs, err := EmbedAll(enc, texts, opt.BatchSize)
	if err != nil {
		return nil, err
	}
	r := &Paraphrases{Encoder: enc.Name(), Weights: enc.Weights(), Photos: len(byPhoto), Captions: len(caps), Seed: opt.Seed}

	var labels []bool
	var scores []float64
	var sumSame, sumDiff float64
	for _, idx := range byPhoto {
		for a := range idx {
			for _, j := range idx[a+1:] {
				c := Cosine(vecs[idx[a]], vecs[j])
				labels = append(labels, true)
				scores = append(scores, c)
				sumSame += c
				r.SamePairs++
			}
		}
	}
	addDiff := func(i, j int) {
		c := Cosine(vecs[i], vecs[j])
		labels = append(labels, false)
		scores = append(scores, c)
		sumDiff += c
		r.DiffPairs++
	}
	if opt.DiffPairs <= 0 {
		for i := range caps {
			for j := i + 1; j < len(caps); j++ {
				if photoOf[i] != photoOf[j] {
					addDiff(i, j)
				}
			}
		}
	} else if len(byPhoto) > 1 {
		rng := rand.New(rand.NewPCG(opt.Seed, 0))
		for r.DiffPairs < opt.DiffPairs {
			i, j := rng.IntN(len(caps)), rng.IntN(len(caps))
			if photoOf[i] != photoOf[j] {
				addDiff(i, j)
			}
		}
	}
	if r.SamePairs == 0 || r.DiffPairs == 0 {
		return nil, fmt.Errorf("paraphrase check of %s: %d same-photo and %d different-photo pairs from %d captions of %d photos: need both",
			enc.Name(), r.SamePairs, r.DiffPairs, len(caps), len(byPhoto))
	}
	if r.AUC, err = metrics.ROCAUC(labels, scores); err != nil {
		return nil, fmt.Errorf("paraphrase check of %s: %w", enc.Name(), err)
	}
	r.MeanSame, r.MeanDiff = sumSame/float64(r.SamePairs), sumDiff/float64(r.DiffPairs)
	r.NearestSamePhoto, r.ChanceNearest = nearestSamePhoto(vecs, photoOf, byPhoto)

	for _, q := range opt.Examples {
		if q < 0 || q >= len(caps) {
			return nil, fmt.Errorf("paraphrase check: example caption %d out of range 0..%d", q, len(caps)-1)
		}
		r.Examples = append(r.Examples, nearest(vecs, caps, photoOf, q, opt.K))
	}
	if g, ok := enc.(*GloVeEncoder); ok {
		cov := g.CoverageOf(texts)
		r.Coverage = &cov
		r.TopOOV = cov.TopOOV(20)
	}
	return r, nil
}

// nearest returns the k captions most similar to caption q (q itself excluded; ties in
// caption order).
func nearest(vecs [][]float32, caps []Caption, photoOf []int, q, k int) Nearest {
	type sc struct {
		i int
		c float64
	}
	all := make([]sc, 0, len(vecs)-1)
	for i := range vecs {
		if i != q {
			all = append(all, sc{i, Cosine(vecs[q], vecs[i])})
		}
	}
	slices.SortStableFunc(all, func(a, b sc) int { return cmp.Compare(b.c, a.c) })
	n := Nearest{Query: caps[q]}
	for _, s := range all[:min(k, len(all))] {
		n.Neighbors = append(n.Neighbors, Neighbor{Caption: caps[s.i], Cosine: s.c, SamePhoto: photoOf[s.i] == photoOf[q]})
	}
	return n
}

// nearestSamePhoto returns the share of captions whose most similar other caption is of
// the same photo (a tie of m captions, s of them same-photo, credits s/m), and that share
// under a random ordering: the mean over captions of (captions of its photo − 1)/(N − 1).
func nearestSamePhoto(vecs [][]float32, photoOf []int, byPhoto [][]int) (share, chance float64) {
	n := len(vecs)
	if n < 2 {
		return 0, 0
	}
	norm := make([][]float64, n)
	for i, v := range vecs {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		s = math.Sqrt(s)
		row := make([]float64, len(v))
		if s > 0 {
			for j, x := range v {
				row[j] = float64(x) / s
			}
		}
		norm[i] = row
	}
	credit := make([]float64, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				best, same, tied := math.Inf(-1), 0, 0
				for j := range n {
					if j == i {
						continue
					}
					var dot float64
					for k, x := range norm[i] {
						dot += x * norm[j][k]
					}
					switch {
					case dot > best:
						best, same, tied = dot, 0, 1
						if photoOf[j] == photoOf[i] {
							same = 1
						}
					case dot == best:
						tied++
						if photoOf[j] == photoOf[i] {
							same++
						}
					}
				}
				credit[i] = float64(same) / float64(tied)
			}
		})
	}
	wg.Wait()
	for i := range credit {
		share += credit[i]
		chance += float64(len(byPhoto[photoOf[i]])-1) / float64(n-1)
	}
	return share / float64(n), chance / float64(n)
}

// CheckEncoders runs the paraphrase check with DefaultParaphraseOptions for each named
// text encoder on the captions of the Flickr8k test split: the 1000 photos the course
// trains on, 5 captions each (10,000 same-photo pairs, 50,000 drawn different-photo
// pairs). An encoder that cannot be opened (MiniLM without its ONNX file) stops the check
// with the registry's error; leave it out of names to skip it.
func CheckEncoders(names ...string) ([]*Paraphrases, error) {
	caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTest)
	if err != nil {
		return nil, err
	}
	var out []*Paraphrases
	for _, name := range names {
		enc, err := Encoders.Open(name)
		if err != nil {
			return nil, err
		}
		r, err := CheckParaphrases(enc, caps, DefaultParaphraseOptions())
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
