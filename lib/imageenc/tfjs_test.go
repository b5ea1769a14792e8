package imageenc

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/project"
)

// referenceDir is ../shared/reference/inceptionv3 (the golden values of the nsfwjs port).
func referenceDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(project.MustRoot(), "..", "shared", "reference", "inceptionv3")
	if d := os.Getenv("WITH_SENSE_REFERENCE"); d != "" {
		dir = d
	}
	if _, err := os.Stat(filepath.Join(dir, "golden_weights.tsv")); err != nil {
		t.Skipf("golden InceptionV3 reference values not found (%v): set $WITH_SENSE_REFERENCE", err)
	}
	return dir
}

// dataDir is the course archive ($WITH_SENSE_DATA or ../shared/data/with_sense).
func dataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WITH_SENSE_DATA")
	if dir == "" {
		dir = filepath.Join(project.MustRoot(), "..", "shared", "data", "with_sense")
	}
	if _, err := os.Stat(filepath.Join(dir, "train_images")); err != nil {
		t.Skipf("dataset not found (%v): set $WITH_SENSE_DATA", err)
	}
	return dir
}

var (
	testModelOnce sync.Once
	testModel     *TFJSModel
	testModelErr  error
)

// loadTestModel loads nsfwjs' InceptionV3 once per test binary.
func loadTestModel(t testing.TB) *TFJSModel {
	t.Helper()
	testModelOnce.Do(func() {
		var dir string
		dir, testModelErr = assets.NSFWJSDir()
		if testModelErr == nil {
			testModel, testModelErr = LoadTFJS(dir)
		}
	})
	if testModelErr != nil {
		t.Fatalf("loading nsfwjs InceptionV3: %v", testModelErr)
	}
	return testModel
}

func TestParseJSLiteral(t *testing.T) {
	src := `x={a:1,"b":[.5,-.25,1e-3,!0,!1,null,'q\'s',void 0],c:{d:"\u0041\n"}}`
	v, end, err := parseJSLiteral(src, 2)
	if err != nil {
		t.Fatal(err)
	}
	if end != len(src) {
		t.Errorf("end = %d, want %d", end, len(src))
	}
	m := v.(map[string]any)
	b := m["b"].([]any)
	want := []any{0.5, -0.25, 0.001, true, false, nil, "q's", nil}
	for i := range want {
		if b[i] != want[i] {
			t.Errorf("b[%d] = %#v, want %#v", i, b[i], want[i])
		}
	}
	if m["a"] != 1.0 || m["c"].(map[string]any)["d"] != "A\n" {
		t.Errorf("got %#v", m)
	}
	for _, bad := range []string{`{a:}`, `{a:1`, `[1,2`, `{a:foo}`, `"abc`} {
		if _, _, err := parseJSLiteral(bad, 0); err == nil {
			t.Errorf("parseJSLiteral(%q): no error", bad)
		}
	}
}

// TestLoadTFJSGolden checks every dequantised tensor against golden_weights.tsv (shape,
// quantisation parameters, float64 sum and sha256 of the float32 bytes).
func TestLoadTFJSGolden(t *testing.T) {
	ref := referenceDir(t)
	m := loadTestModel(t)
	f, err := os.Open(filepath.Join(ref, "golden_weights.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	seen := 0
	for line := 2; sc.Scan(); line++ {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 6 {
			t.Fatalf("golden_weights.tsv:%d: %d fields", line, len(p))
		}
		w, ok := m.Weights[p[0]]
		if !ok {
			t.Errorf("weight %s missing", p[0])
			continue
		}
		seen++
		var dims []string
		for _, d := range w.Shape {
			dims = append(dims, strconv.Itoa(d))
		}
		if got := strings.Join(dims, "x"); got != p[1] {
			t.Errorf("%s: shape %s, want %s", p[0], got, p[1])
		}
		qmin, _ := strconv.ParseFloat(p[2], 64)
		qscale, _ := strconv.ParseFloat(p[3], 64)
		if w.QMin != qmin || w.QScale != qscale {
			t.Errorf("%s: quantisation (%g, %g), want (%g, %g)", p[0], w.QMin, w.QScale, qmin, qscale)
		}
		wantSum, _ := strconv.ParseFloat(p[4], 64)
		var sum float64
		for _, v := range w.Data {
			sum += float64(v)
		}
		if math.Abs(sum-wantSum) > 1e-9*math.Max(1, math.Abs(wantSum)) {
			t.Errorf("%s: sum %.12g, want %.12g", p[0], sum, wantSum)
		}
		if got := w.SHA256(); got != p[5] {
			t.Errorf("%s: sha256 %s, want %s", p[0], got, p[5])
		}
	}
	if seen != len(m.Weights) || seen != 382 {
		t.Errorf("golden file lists %d weights, model has %d (want 382)", seen, len(m.Weights))
	}
	if len(m.Layers) != 318 || m.Inputs[0] != "input_1" || m.Outputs[0] != "dense_3" {
		t.Errorf("topology: %d layers, inputs %v, outputs %v", len(m.Layers), m.Inputs, m.Outputs)
	}
}
