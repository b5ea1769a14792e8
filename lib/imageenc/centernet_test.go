package imageenc

import (
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
)

// graphTail computes tower_0/detections from a heatmap [h, w, c] and wh [h, w, 4] the
// slow way the graph does it: a full 3×3 max-pool, the equality mask, a stable sort of all
// values and the box arithmetic.
func graphTail(kp, wh []float32, h, w, c, k int, stride float32) []Detection {
	masked := make([]float32, len(kp))
	for y := range h {
		for x := range w {
			for ch := range c {
				m := kp[(y*w+x)*c+ch]
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						if yy, xx := y+dy, x+dx; yy >= 0 && yy < h && xx >= 0 && xx < w {
							m = max(m, kp[(yy*w+xx)*c+ch])
						}
					}
				}
				if i := (y*w+x)*c + ch; kp[i] == m {
					masked[i] = kp[i]
				}
			}
		}
	}
	order := make([]int, len(kp))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case masked[a] > masked[b]:
			return -1
		case masked[a] < masked[b]:
			return 1
		}
		return 0
	})
	var dets []Detection
	for _, i := range order[:k] {
		pos := i / c
		y, x := float32(pos/w), float32(pos%w)
		o := wh[4*pos:]
		dets = append(dets, Detection{x*stride - o[0], y*stride - o[1], x*stride + o[2], y*stride + o[3], masked[i], i % c})
	}
	return dets
}

// TestDecodeDetectionsMatchesGraphTail: the heap-based decoding equals the graph's
// max-pool / top-k arithmetic on random heatmaps with many equal values (ties), including
// one with fewer peaks than k.
func TestDecodeDetectionsMatchesGraphTail(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ h, w, ch, k, levels int }{{9, 7, 5, 20, 8}, {16, 16, 3, 100, 1000}, {4, 5, 2, 30, 2}} {
		kp := make([]float32, c.h*c.w*c.ch)
		for i := range kp {
			kp[i] = float32(1+r.IntN(c.levels)) / float32(c.levels)
		}
		wh := make([]float32, c.h*c.w*4)
		for i := range wh {
			wh[i] = r.Float32() * 10
		}
		got := decodeDetections(kp, wh, c.h, c.w, c.ch, c.k, 4)
		want := graphTail(kp, wh, c.h, c.w, c.ch, c.k, 4)
		if !slices.Equal(got, want) {
			t.Errorf("%dx%dx%d top %d: decoded\n%v\nwant\n%v", c.h, c.w, c.ch, c.k, got, want)
		}
	}
}

// TestResizeBilinearNodeMatchesInterpolate checks the gathered resize against GoMLX's own
// bilinear Interpolate in TF's legacy mode (no align corners, no half-pixel centres), for
// the 2× upsampling CenterNet does and an odd ratio.
func TestResizeBilinearNodeMatchesInterpolate(t *testing.T) {
	backend, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct{ h, w, oh, ow int }{{8, 8, 16, 16}, {5, 7, 9, 4}} {
		x := randTensor(r, 2, c.h, c.w, 3)
		res, err := ExecOnceN(backend, func(x *Node) []*Node {
			want := Interpolate(x, -1, c.oh, c.ow, -1).Bilinear().AlignCorner(false).HalfPixelCenters(false).Done()
			return []*Node{resizeBilinearNode(x, c.oh, c.ow), want}
		}, x)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(t, "resize", res[0], res[1]); d > 1e-5 {
			t.Errorf("resize %dx%d → %dx%d: max difference %.3g with Interpolate", c.h, c.w, c.oh, c.ow, d)
		}
	}
}

// TestSelectObjects: human's selection keeps scores ≥ 0.2, drops boxes overlapping a
// better one by IoU > 0.4 (whatever their class), and lists each class once.
func TestSelectObjects(t *testing.T) {
	dets := []Detection{
		{10, 10, 110, 110, 0.93, 16},   // dog
		{12, 8, 108, 112, 0.90, 15},    // cat, the same box: suppressed
		{200, 200, 260, 260, 0.71, 29}, // frisbee
		{60, 10, 160, 110, 0.5, 16},    // dog, IoU 50/150 = 0.33 with the first: kept
		{300, 300, 310, 310, 0.19, 0},  // below the minimum score
	}
	got := SelectObjects(dets)
	if len(got) != 3 || got[0].Class != 16 || got[1].Class != 29 || got[2].Class != 16 {
		t.Fatalf("selected %v", got)
	}
	if s := (PhotoObjects{Found: got}).String(); s != "dog 0.93, frisbee 0.71" {
		t.Errorf("String() = %q", s)
	}
	many := []Detection{{0, 0, 1, 1, 0.9, 0}}
	for i := range 20 {
		many = append(many, Detection{float32(10 * (i + 1)), 0, float32(10*(i+1) + 5), 5, 0.8, 1})
	}
	if got := SelectObjects(many); len(got) != objectMax {
		t.Errorf("%d objects selected from 21 disjoint boxes, want at most %d", len(got), objectMax)
	}
}

