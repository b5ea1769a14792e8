package imageenc

import (
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/ortref"
)

// TestResNet50Input compares ResNet50's input (ImageNetInput) with torchvision's
// transform computed independently by testdata/resnet50_preprocess.py on synthetic images
// (shrink, enlarge, grey PNG).
func TestResNet50Input(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "resnet50_preprocess.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Step   int
		Images map[string]struct {
			Mean []float64
			Sub  []float64
		}
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Images) != 3 {
		t.Fatalf("fixture has %d images, want 3", len(want.Images))
	}
	for name, w := range want.Images {
		img, err := dataset.LoadImage(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ImageNetInput([]image.Image{img})
		if err != nil {
			t.Fatal(err)
		}
		const n = ImageNetCrop
		var maxDiff float64
		i := 0
		for c := range 3 {
			var sum float64
			for _, v := range got[c*n*n : (c+1)*n*n] {
				sum += float64(v)
			}
			if d := math.Abs(sum/(n*n) - w.Mean[c]); d > 1e-5 {
				t.Errorf("%s: channel %d mean %.7f, torchvision %.7f", name, c, sum/(n*n), w.Mean[c])
			}
			for y := 0; y < n; y += want.Step {
				for x := 0; x < n; x += want.Step {
					maxDiff = max(maxDiff, math.Abs(float64(got[c*n*n+y*n+x])-w.Sub[i]))
					i++
				}
			}
		}
		if i != len(w.Sub) {
			t.Fatalf("%s: compared %d values, fixture has %d", name, i, len(w.Sub))
		}
		// Values span about ±2.6; 1e-5 is far below one grey level (1/255/0.225 ≈ 0.017).
		if maxDiff > 1e-5 {
			t.Errorf("%s: max |Go − torchvision| = %.2g over %d sampled values", name, maxDiff, i)
		}
		t.Logf("%s: max |Go − torchvision| = %.2g over %d sampled values", name, maxDiff, i)
	}
}

func TestResNet50Missing(t *testing.T) {
	if _, err := assets.ResNet50.Available(); err == nil {
		t.Skip("the real ResNet50 file is present")
	}
	_, err := Encoders.Open(ResNet50Name)
	if err == nil || !strings.Contains(err.Error(), assets.ResNet50.Name) || !strings.Contains(err.Error(), "make models-onnx") {
		t.Errorf("missing weights: got error %v, want one naming %s and `make models-onnx`", err, assets.ResNet50.Name)
	}
}

// TestResNet50Parity runs the random-weight ResNet50 v1 graph (the model zoo's structure)
// through the encoder (onnx-gomlx on the GoMLX backend) and through ONNX Runtime on the same
// random inputs, and requires the pooled 2048-d features to agree within 1e-4.
func TestResNet50Parity(t *testing.T) {
	path := ortref.Graph(t, ortref.ResNet50Graph)
	enc, err := LoadResNet50(path)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Dim() != 2048 || !strings.Contains(enc.features, "Flatten") {
		t.Fatalf("classifier input %q of width %d, want the Flatten output of width 2048", enc.features, enc.Dim())
	}
	const n = 2
	r := rand.New(rand.NewPCG(42, 0))
	input := make([]float32, n*3*ImageNetCrop*ImageNetCrop)
	for i := range input {
		input[i] = float32(r.NormFloat64())
	}
	got, err := enc.Features(input, n)
	if err != nil {
		t.Fatal(err)
	}
	want := ortFeatures(t, path, enc.features, input, n, ImageNetCrop)
	var flat []float32
	for _, g := range got {
		flat = append(flat, g...)
	}
	maxRel, l2Rel := ortref.RelErr(flat, want)
	t.Logf("ResNet50 features, GoMLX %s vs ONNX Runtime %s: max rel err %.2g, L2 rel err %.2g",
		enc.backend.Name(), ortref.Version(), maxRel, l2Rel)
	if !(maxRel <= 1e-4) {
		t.Errorf("max relative error %.3g > 1e-4", maxRel)
	}
	var norm float64
	for _, v := range flat[:2048] {
		norm += float64(v) * float64(v)
	}
	if norm == 0 {
		t.Errorf("features are all zero")
	}

	// Real photos through the whole encoder (preprocessing included) give finite, distinct vectors.
	imgs := testPhotos(t, 2)
	feats, err := enc.Embed(imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != len(imgs) || len(feats[0]) != 2048 {
		t.Fatalf("Embed: %d vectors of %d, want %d of 2048", len(feats), len(feats[0]), len(imgs))
	}
	same := true
	for i, v := range feats[0] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("Embed: feature %d is %g", i, v)
		}
		same = same && v == feats[1][i]
	}
	if same {
		t.Errorf("Embed: two different photos gave the same vector")
	}
}

