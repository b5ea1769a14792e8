package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The Flickr8k splits as the original release defines them (Hodosh et al. 2013). The
// course's 1000 training photos are exactly Flickr8k's test split and its 100 test photos
// come from the dev split, so the train split shares no photo with the course data: word
// statistics drawn from it (SIF) leak nothing into the evaluation.
const (
	Flickr8kTrain = "train" // Flickr_8k.trainImages.txt, 6000 photos
	Flickr8kDev   = "dev"   // Flickr_8k.devImages.txt, 1000 photos
	Flickr8kTest  = "test"  // Flickr_8k.testImages.txt, 1000 photos (= the course's training photos)
)

// SplitFiles names the photo list of each Flickr8k split.
var SplitFiles = map[string]string{
	Flickr8kTrain: "Flickr_8k.trainImages.txt",
	Flickr8kDev:   "Flickr_8k.devImages.txt",
	Flickr8kTest:  "Flickr_8k.testImages.txt",
}

// LoadImageList reads a Flickr_8k.*Images.txt file: one photo file name per line.
func LoadImageList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var images []string
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if err := checkImageName("photo", l); err != nil || strings.ContainsAny(l, " \t") {
			return nil, fmt.Errorf("%s:%d: %q is not a photo file name", filepath.Base(path), i+1, l)
		}
		images = append(images, l)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("%s: no photos", path)
	}
	return images, nil
}

// Flickr8kSplit returns the captions of the photos of one split (Flickr8kTrain,
// Flickr8kDev or Flickr8kTest), grouped by photo in the split file's order, each photo's
// captions in file order.
func Flickr8kSplit(split string) ([]Caption, error) {
	name := SplitFiles[split]
	if name == "" {
		return nil, fmt.Errorf("unknown Flickr8k split %q (want %s, %s or %s)", split, Flickr8kTrain, Flickr8kDev, Flickr8kTest)
	}
	dir, err := LocateFlickr8k()
	if err != nil {
		return nil, err
	}
	images, err := LoadImageList(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	all, err := LoadCaptions(filepath.Join(dir, Flickr8kCaption))
	if err != nil {
		return nil, err
	}
	byImage := CaptionsByImage(all)
	var caps []Caption
	for _, im := range images {
		if len(byImage[im]) == 0 {
			return nil, fmt.Errorf("%s: photo %s has no caption in %s", name, im, Flickr8kCaption)
		}
		caps = append(caps, byImage[im]...)
	}
	return caps, nil
}
