package study

import (
	"fmt"
	"testing"

	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/search"
)

// BenchmarkSearch times one query once the index and models are loaded, for every
// variant, over the dataset's 1,100 photos and over copies of the index (275 to 4,400
// photos) to show how the time grows with the collection. It needs the models that
// `make report` trains.
func BenchmarkSearch(b *testing.B) {
	progress.Quiet = true
	cfg, err := LoadSearchConfig()
	if err != nil {
		b.Skip(err)
	}
	paths, err := DatasetPhotos()
	if err != nil {
		b.Skip(err)
	}
	ix, err := BuildIndex(paths)
	if err != nil {
		b.Fatal(err)
	}
	variants := []string{cfg.Default}
	for _, v := range []string{VariantTwoTower, VariantMLP, VariantRerank, VariantBlend} {
		if v != cfg.Default {
			variants = append(variants, v)
		}
	}
	for _, variant := range variants {
		for _, n := range []int{275, 1100, 4400} {
			sized := resize(ix, n)
			scorer, err := Scorer(cfg, sized, variant)
			if err != nil {
				b.Fatal(err)
			}
			s := &search.Searcher{Paths: sized.Paths, Hidden: sized.Hidden(), Scorer: scorer}
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
func resize(ix *search.Index, n int) *search.Index {
	out := &search.Index{Vecs: map[string][][]float32{}}
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
