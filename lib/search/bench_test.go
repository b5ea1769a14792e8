package search

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/textenc"
)

// BenchmarkSearch times one query once the index and models are loaded, for every
// variant, over the dataset's 1,100 photos and over copies of the index (275 to 4,400
// photos) to show how the time grows with the collection. It needs the models that
// `make report` trains.
func BenchmarkSearch(b *testing.B) {
	cfg, err := LoadConfig()
	if err != nil {
		b.Skip(err)
	}
	c, err := dataset.LoadDefault()
	if err != nil {
		b.Skip(err)
	}
	encoders, err := cfg.ImageEncoders()
	if err != nil {
		b.Fatal(err)
	}
	ix, err := Build(c.AllPhotos(), encoders)
	if err != nil {
		b.Fatal(err)
	}
	variants := []string{cfg.Default}
	for _, v := range Variants {
		if v != cfg.Default {
			variants = append(variants, v)
		}
	}
	for _, variant := range variants {
		for _, n := range []int{275, 1100, 4400} {
			s, err := OpenWith(cfg, resize(ix, n), variant)
			if err != nil {
				b.Fatal(err)
			}
			name := variant
			if variant == cfg.Default {
				name = "default=" + variant
			}
			b.Run(fmt.Sprintf("%s/photos=%d", name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Search("two dogs running through shallow water", 5); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// resize returns an index of n photos: ix's first n, or ix repeated.
func resize(ix *Index, n int) *Index {
	out := &Index{Vecs: map[string][][]float32{}}
	for i := range n {
		j := i % len(ix.Paths)
		out.Paths = append(out.Paths, ix.Paths[j])
		out.NSFW = append(out.NSFW, ix.NSFW[j])
		for name, v := range ix.Vecs {
			out.Vecs[name] = append(out.Vecs[name], v[j])
		}
	}
	return out
}

// syntheticIndex returns n photos with random unit vectors of dim dims (a fixed seed).
func syntheticIndex(n, dim int) ([]string, [][]float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := make([]string, n)
	vecs := make([][]float32, n)
	for i := range vecs {
		paths[i] = fmt.Sprintf("photo%06d.jpg", i)
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		vecs[i], _ = features.Normalize(v)
	}
	return paths, vecs
}

// BenchmarkSearchSynthetic times one query (GloVe text embedding, cosine with every
// photo, guard, top 10) over 1,100 to 100,000 photos with random vectors, and reports
// each size's time as a ratio to the 1,100 photos' time measured in the same run.
func BenchmarkSearchSynthetic(b *testing.B) {
	enc, err := textenc.Encoders.Open("glove-mean")
	if err != nil {
		b.Skip(err)
	}
	var ref float64
	for _, n := range []int{1100, 10_000, 100_000} {
		paths, vecs := syntheticIndex(n, enc.Dim())
		s := &Searcher{Paths: paths, Hidden: make([]bool, n), Scorer: &CosineScorer{Label: "glove cosine", Text: enc, Images: vecs}}
		b.Run(fmt.Sprintf("photos=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Search("two dogs running through shallow water", 10); err != nil {
					b.Fatal(err)
				}
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if n == 1100 {
				ref = per
			}
			if ref > 0 {
				b.ReportMetric(per/ref, "x-1100-photos")
			}
		})
	}
}

// BenchmarkHubnessOffsets times the hubness correction's offsets for 1,100 photos against a
// bank of 5,000 captions in the ensemble's joined space (5 models × 256 dims), as the search
// computes them once when it opens, and reports the time as a ratio to one plain query's
// scoring of the same photos (CosineScorer's matrix-vector product) measured in the same run.
func BenchmarkHubnessOffsets(b *testing.B) {
	const photos, captions, dim = 1100, 5000, 5 * 256
	_, images := syntheticIndex(photos, dim)
	_, bank := syntheticIndex(captions, dim)
	query := bank[0]
	c := &CosineScorer{Images: images}
	var ref float64
	b.Run("one query", func(b *testing.B) {
		m, err := c.matrix()
		if err != nil {
			b.Fatal(err)
		}
		out := make([]float32, photos)
		for b.Loop() {
			blas32.Gemv(blas.NoTrans, 1, m, blas32.Vector{N: dim, Inc: 1, Data: query}, 0, blas32.Vector{N: photos, Inc: 1, Data: out})
		}
		ref = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("offsets", func(b *testing.B) {
		for b.Loop() {
			if _, err := HubnessOffsets(images, bank, 30); err != nil {
				b.Fatal(err)
			}
		}
		if ref > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/ref, "x-one-query")
		}
	})
}
