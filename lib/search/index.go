package search

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/progress"
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

// imageExts are the file endings an index takes from a folder.
var imageExts = []string{".jpg", ".jpeg", ".png"}

// Folder lists the JPEG and PNG files of dir (not its subfolders), sorted. A missing
// folder, a file instead of a folder, or a folder without photos is an error.
func Folder(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("photo folder: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && slices.Contains(imageExts, strings.ToLower(filepath.Ext(e.Name()))) {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("photo folder %s has no .jpg, .jpeg or .png files", dir)
	}
	return paths, nil
}

// Readable keeps the files that decode as images; each other file is reported to warn
// (with the reason, naming the file) and left out.
func Readable(paths []string, warn func(string)) []string {
	bar := progress.New("checking photos", len(paths))
	defer bar.Done()
	var ok []string
	for _, p := range paths {
		if _, err := dataset.LoadImage(p); err != nil {
			warn(fmt.Sprintf("skipping %v", err))
		} else {
			ok = append(ok, p)
		}
		bar.Add(1)
	}
	return ok
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
