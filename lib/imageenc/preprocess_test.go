package imageenc

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

func float32SHA(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestPreprocessImageNetTorchvision compares PreprocessImageNet bit for bit with
// torchvision's transform, computed by testdata/imagenet_ref.py.
func TestPreprocessImageNetTorchvision(t *testing.T) {
	f, err := os.Open("testdata/imagenet_ref.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	cases := 0
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(p[0], "#") || p[0] == "case" {
			continue
		}
		cases++
		img, err := dataset.LoadImage(filepath.Join("testdata", p[1]))
		if err != nil {
			t.Fatal(err)
		}
		got := PreprocessImageNet(img)
		if len(got) != 3*224*224 {
			t.Fatalf("%s: %d values", p[1], len(got))
		}
		var sum float64
		for _, v := range got {
			sum += float64(v)
		}
		wantSum, _ := strconv.ParseFloat(p[3], 64)
		if sha := float32SHA(got); sha != p[4] {
			t.Errorf("%s: sha256 %s, torchvision %s (sum %.9g vs %.9g)", p[1], sha, p[4], sum, wantSum)
		}
	}
	if cases != 2 {
		t.Errorf("%d cases in imagenet_ref.tsv, want 2", cases)
	}
}

// TestPreprocessImageNetTiny: a 1×1 image becomes a constant 224×224 input.
func TestPreprocessImageNetTiny(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{200, 100, 50, 255})
	got := PreprocessImageNet(img)
	for c, v := range []uint8{200, 100, 50} {
		want := (float32(v)/255 - ImageNetMean[c]) / ImageNetStd[c]
		for i := c * 224 * 224; i < (c+1)*224*224; i++ {
			if got[i] != want {
				t.Fatalf("channel %d value %d = %g, want %g", c, i, got[i], want)
			}
		}
	}
}

// TestPreprocessNSFWJSGolden checks the resized input of the golden photo against the
// reference's statistics, on the very pixels libjpeg decodes (decoded with Pillow when
// /usr/bin/python3 has it; otherwise Go's decoder and a looser tolerance).
func TestPreprocessNSFWJSGolden(t *testing.T) {
	ref := referenceDir(t)
	img, exact := goldenImage(t)
	x := PreprocessNSFWJS(img)
	// "# resized input (0..255 scale): sum=22920106.568051722 mean=85.45805441420015 pixel[0,0]=..."
	header := goldenHeader(t, ref)
	wantSum := headerFloat(t, header, "sum=")
	var sum float64
	for _, v := range x {
		sum += float64(v) * 255
	}
	tol := 1e-6
	if !exact {
		tol = 2e-3 // Go's JPEG decoder differs from libjpeg by a few grey levels
	}
	if rel := math.Abs(sum-wantSum) / wantSum; rel > tol {
		t.Errorf("resized input sum (0..255) = %.9g, reference %.9g (relative error %.2g > %g)", sum, wantSum, rel, tol)
	}
	if exact {
		// pixel[150,150]=[26.82036781311035, 40.907615661621094, 60.343406677246094]
		for c, want := range []float64{26.82036781311035, 40.907615661621094, 60.343406677246094} {
			got := float64(x[3*(150*299+150)+c]) * 255
			if math.Abs(got-want) > 2e-5 {
				t.Errorf("pixel[150,150][%d] = %.7g, reference %.7g", c, got, want)
			}
		}
	}
}

func goldenHeader(t testing.TB, ref string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ref, "golden_layers_img0.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "# resized input") {
			return line
		}
	}
	t.Fatal("golden_layers_img0.tsv: no '# resized input' line")
	return ""
}

func headerFloat(t testing.TB, header, key string) float64 {
	t.Helper()
	i := strings.Index(header, key)
	if i < 0 {
		t.Fatalf("%q not in %q", key, header)
	}
	s := header[i+len(key):]
	if j := strings.IndexAny(s, " \t"); j >= 0 {
		s = s[:j]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
