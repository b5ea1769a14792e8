package imageenc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/project"
)

// nsfwjsNodePhotos is the number of dataset photos compared with nsfwjs in Node.
const nsfwjsNodePhotos = 20

// TestNSFWJSNode compares the Go port with nsfwjs itself (TF.js 4.22, wasm backend, run by
// nsfwjsref/ref.cjs in Node) on 20 dataset photos:
//   - on identical pixels (Go's decoded JPEGs fed to both), features and probabilities
//     agree within 1e-4;
//   - end to end, nsfwjs on libjpeg's pixels (Pillow, as the reference decoded them) against
//     the Go pipeline on Go's decoded pixels: cosine ≥ 0.995 for both feature vectors and
//     the same top class.
//
// Node's outputs are cached under models/nsfwjs-node/ref (loading nsfwjs takes minutes on
// 2 busy cores); the test is skipped when models/nsfwjs-node/node_modules is not installed.
func TestNSFWJSNode(t *testing.T) {
	data := dataDir(t)
	ref := referenceDir(t)
	modules := filepath.Join(project.ModelsDir(), "nsfwjs-node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "nsfwjs")); err != nil {
		t.Skipf("nsfwjs for Node not installed in %s (see nsfwjsref/ref.cjs for the npm command)", modules)
	}
	var all []string
	for _, split := range []string{"train_images", "test_images"} {
		files, _ := filepath.Glob(filepath.Join(data, split, "*.jpg"))
		for _, f := range files {
			all = append(all, split+"/"+filepath.Base(f))
		}
	}
	sort.Strings(all)
	var photos []string
	for i := 0; i < len(all) && len(photos) < nsfwjsNodePhotos; i += len(all) / nsfwjsNodePhotos {
		photos = append(photos, all[i])
	}
	goImgs := make([]image.Image, len(photos))
	for i, p := range photos {
		img, err := dataset.LoadImage(filepath.Join(data, p))
		if err != nil {
			t.Fatal(err)
		}
		goImgs[i] = img
	}
	pilImgs := libjpegDecode(t, ref, data, photos)
	inputs := append([]image.Image{}, goImgs...)
	if pilImgs != nil {
		inputs = append(inputs, pilImgs...)
	} else {
		t.Log("Pillow not available: end-to-end comparison on libjpeg's pixels skipped")
	}
	node := runNSFWJSNode(t, modules, inputs)

	inc, err := DefaultInception()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := inc.Run(goImgs)
	if err != nil {
		t.Fatal(err)
	}
	var worstFeat, worstProb, worstCos float64 = 0, 0, 1
	topAgree := 0
	for i, p := range photos {
		got := nodeOutput{mine.Mixed5[i], mine.Pool[i], mine.NSFW[i][:]}
		same := node[i]
		for _, f := range [][2][]float32{{got.mixed5, same.mixed5}, {got.pool, same.pool}} {
			if e := maxRelDiff(f[0], f[1]); e > worstFeat {
				worstFeat = e
			}
		}
		if e := maxAbsDiff(got.probs, same.probs); e > worstProb {
			worstProb = e
		}
		if pilImgs != nil {
			lib := node[len(photos)+i]
			for name, f := range map[string][2][]float32{"mixed5": {got.mixed5, lib.mixed5}, "pool": {got.pool, lib.pool}} {
				c := cosine(f[0], f[1])
				worstCos = math.Min(worstCos, c)
				if c < 0.995 {
					t.Errorf("%s: %s cosine %.5f with nsfwjs on libjpeg pixels, want ≥ 0.995", p, name, c)
				}
			}
			if topClass(got.probs) == topClass(lib.probs) {
				topAgree++
			} else {
				t.Errorf("%s: top class %s (Go) vs %s (nsfwjs, libjpeg pixels): %v vs %v", p, topClass(got.probs), topClass(lib.probs), got.probs, lib.probs)
			}
		}
	}
	if worstFeat > 1e-4 || worstProb > 1e-4 {
		t.Errorf("identical pixels: worst feature error %.2g (relative to the vector's max |x|), worst probability error %.2g; want ≤ 1e-4", worstFeat, worstProb)
	}
	t.Logf("nsfwjs (Node, TF.js wasm) vs Go on %d photos: identical pixels: max feature error %.2g (relative), max probability error %.2g", len(photos), worstFeat, worstProb)
	if pilImgs != nil {
		t.Logf("end to end (nsfwjs on libjpeg pixels, Go on Go's decoding): min cosine %.5f, top class agrees on %d/%d", worstCos, topAgree, len(photos))
	}
}

type nodeOutput struct{ mixed5, pool, probs []float32 }

// runNSFWJSNode returns ref.cjs' outputs for the images, from the cache when the same
// pixels and script were run before.
func runNSFWJSNode(t *testing.T, modules string, imgs []image.Image) []nodeOutput {
	t.Helper()
	in := t.TempDir()
	script, err := filepath.Abs("nsfwjsref/ref.cjs")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(src)
	for i, img := range imgs {
		w, ht, pix := rgb8(img)
		b := append([]byte(fmt.Sprintf("%d %d\n", w, ht)), pix...)
		h.Write(b)
		if err := os.WriteFile(filepath.Join(in, strconv.Itoa(i)+".rgb"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cached := filepath.Join(project.ModelsDir(), "nsfwjs-node", "ref", hex.EncodeToString(h.Sum(nil))[:16]+".bin")
	out, err := os.ReadFile(cached)
	if err != nil {
		if testing.Short() {
			t.Skip("nsfwjs outputs not cached and -short: not running Node (minutes)")
		}
		tmp := filepath.Join(t.TempDir(), "out.bin")
		cmd := exec.Command("node", script, modules, in, tmp)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("node %s: %v", script, err)
		}
		if out, err = os.ReadFile(tmp); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteFile(cached, out); err != nil {
			t.Fatal(err)
		}
	}
	const per = 768 + 2048 + 5
	if len(out) != 4*per*len(imgs) {
		t.Fatalf("%s: %d bytes, want %d images × %d float32", cached, len(out), len(imgs), per)
	}
	vals := make([]float32, len(out)/4)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	res := make([]nodeOutput, len(imgs))
	for i := range res {
		v := vals[i*per : (i+1)*per]
		res[i] = nodeOutput{v[:768], v[768:2816], v[2816:]}
	}
	return res
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// maxRelDiff is the largest difference relative to the vectors' largest magnitude.
func maxRelDiff(a, b []float32) float64 {
	scale := 0.0
	for _, x := range b {
		scale = math.Max(scale, math.Abs(float64(x)))
	}
	return maxAbsDiff(a, b) / math.Max(scale, 1e-12)
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func topClass(p []float32) string {
	var s NSFWScores
	copy(s[:], p)
	c, _ := s.Top()
	return c
}
