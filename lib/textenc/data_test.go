package textenc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/progress"
)

// flickr8kSplit returns the captions of one Flickr8k split, skipping the test only if the
// Flickr8k text files are truly absent.
func flickr8kSplit(t testing.TB, split string) []Caption {
	t.Helper()
	if _, err := dataset.LocateFlickr8k(); err != nil {
		t.Skipf("Flickr8k text files absent: %v", err)
	}
	caps, err := dataset.Flickr8kSplit(split)
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

// flickr8kCaptions returns every caption of Flickr8k.token.txt, or skips as flickr8kSplit.
func flickr8kCaptions(t testing.TB) []Caption {
	t.Helper()
	dir, err := dataset.LocateFlickr8k()
	if err != nil {
		t.Skipf("Flickr8k text files absent: %v", err)
	}
	caps, err := dataset.LoadCaptions(filepath.Join(dir, dataset.Flickr8kCaption))
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

func TestMain(m *testing.M) {
	progress.Quiet = true
	os.Exit(m.Run())
}
