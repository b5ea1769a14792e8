package imageenc

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goldenLayer is one row of golden_layers_img0.tsv.
type goldenLayer struct {
	name, class string
	chw         []int
	mean, max   float64
	sum         float64
}

func readGoldenLayers(t testing.TB, ref string) []goldenLayer {
	t.Helper()
	f, err := os.Open(filepath.Join(ref, "golden_layers_img0.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenLayer
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		p := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(p[0], "#") || p[0] == "layer" {
			continue
		}
		if len(p) != 6 {
			t.Fatalf("golden_layers_img0.tsv:%d: %d fields", line, len(p))
		}
		l := goldenLayer{name: p[0], class: p[1]}
		for _, d := range strings.Split(p[2], "x") {
			v, _ := strconv.Atoi(d)
			l.chw = append(l.chw, v)
		}
		l.mean, _ = strconv.ParseFloat(p[3], 64)
		l.max, _ = strconv.ParseFloat(p[4], 64)
		l.sum, _ = strconv.ParseFloat(p[5], 64)
		out = append(out, l)
	}
	return out
}

// layerStats returns mean, max |x| and sum in float64.
func layerStats(v []float32) (mean, maxAbs, sum float64) {
	for _, x := range v {
		sum += float64(x)
		maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
	}
	return sum / float64(len(v)), maxAbs, sum
}

// checkLayer compares one layer's statistics with the golden ones: max |x| within tol
// relative, and the mean within tol relative to the layer's scale (its mean absolute value
// is bounded by max |x|, so the mean's error is measured against max(|mean|, 1e-2·max|x|)).
func checkLayer(t *testing.T, gl goldenLayer, v []float32, dims []int, tol float64) (worst float64) {
	t.Helper()
	want := 1
	for _, d := range gl.chw {
		want *= d
	}
	if len(v) != want {
		t.Errorf("%s: %d values (dims %v), golden %v", gl.name, len(v), dims, gl.chw)
		return math.Inf(1)
	}
	if len(gl.chw) == 3 && (dims[1] != gl.chw[1] || dims[2] != gl.chw[2] || dims[3] != gl.chw[0]) {
		t.Errorf("%s: NHWC dims %v, golden CHW %v", gl.name, dims, gl.chw)
	}
	mean, maxAbs, _ := layerStats(v)
	relMax := math.Abs(maxAbs-gl.max) / math.Max(gl.max, 1e-12)
	relMean := math.Abs(mean-gl.mean) / math.Max(math.Abs(gl.mean), 1e-2*gl.max)
	if relMax > tol || relMean > tol {
		t.Errorf("%s (%s): mean %.8g max|x| %.8g, golden %.8g %.8g (relative errors %.2g, %.2g > %g)",
			gl.name, gl.class, mean, maxAbs, gl.mean, gl.max, relMean, relMax, tol)
	}
	return math.Max(relMax, relMean)
}

// TestInceptionLayersGolden runs every layer of the graph (unfolded: each Conv2D,
// BatchNormalization and Activation separately) on the golden photo and compares each
// layer's statistics with golden_layers_img0.tsv; then the folded graph used for
// embedding, on every layer it keeps.
func TestInceptionLayersGolden(t *testing.T) {
	ref := referenceDir(t)
	img, exact := goldenImage(t)
	tol := 1e-4
	if !exact {
		t.Log("Pillow's libjpeg pixels not available: Go's decoder differs by a few grey levels, loose tolerance")
		tol = 0.1 // measured worst 0.029 (batch_normalization_89); TestNSFWJSNode checks cosines end to end
	}
	m := loadTestModel(t)
	backend, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	inc, err := NewInception(m, backend)
	if err != nil {
		t.Fatal(err)
	}
	golden := readGoldenLayers(t, ref)
	if len(golden) != len(m.Layers) {
		t.Fatalf("golden file has %d layers, model %d", len(golden), len(m.Layers))
	}
	input := PreprocessNSFWJS(img)
	for _, opts := range []buildOptions{{unfolded: true}, {}} {
		var names []string
		var rows []goldenLayer
		for _, gl := range golden {
			if !opts.unfolded && (gl.class == "BatchNormalization" || gl.class == "Activation" || gl.class == "Conv2D") &&
				!strings.HasPrefix(gl.name, "activation_") {
				continue // folded away: only the conv → BN → ReLU output exists
			}
			if !opts.unfolded && inc.pooledLater(gl.name) {
				continue // pooled after its 1×1 convolution
			}
			names = append(names, gl.name)
			rows = append(rows, gl)
		}
		vals, dims, err := inc.layerOutputs(input, 1, names, opts)
		if err != nil {
			t.Fatalf("unfolded=%v: %v", opts.unfolded, err)
		}
		worst, worstName := 0.0, ""
		for i, gl := range rows {
			if e := checkLayer(t, gl, vals[i], dims[i], tol); e > worst {
				worst, worstName = e, gl.name
			}
		}
		t.Logf("unfolded=%v: %d layers, worst relative error %.2g (%s)", opts.unfolded, len(rows), worst, worstName)
	}
}
