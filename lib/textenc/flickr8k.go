package textenc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/project"
)

// Caption is one Flickr8k caption and the photo it describes.
type Caption struct {
	Image string // file name, e.g. "1000268201_693b08cb0e.jpg"
	Text  string
}

// Flickr8kEnv names the environment variable that points at the Flickr8k text files
// (the same variable lib/dataset reads).
const Flickr8kEnv = "WITH_SENSE_FLICKR8K"

// The Flickr8k splits as the original release defines them (Hodosh et al. 2013). The
// course's 1000 training photos are exactly Flickr8k's test split and its 100 test photos
// come from the dev split, so the train split shares no photo with the course data: word
// statistics drawn from it (SIF) leak nothing into the evaluation.
const (
	Flickr8kTrain = "train" // Flickr_8k.trainImages.txt, 6000 photos
	Flickr8kDev   = "dev"   // Flickr_8k.devImages.txt, 1000 photos
	Flickr8kTest  = "test"  // Flickr_8k.testImages.txt, 1000 photos (= the course's training photos)
)

// Flickr8kDir returns the folder with Flickr8k.token.txt: $WITH_SENSE_FLICKR8K, else
// data/flickr8k_text (linked by the setup), else ../shared/data/flickr8k_text beside the
// project.
func Flickr8kDir() (string, error) {
	var dirs []string
	if d := os.Getenv(Flickr8kEnv); d != "" {
		dirs = append(dirs, d)
	}
	root, err := project.Root()
	if err != nil {
		return "", err
	}
	dirs = append(dirs, filepath.Join(root, "data", "flickr8k_text"), filepath.Join(root, "..", "shared", "data", "flickr8k_text"))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "Flickr8k.token.txt")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("Flickr8k text files not found (looked for Flickr8k.token.txt in %s); set $%s or run `make data`",
		strings.Join(dirs, ", "), Flickr8kEnv)
}

// ReadFlickr8kCaptions reads Flickr8k.token.txt ("photo.jpg#n<TAB>caption" per line) in
// file order.
func ReadFlickr8kCaptions(path string) ([]Caption, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var caps []Caption
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		id, text, ok := strings.Cut(sc.Text(), "\t")
		image, _, hasNum := strings.Cut(id, "#")
		if !ok || !hasNum || image == "" {
			return nil, fmt.Errorf("%s:%d: %q is not \"photo.jpg#n<TAB>caption\"", path, line, sc.Text())
		}
		caps = append(caps, Caption{Image: image, Text: text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(caps) == 0 {
		return nil, fmt.Errorf("%s: no captions", path)
	}
	return caps, nil
}

// ReadImageList reads a Flickr_8k.*Images.txt file: one photo file name per line.
func ReadImageList(path string) ([]string, error) {
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
		if !strings.HasSuffix(l, ".jpg") || strings.ContainsAny(l, " \t/") {
			return nil, fmt.Errorf("%s:%d: %q is not a photo file name", path, i+1, l)
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
	name := map[string]string{Flickr8kTrain: "Flickr_8k.trainImages.txt", Flickr8kDev: "Flickr_8k.devImages.txt", Flickr8kTest: "Flickr_8k.testImages.txt"}[split]
	if name == "" {
		return nil, fmt.Errorf("unknown Flickr8k split %q (want %s, %s or %s)", split, Flickr8kTrain, Flickr8kDev, Flickr8kTest)
	}
	dir, err := Flickr8kDir()
	if err != nil {
		return nil, err
	}
	images, err := ReadImageList(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	all, err := ReadFlickr8kCaptions(filepath.Join(dir, "Flickr8k.token.txt"))
	if err != nil {
		return nil, err
	}
	byImage := map[string][]Caption{}
	for _, c := range all {
		byImage[c.Image] = append(byImage[c.Image], c)
	}
	var caps []Caption
	var missing []string
	for _, im := range images {
		if len(byImage[im]) == 0 {
			missing = append(missing, im)
		}
		caps = append(caps, byImage[im]...)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %d photos have no caption in Flickr8k.token.txt, e.g. %s", filepath.Join(dir, name), len(missing), missing[0])
	}
	return caps, nil
}