// TestCounts: log(1 + objects) per class, the last value 1 only when nothing was found.
func TestCounts(t *testing.T) {
	dog, person := 16, 0
	got := Counts([]Detection{{Class: dog, Score: 0.9}, {Class: person, Score: 0.8}, {Class: dog, Score: 0.5}})
	if len(got) != 81 || got[dog] != float32(math.Log(3)) || got[person] != float32(math.Log(2)) || got[80] != 0 {
		t.Errorf("two dogs and a person: dog %v, person %v, none %v (%d values)", got[dog], got[person], got[80], len(got))
	}
	var sum float32
	for _, v := range got {
		sum += v
	}
	if want := float32(math.Log(3) + math.Log(2)); math.Abs(float64(sum-want)) > 1e-6 {
		t.Errorf("other classes counted: sum %v, want %v", sum, want)
	}
	if none := Counts(nil); none[80] != 1 || slices.ContainsFunc(none[:80], func(v float32) bool { return v != 0 }) {
		t.Errorf("nothing found: %v", none)
	}
}

// TestCenterNetEncodersAndObjects: one CenterNet pass fills the caches of its four
// outputs; the registry's encoders and Objects read them back; a photo that cannot be
// decoded is one error naming it.
func TestCenterNetEncodersAndObjects(t *testing.T) {
	paths, imgs := centerNetPhotos(t, 2)
	dir := t.TempDir()
	paths = append(paths, fixture(t, dir, "red.png", 40, 30, color.RGBA{200, 20, 20, 255}))
	opt := EmbedOptions{Dir: filepath.Join(dir, "cache")}
	enc, err := Encoders.Open(CenterNetPoolName)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := EmbedFilesWith(enc, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := DefaultCenterNet()
	if err != nil {
		t.Fatal(err)
	}
	direct, err := cn.Run(imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range imgs {
		if len(pool[i]) != 480 || cosine(pool[i], direct.Pool[i]) < 0.999999 {
			t.Errorf("%s: cached pooled feature (%d values) differs from a direct run", paths[i], len(pool[i]))
		}
	}
	for _, name := range []string{CenterNetClassesName, CenterNetCountsName, centerNetDetectionsName} {
		e, err := newCenterNetEncoder(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(CachePath(opt.Dir, name, e.Weights(), encoderVersion(e))); err != nil {
			t.Errorf("%s: not cached by the joint pass: %v", name, err)
		}
	}
	objs, err := objectsWith(paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	countsEnc, err := Encoders.Open(CenterNetCountsName)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := EmbedFilesWith(countsEnc, paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs { // the cached counts are those of the objects the explanations name
		if want := Counts(o.Found); !slices.Equal(counts[i], want) {
			t.Errorf("%s: centernet-counts %v, want Counts of %s: %v", paths[i], counts[i], o, want)
		}
	}
	for i, o := range objs {
		if len(o.Presence) != 80 {
			t.Fatalf("%s: %d presence values", paths[i], len(o.Presence))
		}
		for _, d := range o.Found {
			if d.Score < ObjectMinScore || d.Score > o.Presence[d.Class]+1e-6 {
				t.Errorf("%s: %s %.3f outside [%.1f, presence %.3f]", paths[i], d.Label(), d.Score, ObjectMinScore, o.Presence[d.Class])
			}
		}
		if i < len(imgs) {
			want := SelectObjects(direct.Detections[i])
			if !slices.Equal(o.Found, want) {
				t.Errorf("%s: objects %v, a direct run selects %v", paths[i], o.Found, want)
			}
		}
		t.Logf("%s: %s", filepath.Base(paths[i]), o)
	}

	bad := filepath.Join(dir, "broken.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = objectsWith([]string{paths[0], bad}, opt)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "\n") {
		t.Errorf("broken photo: error %v, want one line naming %s", err, bad)
	}
}

// TestCenterNetStages: the graph is cut once per depthwise convolution; every computed node
// belongs to exactly one stage; each stage reads only values computed before it (by an
// earlier stage, a depthwise convolution, or the image) and returns only its own values.
func TestCenterNetStages(t *testing.T) {
	cn, err := DefaultCenterNet()
	if err != nil {
		t.Fatal(err)
	}
	p, err := cn.stages()
	if err != nil {
		t.Fatal(err)
	}
	depthwise := 0
	for i := range cn.model.Nodes {
		if isDepthwise(&cn.model.Nodes[i]) {
			depthwise++
		}
	}
	if depthwise == 0 || len(p.stages) != depthwise+1 {
		t.Fatalf("%d stages for %d depthwise convolutions", len(p.stages), depthwise)
	}
	ready := map[string]bool{cnInputNode: true}
	for k, st := range p.stages {
		for _, v := range st.inputs {
			if !ready[v] {
				t.Errorf("stage %d reads %s before it is computed", k, v)
			}
		}
		for _, v := range st.outputs {
			if ready[v] {
				t.Errorf("stage %d returns %s, computed before", k, v)
			}
			ready[v] = true
		}
		if st.depthwise != nil {
			if !ready[st.depthwise.input] {
				t.Errorf("depthwise %s after stage %d reads %s before it is computed", st.depthwise.conv.node.Name, k, st.depthwise.input)
			}
			ready[st.depthwise.conv.node.Name] = true
		}
	}
	if last := p.stages[len(p.stages)-1]; last.exec == nil || last.depthwise != nil {
		t.Error("the last stage computes no results")
	}
}
