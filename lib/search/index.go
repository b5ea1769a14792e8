package search

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

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
	// IDs are the photos' content hashes (hex sha256), in Paths order.
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
// embedding cache (ModelEmbedder), and identifies them by the sha256 of their bytes.
// Photos must decode and have distinct file names.
func Build(paths []string, encoders []string) (*Index, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no photos to index")
	}
	vecs, nsfw, err := ModelEmbedder{Names: encoders}.Embed(paths)
	if err != nil {
		return nil, err
	}
	ix := &Index{Paths: paths, Vecs: vecs, NSFW: nsfw}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(data)
		ix.IDs = append(ix.IDs, hex.EncodeToString(h[:]))
	}
	return ix, nil
}
