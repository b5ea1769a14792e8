package search

import (
	"fmt"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
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
