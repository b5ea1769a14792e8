package imageenc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/ortref"
	"github.com/withsense/withsense/lib/project"
)

// centerNetNodePhotos is the number of dataset photos compared with CenterNet in Node.
const centerNetNodePhotos = 24

// centerNetRefPer is the number of float32 ref.cjs writes per image: 80 + 480 + 100×6.
const centerNetRefPer = centerNetClasses + centerNetPoolDim + 6*centerNetTopK

// centerNetNodeModules returns the TF.js install ref.cjs runs with (`make nsfwjs-node`); a
// missing one skips tb, or fails it when $WITH_SENSE_REQUIRE_TESTGRAPHS is set.
func centerNetNodeModules(tb testing.TB) string {
	tb.Helper()
	modules := filepath.Join(project.ModelsDir(), "nsfwjs-node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@tensorflow", "tfjs-backend-wasm")); err != nil {
		msg := fmt.Sprintf("TF.js for Node not installed in %s (run `make nsfwjs-node`)", modules)
		if os.Getenv(ortref.RequireGraphsEnv) != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return modules
}

// centerNetPhotos returns n dataset photos spread over the sorted train and test images,
// decoded by Go, with their paths.
func centerNetPhotos(tb testing.TB, n int) ([]string, []image.Image) {
	tb.Helper()
	data := dataDir(tb)
	var all []string
	for _, split := range []string{"train_images", "test_images"} {
		files, _ := filepath.Glob(filepath.Join(data, split, "*.jpg"))
		all = append(all, files...)
	}
	sort.Strings(all)
	if len(all) < n {
		tb.Fatalf("%d photos in %s, want at least %d", len(all), data, n)
	}
	var paths []string
	var imgs []image.Image
	for i := 0; len(paths) < n; i += len(all) / n {
		img, err := dataset.LoadImage(all[i])
		if err != nil {
			tb.Fatal(err)
		}
		paths, imgs = append(paths, all[i]), append(imgs, img)
	}
	return paths, imgs
}

// centerNetNode is what ref.cjs computed for one image.
type centerNetNode struct {
	classes, pool []float32
	detections    []Detection
}

var nodeMsRE = regexp.MustCompile(`centernet-node-ms-per-image ([0-9.]+)`)

// runCenterNetNode runs ref.cjs on the images' pixels and returns its outputs and its
// time per image in milliseconds. With cache, outputs of the same pixels, script and
// model come from models/nsfwjs-node/ref (then the time is 0).
func runCenterNetNode(tb testing.TB, imgs []image.Image, cache bool) ([]centerNetNode, float64) {
	tb.Helper()
	modules := centerNetNodeModules(tb)
	modelJSON, err := assets.CenterNetJSON()
	if err != nil {
		tb.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("centernetref", "ref.cjs"))
	if err != nil {
		tb.Fatal(err)
	}
	in := tb.TempDir()
	key := sha256.New()
	for _, f := range []string{script, modelJSON} {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		key.Write(b)
	}
	for i, img := range imgs {
		w, h, pix := rgb8(img)
		rec := append([]byte(strconv.Itoa(w)+" "+strconv.Itoa(h)+"\n"), pix...)
		key.Write(rec)
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("%d.rgb", i)), rec, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cached := filepath.Join(project.ModelsDir(), "nsfwjs-node", "ref", "centernet-"+hex.EncodeToString(key.Sum(nil))[:16]+".bin")
	raw, err := os.ReadFile(cached)
	ms := 0.0
	if err != nil || !cache {
		outFile := filepath.Join(tb.TempDir(), "out.bin")
		var stderr bytes.Buffer
		cmd := exec.Command("node", script, modules, modelJSON, in, outFile)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			tb.Fatalf("node %s: %v\n%s", script, err, stderr.String())
		}
		m := nodeMsRE.FindStringSubmatch(stderr.String())
		if m == nil {
			tb.Fatalf("node %s: no timing line in %q", script, stderr.String())
		}
		ms, _ = strconv.ParseFloat(m[1], 64)
		if raw, err = os.ReadFile(outFile); err != nil {
			tb.Fatal(err)
		}
		if err := atomicfile.WriteFile(cached, raw); err != nil {
			tb.Fatal(err)
		}
	}
	if len(raw) != 4*centerNetRefPer*len(imgs) {
		tb.Fatalf("%s: %d bytes, want %d images × %d float32", cached, len(raw), len(imgs), centerNetRefPer)
	}
	res := make([]centerNetNode, len(imgs))
	for i := range res {
		v := make([]float32, centerNetRefPer)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*centerNetRefPer+j):]))
		}
		res[i].classes, res[i].pool = v[:centerNetClasses], v[centerNetClasses:centerNetClasses+centerNetPoolDim]
		d := v[centerNetClasses+centerNetPoolDim:]
		for k := range centerNetTopK {
			r := d[6*k : 6*k+6]
			res[i].detections = append(res[i].detections, Detection{r[0], r[1], r[2], r[3], r[4], int(r[5])})
		}
	}
	return res, ms
}

// TestCenterNetNode compares the Go CenterNet with human's centernet.json run by TF.js 4.22
// (wasm backend, centernetref/ref.cjs) in Node on 24 dataset photos, the same decoded
// pixels given to both (each side resizes them to 512×512 itself): class presence and
// pooled features within cosine 0.9999, and the classes of the detections scoring ≥ 0.2
// (human's minimum confidence) equal, in order.
func TestCenterNetNode(t *testing.T) {
	paths, imgs := centerNetPhotos(t, centerNetNodePhotos)
	node, _ := runCenterNetNode(t, imgs, true)
	cn, err := DefaultCenterNet()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := cn.Run(imgs)
	if err != nil {
		t.Fatal(err)
	}
	worstClasses, worstPool, worstScore, worstBox := 1.0, 1.0, 0.0, 0.0
	detected := 0
	for i, p := range paths {
		ref := node[i]
		cc, cp := cosine(mine.Classes[i], ref.classes), cosine(mine.Pool[i], ref.pool)
		worstClasses, worstPool = math.Min(worstClasses, cc), math.Min(worstPool, cp)
		if cc < 0.9999 || cp < 0.9999 {
			t.Errorf("%s: class presence cosine %.6f, pooled feature cosine %.6f, want ≥ 0.9999", p, cc, cp)
		}
		var got, want []string
		for k, d := range ref.detections {
			if d.Score < 0.2 {
				break
			}
			want = append(want, d.Label())
			detected++
			g := mine.Detections[i][k]
			got = append(got, g.Label())
			worstScore = math.Max(worstScore, math.Abs(float64(g.Score-d.Score)))
			for _, e := range [][2]float32{{g.X1, d.X1}, {g.Y1, d.Y1}, {g.X2, d.X2}, {g.Y2, d.Y2}} {
				worstBox = math.Max(worstBox, math.Abs(float64(e[0]-e[1])))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: detections ≥ 0.2 are %v, TF.js has %v", p, got, want)
		}
	}
	if detected == 0 {
		t.Errorf("TF.js found no detection ≥ 0.2 on %d photos: nothing to compare", len(paths))
	}
	t.Logf("CenterNet Go vs TF.js (Node, wasm) on %d photos: 1 − cosine ≤ %.1e (class presence), %.1e (pooled); "+
		"%d heatmap peaks ≥ 0.2, all of the same classes in the same order: max score difference %.2g, max box difference %.2g px (of 512)",
		len(paths), 1-worstClasses, 1-worstPool, detected, worstScore, worstBox)
}
