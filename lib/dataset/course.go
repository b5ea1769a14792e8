package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Course is the whole course archive, loaded and cross-checked.
type Course struct {
	Dir         string
	Pairs       []Pair      // train_dataset.csv
	Expert      []Expert    // ExpertAnnotations.tsv
	Crowd       []Crowd     // CrowdAnnotations.tsv
	TestQueries []TestQuery // test_queries.csv
	TestImages  []string    // test_images.csv
	TrainImages []string    // file names in train_images/, sorted
}

// Load reads every table of the course archive in dir and checks that they agree: each
// image they name is a file of train_images/ (or test_images/ for the test tables), the
// pairs of train_dataset.csv and ExpertAnnotations.tsv are the same set, and test_images.csv
// lists exactly the photos of test_images/. It does not decode the photos (see CheckImages).
func Load(dir string) (*Course, error) {
	c := &Course{Dir: dir}
	var err error
	if c.Pairs, err = LoadPairs(filepath.Join(dir, TrainCSV)); err != nil {
		return nil, err
	}
	if c.Expert, err = LoadExpert(filepath.Join(dir, ExpertTSV)); err != nil {
		return nil, err
	}
	if c.Crowd, err = LoadCrowd(filepath.Join(dir, CrowdTSV)); err != nil {
		return nil, err
	}
	if c.TestQueries, err = LoadTestQueries(filepath.Join(dir, TestQueriesCSV)); err != nil {
		return nil, err
	}
	if c.TestImages, err = LoadTestImages(filepath.Join(dir, TestImagesCSV)); err != nil {
		return nil, err
	}
	if c.TrainImages, err = listJPEGs(filepath.Join(dir, TrainImagesDir)); err != nil {
		return nil, err
	}
	testFiles, err := listJPEGs(filepath.Join(dir, TestImagesDir))
	if err != nil {
		return nil, err
	}
	if err := c.crossCheck(testFiles); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadDefault locates the course archive (see Locate) and loads it.
func LoadDefault() (*Course, error) {
	dir, err := Locate()
	if err != nil {
		return nil, err
	}
	return Load(dir)
}

func listJPEGs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && filepath.Ext(e.Name()) == ".jpg" {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no .jpg photos", dir)
	}
	sort.Strings(names)
	return names, nil
}

func (c *Course) crossCheck(testFiles []string) error {
	train := map[string]bool{}
	for _, n := range c.TrainImages {
		train[n] = true
	}
	unknown := func(file string, row int, image string) error {
		return fmt.Errorf("%s:%d: unknown image %s (not in %s)", file, row, image, filepath.Join(c.Dir, TrainImagesDir))
	}
	// Row numbers: train_dataset.csv has a header line, the TSVs do not.
	for i, p := range c.Pairs {
		if !train[p.Image] {
			return unknown(TrainCSV, i+2, p.Image)
		}
	}
	experts := map[pairKey]bool{}
	for i, e := range c.Expert {
		if !train[e.Image] {
			return unknown(ExpertTSV, i+1, e.Image)
		}
		experts[pairKey{e.Image, e.QueryID}] = true
	}
	for i, cr := range c.Crowd {
		if !train[cr.Image] {
			return unknown(CrowdTSV, i+1, cr.Image)
		}
	}
	for i, p := range c.Pairs {
		if !experts[pairKey{p.Image, p.QueryID}] {
			return fmt.Errorf("%s:%d: pair (%s, %s) has no expert scores in %s", TrainCSV, i+2, p.Image, p.QueryID, ExpertTSV)
		}
	}
	if len(c.Pairs) != len(c.Expert) {
		return fmt.Errorf("%s has %d pairs but %s has %d", TrainCSV, len(c.Pairs), ExpertTSV, len(c.Expert))
	}
	test := map[string]bool{}
	for _, n := range testFiles {
		test[n] = true
	}
	for i, q := range c.TestQueries {
		if !test[q.Image] {
			return fmt.Errorf("%s:%d: unknown image %s (not in %s)", TestQueriesCSV, i+2, q.Image, filepath.Join(c.Dir, TestImagesDir))
		}
	}
	listed := slices.Sorted(slices.Values(c.TestImages))
	if !slices.Equal(listed, testFiles) {
		return fmt.Errorf("%s lists %d photos but %s holds %d different ones", TestImagesCSV, len(listed), TestImagesDir, len(testFiles))
	}
	return nil
}

// TrainPath and TestPath return the file of a train or test photo.
func (c *Course) TrainPath(image string) string { return filepath.Join(c.Dir, TrainImagesDir, image) }
func (c *Course) TestPath(image string) string  { return filepath.Join(c.Dir, TestImagesDir, image) }

// AllPhotos returns the paths of every photo, train then test, each list sorted.
func (c *Course) AllPhotos() []string {
	var out []string
	for _, n := range c.TrainImages {
		out = append(out, c.TrainPath(n))
	}
	for _, n := range slices.Sorted(slices.Values(c.TestImages)) {
		out = append(out, c.TestPath(n))
	}
	return out
}

// CheckImages decodes every photo of the archive and returns the first failure, naming
// the file (a truncated or unreadable JPEG). progress, if not nil, is called per photo.
func (c *Course) CheckImages(progress func()) error {
	for _, p := range c.AllPhotos() {
		if _, err := LoadImage(p); err != nil {
			return err
		}
		if progress != nil {
			progress()
		}
	}
	return nil
}
