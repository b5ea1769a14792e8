package textenc

import (
	"github.com/withsense/withsense/lib/progress"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flickr8kCaptions returns every caption of Flickr8k.token.txt, skipping the test only if
// the Flickr8k text files are truly absent.
func flickr8kCaptions(t testing.TB) []Caption {
	t.Helper()
	dir, err := Flickr8kDir()
	if err != nil {
		t.Skipf("Flickr8k text files absent: %v", err)
	}
	caps, err := ReadFlickr8kCaptions(filepath.Join(dir, "Flickr8k.token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

// flickr8kSplit returns the captions of one Flickr8k split, or skips as flickr8kCaptions.
func flickr8kSplit(t testing.TB, split string) []Caption {
	t.Helper()
	if _, err := Flickr8kDir(); err != nil {
		t.Skipf("Flickr8k text files absent: %v", err)
	}
	caps, err := Flickr8kSplit(split)
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

func TestFlickr8kSplits(t *testing.T) {
	all := flickr8kCaptions(t)
	if len(all) != 40460 {
		t.Errorf("%d captions, want 40460", len(all))
	}
	for split, want := range map[string]int{Flickr8kTrain: 30000, Flickr8kDev: 5000, Flickr8kTest: 5000} {
		caps := flickr8kSplit(t, split)
		photos := map[string]int{}
		for _, c := range caps {
			photos[c.Image]++
		}
		if len(caps) != want || len(photos) != want/5 {
			t.Errorf("split %s: %d captions of %d photos, want %d of %d", split, len(caps), len(photos), want, want/5)
		}
	}
	if _, err := Flickr8kSplit("val"); err == nil {
		t.Error("unknown split accepted")
	}
}

func TestReadBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	write := func(s string) {
		t.Helper()
		if err := writeFile(bad, s); err != nil {
			t.Fatal(err)
		}
	}
	write("1000268201_693b08cb0e.jpg#0\tA child .\nno tab here\n")
	if _, err := ReadFlickr8kCaptions(bad); err == nil || !contains(err.Error(), "bad.txt:2") {
		t.Errorf("bad caption line: err = %v, want one naming bad.txt:2", err)
	}
	write("a.jpg\nb c.jpg\n")
	if _, err := ReadImageList(bad); err == nil || !contains(err.Error(), "bad.txt:2") {
		t.Errorf("bad image list: err = %v, want one naming bad.txt:2", err)
	}
	if _, err := ReadFlickr8kCaptions(filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("missing file accepted")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestMain(m *testing.M) {
	progress.Quiet = true
	os.Exit(m.Run())
}
