package imageenc

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/progress"
)

func init() { progress.Quiet = true }

// meanColour is a tiny Encoder for testing the cache: the mean R, G, B (0..1) and a 1.
type meanColour struct{ calls atomic.Int64 }

func (m *meanColour) Name() string    { return "test-mean-colour" }
func (m *meanColour) Dim() int        { return 4 }
func (m *meanColour) Weights() string { return "none" }
func (m *meanColour) Embed(imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i, img := range imgs {
		m.calls.Add(1)
		w, h, pix := rgb8(img)
		var s [3]float64
		for j := 0; j < len(pix); j += 3 {
			s[0] += float64(pix[j])
			s[1] += float64(pix[j+1])
			s[2] += float64(pix[j+2])
		}
		n := float64(w*h) * 255
		out[i] = []float32{float32(s[0] / n), float32(s[1] / n), float32(s[2] / n), 1}
	}
	return out, nil
}

// fixture writes a synthetic w×h image, returns its path.
func fixture(t *testing.T, dir, name string, w, h int, c color.RGBA) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	path := filepath.Join(dir, name)
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(name, ".png") {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestEmbedFilesCacheAndResume(t *testing.T) {
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	var paths []string
	for i := range 10 {
		paths = append(paths, fixture(t, dir, "img"+string(rune('a'+i))+".png", 8+i, 5, color.RGBA{uint8(20 * i), 100, 200, 255}))
	}
	// A copy of the first photo under another name is the same content: computed once.
	dup := filepath.Join(dir, "copy.png")
	data, _ := os.ReadFile(paths[0])
	os.WriteFile(dup, data, 0o644)
	paths = append(paths, dup)

	enc := &meanColour{}
	opt := EmbedOptions{Dir: cacheDir, BatchSize: 3, FlushEvery: 3}
	// A bad file half-way: the run stops with an error naming it, keeping what was done.
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("not an image at all"), 0o644)
	withBad := append(append(append([]string{}, paths[:7]...), bad), paths[7:]...)
	_, err := EmbedFilesWith(enc, withBad, opt)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: got error %v, want one naming %s", err, bad)
	}
	done := enc.calls.Load()
	if done != 6 {
		t.Errorf("%d images embedded before the bad one (batches of 3), want 6", done)
	}
	vecs, err := EmbedFilesWith(enc, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.calls.Load() - done; got != 4 {
		t.Errorf("resumed run embedded %d images, want 4 (10 distinct minus the 6 cached)", got)
	}
	for i, v := range vecs[:10] {
		if !near(float64(v[0]), float64(20*i)/255, 1e-6) || !near(float64(v[2]), 200.0/255, 1e-6) {
			t.Errorf("%s: vector %v", paths[i], v)
		}
	}
	if !slicesEqual(vecs[0], vecs[10]) {
		t.Errorf("copy has %v, original %v", vecs[10], vecs[0])
	}
	// A third run computes nothing and reads the same values back from the file.
	calls := enc.calls.Load()
	again, err := EmbedFilesWith(enc, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	if enc.calls.Load() != calls {
		t.Errorf("cached run embedded %d images", enc.calls.Load()-calls)
	}
	for i := range again {
		if !slicesEqual(again[i], vecs[i]) {
			t.Errorf("%s: cached %v, computed %v", paths[i], again[i], vecs[i])
		}
	}
	// The file is what the documented format says.
	b, err := os.ReadFile(CachePath(cacheDir, enc.Name(), enc.Weights(), encoderVersion(enc)))
	if err != nil {
		t.Fatal(err)
	}
	h, recs, err := parseCache(b)
	if err != nil || h.Count != 10 || h.Dim != 4 || len(recs) != 10 || h.Encoder != enc.Name() {
		t.Errorf("cache file: header %+v, %d records, %v", h, len(recs), err)
	}
	// A truncated cache file is an error, not silently ignored or reused.
	os.WriteFile(CachePath(cacheDir, enc.Name(), enc.Weights(), encoderVersion(enc)), b[:len(b)-7], 0o644)
	if _, err := EmbedFilesWith(enc, paths, opt); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated cache file: error %v", err)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEmbedFilesBadAndOddImages: each odd input is converted correctly or gets one
// error naming the file; none yields a zero vector.
func TestEmbedFilesBadAndOddImages(t *testing.T) {
	dir := t.TempDir()
	opt := EmbedOptions{Dir: filepath.Join(dir, "cache")}
	good := fixture(t, dir, "good.jpg", 64, 48, color.RGBA{200, 30, 60, 255})
	data, _ := os.ReadFile(good)

	truncated := filepath.Join(dir, "truncated.jpg")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	corrupt := filepath.Join(dir, "corrupt.jpg")
	bad := append([]byte{}, data...)
	for i := 20; i < 200 && i < len(bad); i++ { // smash the tables after the SOI marker
		bad[i] = 0xff
	}
	os.WriteFile(corrupt, bad, 0o644)
	empty := filepath.Join(dir, "empty.jpg")
	os.WriteFile(empty, nil, 0o644)
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("hello"), 0o644)
	for _, p := range []string{truncated, corrupt, empty, text, filepath.Join(dir, "missing.jpg")} {
		_, err := EmbedFilesWith(&meanColour{}, []string{good, p}, opt)
		if err == nil {
			t.Errorf("%s: no error", p)
			continue
		}
		if !strings.Contains(err.Error(), p) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: error %q should be one line naming the file", p, err)
		}
	}

	// Converted inputs: grayscale JPEG and PNG, a paletted PNG, a 1×1 image, RGBA PNG.
	gray := image.NewGray(image.Rect(0, 0, 20, 10))
	for i := range gray.Pix {
		gray.Pix[i] = 90
	}
	grayJPG := filepath.Join(dir, "gray.jpg")
	var buf bytes.Buffer
	jpeg.Encode(&buf, gray, &jpeg.Options{Quality: 100})
	os.WriteFile(grayJPG, buf.Bytes(), 0o644)
	grayPNG := filepath.Join(dir, "gray.png")
	buf.Reset()
	png.Encode(&buf, gray)
	os.WriteFile(grayPNG, buf.Bytes(), 0o644)
	pal := image.NewPaletted(image.Rect(0, 0, 5, 5), color.Palette{color.RGBA{10, 200, 30, 255}})
	palPNG := filepath.Join(dir, "palette.png")
	buf.Reset()
	png.Encode(&buf, pal)
	os.WriteFile(palPNG, buf.Bytes(), 0o644)
	one := fixture(t, dir, "one.png", 1, 1, color.RGBA{0, 0, 0, 255})
	cases := []struct {
		path    string
		r, g, b float64
	}{
		{grayJPG, 90, 90, 90},
		{grayPNG, 90, 90, 90},
		{palPNG, 10, 200, 30},
		{one, 0, 0, 0},
		{good, 200, 30, 60},
	}
	var paths []string
	for _, c := range cases {
		paths = append(paths, c.path)
	}
	vecs, err := EmbedFilesWith(&meanColour{}, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		v := vecs[i]
		if !near(float64(v[0])*255, c.r, 3) || !near(float64(v[1])*255, c.g, 3) || !near(float64(v[2])*255, c.b, 3) {
			t.Errorf("%s: mean colour %.1f %.1f %.1f, want %v %v %v", c.path, v[0]*255, v[1]*255, v[2]*255, c.r, c.g, c.b)
		}
	}
}

