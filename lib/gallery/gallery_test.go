package gallery

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/project"
)

func TestRenderLinksPhotosRelativeToTheRootAndBlursFlaggedOnes(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Skip(err)
	}
	items := []Item{
		{Path: filepath.Join(root, "data", "with_sense", "train_images", "x.jpg"), Title: "a <b>", Lines: []string{"dog & cat"}, Muted: true},
		{Path: filepath.Join(root, "data", "with_sense", "train_images", "y.jpg"), Title: "flagged"},
	}
	scores := []imageenc.NSFWScores{{0.1, 0.1, 0.5, 0.2, 0.1}, {0, 0, 0.4, 0.05, 0.55}}
	h := render(items, 3, scores, nil)
	for _, want := range []string{`src="../data/with_sense/train_images/x.jpg"`, "a &lt;b&gt;", "dog &amp; cat", "opacity:0.45",
		"repeat(3,1fr)", "blurred · NSFW: Hentai 0.00 · Porn 0.05 · Sexy 0.55"} {
		if !strings.Contains(h, want) {
			t.Errorf("gallery HTML lacks %q", want)
		}
	}
	if n := strings.Count(h, "filter:blur"); n != 1 {
		t.Errorf("%d blurred photos, want 1 (only the one with Sexy > %v)", n, FlagThreshold)
	}
	failed := render(items, 3, nil, errors.New("open "+filepath.Join(root, "models", "nsfwjs")+": no such file"))
	if n := strings.Count(failed, "filter:blur"); n != 2 || !strings.Contains(failed, "no NSFW scores (open models/nsfwjs: no such file)") {
		t.Errorf("without scores: %d blurred photos, want 2, and the reason without the root:\n%s", n, failed)
	}
	if src := Src("/elsewhere/y.jpg"); src != "file:///elsewhere/y.jpg" {
		t.Errorf("Src outside the root = %q", src)
	}
	tab := Table([]string{"model", "MAE"}, [][]string{{"mlp", "0.1675"}})
	if !strings.Contains(tab, "text-align:right\">0.1675") || !strings.Contains(tab, "text-align:left\">mlp") {
		t.Errorf("table alignment: %s", tab)
	}
}

func TestFlagged(t *testing.T) {
	for _, c := range []struct {
		s    imageenc.NSFWScores
		want bool
	}{
		{imageenc.NSFWScores{0.9, 0.05, 0.05, 0, 0}, false},                     // a drawing
		{imageenc.NSFWScores{0, 0, 1 - FlagThreshold, FlagThreshold, 0}, false}, // at the threshold
		{imageenc.NSFWScores{0, 0.51, 0.49, 0, 0}, true},                        // hentai
		{imageenc.NSFWScores{0, 0, 0.4, 0.6, 0}, true},                          // porn
		{imageenc.NSFWScores{0, 0, 0.3, 0, 0.7}, true},                          // sexy
	} {
		if got := Flagged(c.s); got != c.want {
			t.Errorf("Flagged(%v) = %v, want %v", c.s, got, c.want)
		}
	}
}

// TestHTMLScoresRealPhotos renders real photos through the NSFW head (cached): with the
// weights set up, the grid has scores for every photo and blurs exactly the flagged ones.
func TestHTMLScoresRealPhotos(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(root, "data", "with_sense", "train_images")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < 3 {
		t.Skipf("dataset not set up (`make data`): %v", err)
	}
	var items []Item
	var paths []string
	for _, e := range entries[:3] {
		p := filepath.Join(dir, e.Name())
		items, paths = append(items, Item{Path: p}), append(paths, p)
	}
	scores, err := imageenc.NSFWFiles(paths)
	if err != nil {
		t.Skipf("NSFW head not available (`make models`): %v", err)
	}
	want := 0
	for _, s := range scores {
		if Flagged(s) {
			want++
		}
	}
	h := HTML(items, 3)
	if strings.Contains(h, "no NSFW scores") || strings.Count(h, "filter:blur") != want {
		t.Errorf("want %d blurred photos (scores %v), got:\n%s", want, scores, h)
	}
}
