package gallery

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/project"
)

func TestHTMLLinksPhotosRelativeToTheRoot(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Skip(err)
	}
	h := HTML([]Item{{Path: filepath.Join(root, "data", "with_sense", "train_images", "x.jpg"), Title: "a <b>", Lines: []string{"dog & cat"}, Muted: true}}, 3)
	for _, want := range []string{`src="../data/with_sense/train_images/x.jpg"`, "a &lt;b&gt;", "dog &amp; cat", "opacity:0.45", "repeat(3,1fr)"} {
		if !strings.Contains(h, want) {
			t.Errorf("gallery HTML lacks %q", want)
		}
	}
	if src := Src("/elsewhere/y.jpg"); src != "file:///elsewhere/y.jpg" {
		t.Errorf("Src outside the root = %q", src)
	}
	tab := Table([]string{"model", "MAE"}, [][]string{{"mlp", "0.1675"}})
	if !strings.Contains(tab, "text-align:right\">0.1675") || !strings.Contains(tab, "text-align:left\">mlp") {
		t.Errorf("table alignment: %s", tab)
	}
}
