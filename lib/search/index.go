package search

import (
	"fmt"
	"path/filepath"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
)

// GuardThreshold is the NSFW guard's rule: a photo is never returned, for any query, when
// nsfwjs' head gives it a "Porn" or "Hentai" probability above this value. "Sexy" alone is
// never a reason to hide a photo: on this collection it fires on beach and swimwear scenes.
//
// The value comes from looking at the dataset's photos the head scores highest (notebook
// 04 shows them): all 12 of the 1,100 with "Porn" above 0.5 are ordinary photos (a boy in a
// play tunnel at 0.987, a man eating at 0.86, children playing, boxers), so the head errs
// far too often on benign photos to act on anything short of near-certainty. At 0.99 the
// guard hides none of the dataset's photos and still hides photos the head is sure about.
const GuardThreshold = 0.99

// Guarded reports whether the guard hides a photo with these class probabilities.
func Guarded(s imageenc.NSFWScores) bool {
	const hentai, porn = 1, 3 // imageenc.NSFWClasses order
	return s[porn] > GuardThreshold || s[hentai] > GuardThreshold
}

// Index is the photos a search ranks, with their normalised embeddings and NSFW scores.
type Index struct {
	Paths []string
	// IDs are the photos' content hashes (hex sha256), in Paths order; nil for an index
	// built in memory by Build.
	IDs []string
	// Vecs maps an image encoder's name to the photos' normalised vectors, in Paths order.
	Vecs map[string][][]float32
	NSFW []imageenc.NSFWScores
	// Skipped lists the files left out, each with the reason.
	Skipped []string
}

// Hidden returns the guard's verdict for every photo of the index.
func (ix *Index) Hidden() []bool {
	out := make([]bool, len(ix.Paths))
	for i, s := range ix.NSFW {
		out[i] = Guarded(s)
	}
	return out
}

// Build embeds the photos with each named image encoder and the NSFW head, through the
// embedding cache. Photos must decode (see Readable) and have distinct file names.
func Build(paths []string, encoders []string) (*Index, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no photos to index")
	}
	ix := &Index{Paths: paths, Vecs: map[string][][]float32{}}
	for _, name := range encoders {
		t, err := features.ImageTable(name, paths)
		if err != nil {
			return nil, err
		}
		vecs := make([][]float32, len(paths))
		for i, p := range paths {
			vecs[i] = t.Vecs[filepath.Base(p)]
		}
		ix.Vecs[name] = vecs
	}
	var err error
	if ix.NSFW, err = imageenc.NSFWFiles(paths); err != nil {
		return nil, err
	}
	return ix, nil
}