// ortFeaturesSession opens the graph in ONNX Runtime with the classifier input added as
// a graph output, and that output only.
func ortFeaturesSession(tb testing.TB, path, features string) *ortref.Session {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	data, err = ortref.WithOutputs(data, features)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ortref.OpenBytes(path, data, []string{"data"}, []string{features}, ortref.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// ortFeatures runs n square images through ortFeaturesSession.
func ortFeatures(tb testing.TB, path, features string, input []float32, n, side int) []float32 {
	tb.Helper()
	s := ortFeaturesSession(tb, path, features)
	defer s.Close()
	out, err := s.Run(ortref.Float32(input, int64(n), 3, int64(side), int64(side)))
	if err != nil {
		tb.Fatal(err)
	}
	return out[0].Float32
}

// testPhotos loads the first n training photos of the course archive (dataset.Locate),
// skipping the test when the archive is absent.
func testPhotos(tb testing.TB, n int) []image.Image {
	tb.Helper()
	dir, err := dataset.Locate()
	if err != nil {
		tb.Skip(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, dataset.TrainImagesDir, "*.jpg"))
	if len(files) < n {
		tb.Skipf("fewer than %d photos in %s", n, filepath.Join(dir, dataset.TrainImagesDir))
	}
	imgs := make([]image.Image, n)
	for i := range imgs {
		img, err := dataset.LoadImage(files[i])
		if err != nil {
			tb.Fatal(err)
		}
		imgs[i] = img
	}
	return imgs
}

// BenchmarkResNet50 compares images/s of the resnet50 encoder's network (onnx-gomlx on
// the GoMLX backend) with ONNX Runtime on the same random-weight ResNet50 v1 graph, on
// batches of ResNet50BatchSize preprocessed images (preprocessing excluded from both).
func BenchmarkResNet50(b *testing.B) {
	benchImageGraph(b, ortref.ResNet50Graph, ImageNetCrop)
}

func benchImageGraph(b *testing.B, graph string, side int) {
	path := ortref.Graph(b, graph)
	enc, err := LoadResNet50(path)
	if err != nil {
		b.Fatal(err)
	}
	benchAgainstORT(b, path, enc.features, side, ResNet50BatchSize, func(input []float32) error {
		_, err := enc.Features(input, ResNet50BatchSize)
		return err
	})
}

// benchAgainstORT times gomlx against ONNX Runtime computing the ONNX graph's output
// features on the same batch of n random side×side images (ortref.Compare); gomlx gets the
// n·3·side² values.
func benchAgainstORT(b *testing.B, path, features string, side, n int, gomlx func(input []float32) error) {
	r := rand.New(rand.NewPCG(1, 2))
	input := make([]float32, n*3*side*side)
	for i := range input {
		input[i] = float32(r.NormFloat64())
	}
	s := ortFeaturesSession(b, path, features)
	defer s.Close()
	ortref.Compare(b, n, "img",
		func() error { return gomlx(input) },
		func() error {
			_, err := s.Run(ortref.Float32(input, int64(n), 3, int64(side), int64(side)))
			return err
		})
}

// TestInceptionV3ONNXParity runs torchvision's InceptionV3 (random weights) through the same
// ONNX path as ResNet50 (LoadResNet50 takes any NCHW classifier), against ONNX Runtime: it
// exercises more of onnx-gomlx and of the fast convolutions (1×7 and 7×1 kernels, Pad,
// average pooling, Concat).
func TestInceptionV3ONNXParity(t *testing.T) {
	path := ortref.Graph(t, ortref.InceptionV3Graph)
	enc, err := LoadResNet50(path)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Dim() != 2048 {
		t.Fatalf("classifier input %q of width %d, want 2048", enc.features, enc.Dim())
	}
	r := rand.New(rand.NewPCG(5, 6))
	input := make([]float32, 3*299*299)
	for i := range input {
		input[i] = float32(r.NormFloat64())
	}
	got, err := enc.Features(input, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ortFeatures(t, path, enc.features, input, 1, 299)
	maxRel, l2Rel := ortref.RelErr(got[0], want)
	t.Logf("InceptionV3 (torchvision) features, GoMLX vs ONNX Runtime: max rel err %.2g, L2 rel err %.2g", maxRel, l2Rel)
	if !(maxRel <= 1e-4) {
		t.Errorf("max relative error %.3g > 1e-4", maxRel)
	}
}

// BenchmarkInceptionV3ONNX compares images/s of torchvision's InceptionV3 graph (random
// weights) through the ONNX path (onnx-gomlx, fast convolutions) with ONNX Runtime, on
// batches of ResNet50BatchSize images. It stands in for the nsfwjs InceptionV3, whose
// Keras graph has no ONNX form here: same architecture and about the same FLOPs.
func BenchmarkInceptionV3ONNX(b *testing.B) {
	benchImageGraph(b, ortref.InceptionV3Graph, 299)
}

// BenchmarkInceptionVsORT times the project's own InceptionV3 (nsfwjs' weights, the pass
// the inception encoders run: mixed5, the pool and the NSFW head) against ONNX Runtime
// running torchvision's InceptionV3 graph (same architecture, about the same FLOPs), on
// batches of InceptionBatchSize images, alternately in one run ("gomlx/ort" > 1 when ours
// is faster).
func BenchmarkInceptionVsORT(b *testing.B) {
	backend, err := sharedBackend()
	if err != nil {
		b.Fatal(err)
	}
	inc, err := NewInception(loadTestModel(b), backend)
	if err != nil {
		b.Fatal(err)
	}
	path := ortref.Graph(b, ortref.InceptionV3Graph)
	onnx, err := LoadResNet50(path) // only to name the ONNX graph's feature output
	if err != nil {
		b.Fatal(err)
	}
	// The same number of values: n×299×299×3 for ours, n×3×299×299 for the ONNX graph.
	benchAgainstORT(b, path, onnx.features, NSFWJSSize, InceptionBatchSize, func(input []float32) error {
		_, err := inc.Forward(input, InceptionBatchSize)
		return err
	})
}
