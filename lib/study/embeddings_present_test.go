package study

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/results"
	"github.com/withsense/withsense/lib/textenc"
)

// det is a detection of a COCO class (0 person, 16 dog, 29 frisbee) with a score.
func det(class int, score float32) imageenc.Detection {
	return imageenc.Detection{X2: 10, Y2: 10, Score: score, Class: class}
}

func TestObjectCounts(t *testing.T) {
	objs := []imageenc.PhotoObjects{
		{Found: []imageenc.Detection{det(16, 0.9), det(29, 0.7), det(16, 0.5)}}, // a dog twice: counted once, best 0.9
		{Found: []imageenc.Detection{det(0, 0.8), det(16, 0.3)}},
		{},
		{Found: []imageenc.Detection{det(0, 0.4)}},
	}
	counts, none := objectCounts(objs)
	if none != 1 {
		t.Errorf("photos with no object %d, want 1", none)
	}
	want := []ObjectCount{{"dog", 2, 0.6}, {"person", 2, 0.6}, {"frisbee", 1, 0.7}}
	if len(counts) != len(want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	for i, c := range counts {
		if c.Class != want[i].Class || c.Photos != want[i].Photos || abs(c.Best-want[i].Best) > 1e-6 {
			t.Errorf("count %d = %+v, want %+v", i, c, want[i])
		}
	}
	if got := objs[0].String(); got != "dog 0.90, frisbee 0.70" {
		t.Errorf("objects line %q", got)
	}
	r := &EmbeddingsReport{Objects: objs}
	header, rows := ObjectsTable(r, 2)
	if len(header) != 4 || len(rows) != 3 || rows[0][0] != "dog" || rows[0][2] != "50.0%" || rows[2][0] != "(no object)" || rows[2][1] != "1" {
		t.Errorf("objects table %v %v", header, rows)
	}
	if _, rows := ObjectsTable(&EmbeddingsReport{ObjectsErr: "no weights"}, 2); len(rows) != 1 || rows[0][0] != "unavailable: no weights" {
		t.Errorf("objects table without CenterNet: %v", rows)
	}
	c := EmbeddingsConclusion(r)
	if !strings.Contains(c, "at least one object scoring 0.2 in 3 of 4 photos; the classes in most photos: dog (2), person (2), frisbee (1)") {
		t.Errorf("conclusion %q", c)
	}
}

func abs(x float64) float64 { return max(x, -x) }

// fixtureEmbeddings is a report with one image and one text encoder, one of each missing.
func fixtureEmbeddings() *EmbeddingsReport {
	return &EmbeddingsReport{
		Photos: []string{"/d/a.jpg", "/d/b.jpg"},
		Images: []*features.Table{{Encoder: "inception-mixed5", Dim: 2, Vecs: map[string][]float32{"a.jpg": {1, 0}, "b.jpg": {0, 1}}}},
		Paraphrases: []*textenc.Paraphrases{{Encoder: "glove-mean", Photos: 2, Captions: 10, SamePairs: 20, DiffPairs: 50, AUC: 0.81,
			NearestSamePhoto: 0.5, ChanceNearest: 0.4, Coverage: &textenc.Coverage{Words: 100, OOV: 3},
			TopOOV: []textenc.WordCount{{Word: "a", Count: 3}}}},
		Missing: []features.Unavailable{{Encoder: "resnet50", Reason: "no onnx file"}, {Encoder: "minilm", Reason: "no onnx file"}},
		Objects: []imageenc.PhotoObjects{{Found: []imageenc.Detection{det(16, 0.9)}}, {}},
	}
}

func TestEmbeddingsTables(t *testing.T) {
	r := fixtureEmbeddings()
	_, img := ImageEncodersTable(r)
	if len(img) != 2 || img[0][0] != "inception-mixed5" || img[1][0] != "resnet50" || img[1][3] != "unavailable: no onnx file" {
		t.Errorf("image table %v: want inception-mixed5 ready, resnet50 unavailable (minilm is a text encoder)", img)
	}
	header, txt := ParaphraseTable(r)
	if len(txt) != 2 || txt[0][1] != "0.810" || txt[0][6] != "3.0%" || txt[1][0] != "minilm" || len(txt[1]) != len(header) {
		t.Errorf("paraphrase table %v", txt)
	}
	if l := ParaphraseLine(r); !strings.Contains(l, "10 captions of 2 photos: 20 same-photo pairs against 50") {
		t.Errorf("paraphrase line %q", l)
	}
	if l := OOVLine(r); !strings.Contains(l, "**glove-mean**, most frequent unknown words: a (3)") {
		t.Errorf("OOV line %q", l)
	}
	if _, err := MapChart(r, "centernet-pool"); err == nil || !strings.Contains(err.Error(), "centernet-pool") {
		t.Errorf("map of a missing encoder: %v", err)
	}
	if _, err := NeighboursGallery(r, "zz.jpg", 1); err == nil || !strings.Contains(err.Error(), `"zz.jpg"`) {
		t.Errorf("neighbours of an unknown photo: %v", err)
	}
	if c := EmbeddingsConclusion(r); !strings.Contains(c, "glove-mean 0.810; the nearest caption is from the same photo for 50.0% of captions with glove-mean (40.0% by chance)") ||
		!strings.Contains(c, "*minilm* was not measured here: no onnx file") {
		t.Errorf("conclusion %q", c)
	}
	if got := objectsLine(r, 1); len(got) != 1 || got[0] != "no object scores 0.2" {
		t.Errorf("objects line of an empty photo %v", got)
	}
}

func TestWriteEmbeddings(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(project.ResultsEnv, dir)
	if err := WriteEmbeddings(fixtureEmbeddings()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, results.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m["embeddings"] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, " ") != "image objects provenance text unavailable" {
		t.Errorf("embeddings keys %v", keys)
	}
	var objects bytes.Buffer
	if err := json.Compact(&objects, m["embeddings"]["objects"]); err != nil {
		t.Fatal(err)
	}
	if s := objects.String(); !strings.Contains(s, `"none":1`) || !strings.Contains(s, `"class":"dog","photos":1`) {
		t.Errorf("objects record %s", s)
	}
}
