package imageenc

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

// goldenPhoto is the photo of golden_layers_img0.tsv.
const goldenPhoto = "train_images/1056338697_4f7d7ce270.jpg"

// decodedPixels returns the sha256 of libjpeg's decoded RGB pixels per photo
// ("train_images/x.jpg" -> sha) from decoded_pixels.tsv.
func decodedPixels(t testing.TB, ref string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(ref, "decoded_pixels.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) >= 6 && p[0] != "split" {
			out[p[0]+"/"+p[1]] = p[5]
		}
	}
	return out
}

// libjpegDecode decodes photos with Pillow (libjpeg, as the reference did) through
// Debian's /usr/bin/python3, checking each against decoded_pixels.tsv. It returns nil if
// Pillow is not there, its pixels differ from the reference's, or $IMAGEENC_NO_PILLOW is
// set (to exercise the tests' fallback on Go's decoder).
func libjpegDecode(t testing.TB, ref, data string, photos []string) []image.Image {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil || os.Getenv("IMAGEENC_NO_PILLOW") != "" {
		return nil
	}
	tmp := t.TempDir()
	script := `
import sys
from PIL import Image
for i, p in enumerate(sys.argv[2:]):
    im = Image.open(p).convert("RGB")
    with open("%s/%d.rgb" % (sys.argv[1], i), "wb") as f:
        f.write(b"%d %d\n" % im.size)
        f.write(im.tobytes())
`
	args := []string{"-c", script, tmp}
	for _, p := range photos {
		args = append(args, filepath.Join(data, p))
	}
	if out, err := exec.Command("/usr/bin/python3", args...).CombinedOutput(); err != nil {
		t.Logf("Pillow not usable (%v: %s): using Go's JPEG decoder", err, out)
		return nil
	}
	want := decodedPixels(t, ref)
	imgs := make([]image.Image, len(photos))
	for i, p := range photos {
		b, err := os.ReadFile(filepath.Join(tmp, strconv.Itoa(i)+".rgb"))
		if err != nil {
			t.Fatal(err)
		}
		nl := strings.IndexByte(string(b), '\n')
		var w, h int
		if _, err := fmt.Sscan(string(b[:nl]), &w, &h); err != nil {
			t.Fatal(err)
		}
		pix := b[nl+1:]
		sum := sha256.Sum256(pix)
		if hex.EncodeToString(sum[:]) != want[p] {
			t.Logf("%s: Pillow's pixels differ from the reference's: using Go's JPEG decoder", p)
			return nil
		}
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for j := range w * h {
			img.Pix[4*j], img.Pix[4*j+1], img.Pix[4*j+2], img.Pix[4*j+3] = pix[3*j], pix[3*j+1], pix[3*j+2], 255
		}
		imgs[i] = img
	}
	return imgs
}

// goldenImage returns the golden photo decoded exactly as the reference did when
// possible (exact=true), else as Go decodes it.
func goldenImage(t testing.TB) (img image.Image, exact bool) {
	t.Helper()
	ref := referenceDir(t)
	data := dataDir(t)
	if imgs := libjpegDecode(t, ref, data, []string{goldenPhoto}); imgs != nil {
		return imgs[0], true
	}
	rgba, err := dataset.LoadImage(filepath.Join(data, goldenPhoto))
	if err != nil {
		t.Fatal(err)
	}
	return rgba, false
}