// TestEmbedFilesCMYK: an Adobe CMYK JPEG (testdata/cmyk.jpg, written by Pillow, see
// testdata/cmyk.py) is converted to RGB.
func TestEmbedFilesCMYK(t *testing.T) {
	const path = "testdata/cmyk.jpg"
	img, err := dataset.LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		x       int
		r, g, b float64
	}{{4, 200, 30, 60}, {28, 20, 160, 220}} {
		got := img.RGBAAt(c.x, 8)
		if !near(float64(got.R), c.r, 4) || !near(float64(got.G), c.g, 4) || !near(float64(got.B), c.b, 4) {
			t.Errorf("%s: pixel (%d, 8) = %v, want about %v %v %v", path, c.x, got, c.r, c.g, c.b)
		}
	}
	vecs, err := EmbedFilesWith(&meanColour{}, []string{path}, EmbedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if v := vecs[0]; !near(float64(v[0])*255, 110, 3) || !near(float64(v[1])*255, 95, 3) || !near(float64(v[2])*255, 140, 3) {
		t.Errorf("%s: mean colour %.1f %.1f %.1f, want about 110 95 140", path, v[0]*255, v[1]*255, v[2]*255)
	}
}

// TestEmbedFilesInceptionJoint: one pass of the real InceptionV3 fills the caches of its
// three outputs, and the encoders from the registry read them back.
func TestEmbedFilesInceptionJoint(t *testing.T) {
	data := dataDir(t)
	paths := []string{filepath.Join(data, goldenPhoto)}
	dir := t.TempDir()
	one := fixture(t, dir, "one.png", 1, 1, color.RGBA{120, 80, 40, 255})
	paths = append(paths, one)
	opt := EmbedOptions{Dir: filepath.Join(dir, "cache")}
	enc, err := Encoders.Open(InceptionMixed5Name)
	if err != nil {
		t.Fatal(err)
	}
	m5, err := EmbedFilesWith(enc, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(m5) != 2 || len(m5[0]) != 768 {
		t.Fatalf("mixed5: %d vectors of %d", len(m5), len(m5[0]))
	}
	for _, name := range []string{InceptionPoolName} {
		e, err := Encoders.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(CachePath(opt.Dir, name, e.Weights(), encoderVersion(e))); err != nil {
			t.Errorf("%s: not cached by the joint pass: %v", name, err)
		}
		v, err := EmbedFilesWith(e, paths, opt)
		if err != nil || len(v[0]) != 2048 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	nsfw, err := NSFWEncoder()
	if err != nil {
		t.Fatal(err)
	}
	scores, err := EmbedFilesWith(nsfw, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range scores {
		var sum float64
		for _, p := range s {
			sum += float64(p)
		}
		if !near(sum, 1, 1e-5) {
			t.Errorf("%s: NSFW probabilities %v sum to %g", paths[i], s, sum)
		}
	}
}
