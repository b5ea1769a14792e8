package retrieval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/train"
)

func init() { progress.Quiet = true }

// synthetic draws photos as random unit vectors of imgDim values and perPhoto texts per
// photo as a fixed random linear map of the photo's vector into textDim values plus noise
// (noise of the same norm as the signal), normalised as the real features are. A model
// has to learn the map to find a text's photo.
func synthetic(photos, perPhoto, imgDim, textDim int, noise float64, seed uint64) (img, text [][]float32, imageOfText []int) {
	mapRng := rand.New(rand.NewPCG(7, 7)) // the same map for every call: train and test agree
	W := make([][]float64, textDim)
	for i := range W {
		W[i] = make([]float64, imgDim)
		for j := range W[i] {
			W[i][j] = mapRng.NormFloat64() / math.Sqrt(float64(imgDim))
		}
	}
	r := rand.New(rand.NewPCG(seed, 3))
	unit := func(v []float32) []float32 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(s))
		}
		return v
	}
	for p := range photos {
		v := make([]float32, imgDim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		img = append(img, unit(v))
		for range perPhoto {
			t := make([]float32, textDim)
			for i := range t {
				var s float64
				for j := range imgDim {
					s += W[i][j] * float64(v[j])
				}
				t[i] = float32(s + noise*r.NormFloat64()/math.Sqrt(float64(textDim)))
			}
			text = append(text, unit(t))
			imageOfText = append(imageOfText, p)
		}
	}
	return img, text, imageOfText
}

// testSettings are small and quick settings for the synthetic data.
func testSettings() Settings {
	s := DefaultSettings()
	s.Dim, s.ImageHidden, s.TextHidden = 32, 64, 0
	s.ImageDropout, s.TextDropout, s.Dropout = 0.1, 0.1, 0.2
	s.Temperature, s.LearningRate = 0.07, 1e-3
	s.BatchSize, s.Epochs = 64, 30
	return s
}

// TestLearnsSynthetic trains on 300 synthetic photos and ranks 100 new photos for their
// texts: the model must find the map (random ranking: R@1 = 1 %).
func TestLearnsSynthetic(t *testing.T) {
	img, text, of := synthetic(300, 5, 48, 24, 0.7, 1)
	s := testSettings()
	start := time.Now()
	var seen []Epoch
	m, err := TrainWithHook(img, text, of, s, func(e Epoch) { seen = append(seen, e) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained in %v; best epoch %d of %d; τ = %.4f", time.Since(start), m.BestEpoch, len(m.History), m.History[len(m.History)-1].Temperature)
	if len(m.History) != s.Epochs || len(seen) != s.Epochs {
		t.Errorf("%d epochs in the history, %d seen by the hook, want %d", len(m.History), len(seen), s.Epochs)
	}
	first, last := m.History[0], m.History[len(m.History)-1]
	t.Logf("epoch 1: loss %.3f valid R@1 %.3f; epoch %d: loss %.3f valid R@1 %.3f (%d valid photos)",
		first.TrainLoss, first.ValidR1, last.Epoch, last.TrainLoss, last.ValidR1, m.ValidPhotos)
	if !(last.TrainLoss < first.TrainLoss) {
		t.Errorf("training loss went from %.3f to %.3f", first.TrainLoss, last.TrainLoss)
	}
	if m.ValidPhotos != 30 {
		t.Errorf("%d validation photos, want 30 (10 %% of 300)", m.ValidPhotos)
	}
	timg, ttext, tof := synthetic(100, 5, 48, 24, 0.7, 2)
	ranks, err := m.Ranks(timg, ttext, tof)
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Summarize(ranks)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new photos: %+v", r)
	if r.R1 < 0.6 || r.R10 < 0.95 {
		t.Errorf("on new photos R@1 = %.3f, R@10 = %.3f: want ≥ 0.6 and ≥ 0.95", r.R1, r.R10)
	}
	// Projections are unit vectors of Dim values.
	v, err := m.ProjectImages(timg[:3])
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range v {
		if len(row) != s.Dim || math.Abs(float64(dot(row, row))-1) > 1e-4 {
			t.Fatalf("projection of %d values, norm² %v: want %d values of norm 1", len(row), dot(row, row), s.Dim)
		}
	}
}

// TestKeepsBestEpoch trains fast enough to overfit, so that the best validation epoch
// comes before the last, and checks the kept weights are that epoch's: the validation
// recall recomputed from the final model is the one recorded for it.
func TestKeepsBestEpoch(t *testing.T) {
	img, text, of := synthetic(300, 5, 48, 24, 0.7, 1)
	s := testSettings()
	s.LearningRate, s.Epochs = 0.01, 15
	s.Dropout, s.ImageDropout, s.TextDropout = 0, 0, 0
	m, err := Train(img, text, of, s)
	if err != nil {
		t.Fatal(err)
	}
	if m.BestEpoch >= s.Epochs {
		t.Fatalf("best epoch %d of %d: the test needs an earlier one", m.BestEpoch, s.Epochs)
	}
	groups := make([]string, len(of))
	for i, p := range of {
		groups[i] = strconv.Itoa(p)
	}
	_, valid, err := dataset.GroupShuffleSplit(groups, s.ValidFraction, s.Seed)
	if err != nil {
		t.Fatal(err)
	}
	var vimg, vtext [][]float32
	var vrel []int
	at := map[int]int{}
	for _, tx := range valid {
		if _, ok := at[of[tx]]; !ok {
			at[of[tx]] = len(vimg)
			vimg = append(vimg, img[of[tx]])
		}
		vtext, vrel = append(vtext, text[tx]), append(vrel, at[of[tx]])
	}
	vr, err := m.Ranks(vimg, vtext, vrel)
	if err != nil {
		t.Fatal(err)
	}
	if r1, _ := metrics.RecallAt(vr, 1); math.Abs(r1-m.History[m.BestEpoch-1].ValidR1) > 1e-9 {
		t.Errorf("validation R@1 of the final model %.4f, recorded for the kept epoch %d: %.4f", r1, m.BestEpoch, m.History[m.BestEpoch-1].ValidR1)
	}

}

// samePhotoMask is the mask of a batch whose pair b has a text of its own (no two alike)
// and shows photo photos[b].
func samePhotoMask(photos []int) []float32 {
	texts := make([][]float32, len(photos))
	rows := make([]int, len(photos))
	for i := range texts {
		texts[i], rows[i] = []float32{float32(i), 1}, i
	}
	return newPositives(texts, photos).Mask(rows, photos)
}

// TestPositivesMask checks the mask marks exactly the off-diagonal pairs of one photo, and
// a photo described by another pair's text when texts repeat (the same features).
func TestPositivesMask(t *testing.T) {
	got := samePhotoMask([]int{4, 7, 4, 4, 9})
	want := []float32{
		0, 0, 1, 1, 0,
		0, 0, 0, 0, 0,
		1, 0, 0, 1, 0,
		1, 0, 1, 0, 0,
		0, 0, 0, 0, 0,
	}
	if !slices.Equal(got, want) {
		t.Errorf("mask %v, want %v", got, want)
	}
	// Texts 0 and 2 are one caption describing photos 5 and 6; text 1 describes 6 only.
	texts := [][]float32{{1, 0}, {0, 1}, {1, 0}, {0.5, 0.5}}
	of := []int{5, 6, 6, 7}
	pos := newPositives(texts, of)
	got = pos.Mask([]int{0, 1, 3}, []int{5, 6, 7})
	want = []float32{
		0, 1, 0, // caption 0 describes photo 6 too
		0, 0, 0,
		0, 0, 0,
	}
	if !slices.Equal(got, want) {
		t.Errorf("repeated caption: mask %v, want %v", got, want)
	}
	if got = pos.Mask([]int{1, 2}, []int{6, 6}); !slices.Equal(got, []float32{0, 1, 1, 0}) {
		t.Errorf("two texts of photo 6: mask %v", got)
	}
	is6 := func(p int) bool { return p == 6 }
	if pos.only(0, is6) || !pos.only(1, is6) || pos.only(2, is6) {
		t.Errorf("only photo 6: text 0 %v, 1 %v, 2 %v; want false, true, false", pos.only(0, is6), pos.only(1, is6), pos.only(2, is6))
	}
}

// lossOf runs contrastiveLoss on a logits matrix and a mask.
func lossOf(t *testing.T, logits [][]float32, photos []int) float64 {
	t.Helper()
	backend, err := train.Backend()
	if err != nil {
		t.Fatal(err)
	}
	n := len(logits)
	flat := make([]float32, 0, n*n)
	for _, row := range logits {
		flat = append(flat, row...)
	}
	out, err := graph.ExecOnce(backend, func(l, m *graph.Node) *graph.Node {
		return contrastiveLoss([]*graph.Node{m}, []*graph.Node{l})
	}, tensors.FromFlatDataAndDimensions(flat, n, n), tensors.FromFlatDataAndDimensions(samePhotoMask(photos), n, n))
	if err != nil {
		t.Fatal(err)
	}
	return train.Scalar(out)
}

// refLoss is the symmetric InfoNCE written out in Go: the target of row i (and column i)
// is i, and entries (i, j) with i ≠ j of the same photo are left out.
func refLoss(logits [][]float32, photos []int) float64 {
	n := len(logits)
	var t2i, i2t float64
	for i := range n {
		var rowSum, colSum float64
		for j := range n {
			if j == i || photos[i] != photos[j] {
				rowSum += math.Exp(float64(logits[i][j]))
				colSum += math.Exp(float64(logits[j][i]))
			}
		}
		t2i += math.Log(rowSum) - float64(logits[i][i])
		i2t += math.Log(colSum) - float64(logits[i][i])
	}
	return (t2i + i2t) / (2 * float64(n))
}

// TestContrastiveLossMasksSamePhoto checks the loss against the Go reference with and
// without shared photos, and that a same-photo pair scored high is not penalised.
func TestContrastiveLossMasksSamePhoto(t *testing.T) {
	logits := [][]float32{
		{5, 4.5, 0.1, -1},
		{4.2, 6, 0.3, 0.2},
		{0.5, -0.2, 3, 1},
		{0, 1, 2, 4},
	}
	for _, photos := range [][]int{{0, 1, 2, 3}, {0, 0, 2, 3}, {1, 1, 1, 1}} {
		got, want := lossOf(t, logits, photos), refLoss(logits, photos)
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("photos %v: loss %.6f, want %.6f", photos, got, want)
		}
	}
	// Pairs 0 and 1 show the same photo: raising their cross logits must not change the loss.
	same := []int{0, 0, 2, 3}
	base := lossOf(t, logits, same)
	raised := [][]float32{slices.Clone(logits[0]), slices.Clone(logits[1]), logits[2], logits[3]}
	raised[0][1], raised[1][0] = 50, 50
	if got := lossOf(t, raised, same); math.Abs(got-base) > 1e-5 {
		t.Errorf("same-photo logits raised: loss %.6f, was %.6f: they are treated as negatives", got, base)
	}
	if got := lossOf(t, raised, []int{0, 1, 2, 3}); !(got > base+5) {
		t.Errorf("different photos scored 50: loss %.6f, want far above %.6f", got, base)
	}
	// Every pair of one photo: each row has only its own pair, the loss is 0.
	if got := lossOf(t, logits, []int{1, 1, 1, 1}); math.Abs(got) > 1e-6 {
		t.Errorf("one photo for all pairs: loss %v, want 0", got)
	}
}

// TestEpochOrder checks an epoch lists every training text once and that a photo's texts
// are spread one per round.
func TestEpochOrder(t *testing.T) {
	of := []int{0, 0, 0, 1, 1, 2, 3, 3, 3, 3}
	texts := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	rng := rand.New(rand.NewPCG(1, 2))
	order := epochOrder(rng, slices.Clone(texts), of, nil, 0)
	sorted := slices.Sorted(slices.Values(order))
	if !slices.Equal(sorted, texts) {
		t.Fatalf("epoch order %v is not a permutation of %v", order, texts)
	}
	// The first round holds one text of each of the 4 photos.
	seen := map[int]bool{}
	for _, tx := range order[:4] {
		seen[of[tx]] = true
	}
	if len(seen) != 4 {
		t.Errorf("first round %v covers photos %v, want all 4", order[:4], seen)
	}
}

// TestSaveLoad checks a saved and loaded model projects exactly as the trained one, with and
// without validation photos (whose metrics are then NaN, saved as null).
func TestSaveLoad(t *testing.T) {
	for _, vf := range []float64{0.1, 0} {
		t.Run(fmt.Sprintf("valid_fraction=%v", vf), func(t *testing.T) { testSaveLoad(t, vf) })
	}
}

func testSaveLoad(t *testing.T, validFraction float64) {
	img, text, of := synthetic(80, 5, 16, 12, 0.5, 3)
	s := testSettings()
	s.Epochs, s.BatchSize, s.ValidFraction = 3, 32, validFraction
	m, err := Train(img, text, of, s)
	if err != nil {
		t.Fatal(err)
	}
	m.Name, m.ImageEncoder, m.TextEncoder = "synthetic", "img-enc", "text-enc"
	dir := filepath.Join(t.TempDir(), "synthetic")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil { // over an existing model
		t.Fatal(err)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "synthetic" || l.ImageEncoder != "img-enc" || l.TextEncoder != "text-enc" || l.Settings != s ||
		l.BestEpoch != m.BestEpoch || len(l.History) != len(m.History) {
		t.Errorf("loaded %q %q %q %+v best %d, want the saved model's", l.Name, l.ImageEncoder, l.TextEncoder, l.Settings, l.BestEpoch)
	}
	// The caption bank: every distinct text (all of them here) as trained, read back.
	bank, err := m.Bank()
	if err != nil {
		t.Fatal(err)
	}
	loadedBank, err := l.Bank()
	if err != nil {
		t.Fatal(err)
	}
	if len(bank) != len(text) || !reflect.DeepEqual(bank, loadedBank) {
		t.Errorf("caption bank: %d rows trained, %d loaded (equal: %v), want %d", len(bank), len(loadedBank), reflect.DeepEqual(bank, loadedBank), len(text))
	}
	for i, e := range m.History {
		g := l.History[i]
		if noValid := validFraction == 0; noValid != math.IsNaN(e.ValidMRR) || noValid != math.IsNaN(g.ValidR1) ||
			g.TrainLoss != e.TrainLoss || (!noValid && (g.ValidR1 != e.ValidR1 || g.ValidMRR != e.ValidMRR)) {
			t.Errorf("epoch %d loaded as %+v, trained %+v", i+1, g, e)
		}
	}
	for _, side := range []struct {
		name string
		f    func(*Model, [][]float32) ([][]float32, error)
		in   [][]float32
	}{{"images", (*Model).ProjectImages, img[:10]}, {"texts", (*Model).ProjectText, text[:10]}} {
		a, err := side.f(m, side.in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := side.f(l, side.in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !slices.Equal(a[i], b[i]) {
				t.Fatalf("%s row %d: loaded model projects %v, trained one %v", side.name, i, b[i][:4], a[i][:4])
			}
		}
	}
	ta, _ := m.Temperature()
	tb, _ := l.Temperature()
	if ta != tb {
		t.Errorf("temperature %v after load, %v before", tb, ta)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing folder succeeded")
	}
}

// TestBadInput checks that bad features, indices and settings are refused with messages
// that say what is wrong.
func TestBadInput(t *testing.T) {
	img, text, of := synthetic(20, 2, 8, 6, 0.5, 4)
	s := testSettings()
	s.Epochs, s.BatchSize = 1, 8
	nan := slices.Clone(text)
	nan[3] = slices.Clone(nan[3])
	nan[3][2] = float32(math.NaN())
	ragged := slices.Clone(img)
	ragged[5] = ragged[5][:7]
	bad := slices.Clone(of)
	bad[7] = 20
	neg := slices.Clone(of)
	neg[0] = -1
	zero := s
	zero.Dim = 0
	big := s
	big.Dropout = 1
	for _, c := range []struct {
		name      string
		img, text [][]float32
		of        []int
		s         Settings
		want      string
	}{
		{"length mismatch", img, text, of[:len(of)-1], s, "39 photo indices"},
		{"NaN feature", img, nan, of, s, "text features row 3 value 2 is NaN"},
		{"ragged rows", ragged, text, of, s, "image features row 5 has 7 values, want 8"},
		{"index too large", img, text, bad, s, "imageOfText[7] = 20, out of range [0, 20)"},
		{"negative index", img, text, neg, s, "imageOfText[0] = -1"},
		{"no photos", nil, text, of, s, "no image features"},
		{"no texts", img, nil, nil, s, "no text features"},
		{"zero dim", img, text, of, zero, "dim = 0"},
		{"dropout 1", img, text, of, big, "dropout = 1"},
	} {
		_, err := Train(c.img, c.text, c.of, c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	m, err := Train(img, text, of, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ProjectImages([][]float32{make([]float32, 5)}); err == nil || !strings.Contains(err.Error(), "has 5 values, want 8") {
		t.Errorf("projecting 5-d image features: %v", err)
	}
	if _, err := m.ProjectText([][]float32{{1, 2, float32(math.Inf(1)), 0, 0, 0}}); err == nil || !strings.Contains(err.Error(), "+Inf") {
		t.Errorf("projecting +Inf text feature: %v", err)
	}
	if _, err := m.Ranks(img, text[:2], []int{0, 20}); err == nil || !strings.Contains(err.Error(), "relevant[1] = 20") {
		t.Errorf("rank with relevant out of range: %v", err)
	}
	var empty Model
	if _, err := empty.ProjectText(text); err == nil {
		t.Error("an untrained model projected")
	}
}

// TestHardNegativeGroups checks that with HardNegatives the photos come in groups of
// look-alikes: on features made of 10 tight clusters of 8 photos, every group of 8
// consecutive photos of a round is one cluster, and every photo comes once.
func TestHardNegativeGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	var feats [][]float32
	var photos []int
	for range 10 {
		center := make([]float32, 16)
		for j := range center {
			center[j] = float32(r.NormFloat64())
		}
		for range 8 {
			v := slices.Clone(center)
			for j := range v {
				v[j] += 0.05 * float32(r.NormFloat64())
			}
			photos = append(photos, len(feats))
			feats = append(feats, v)
		}
	}
	nn := nearestPhotos(feats, photos, 32)
	if got := nn[0][:7]; !slices.Equal(slices.Sorted(slices.Values(got)), []int{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("7 nearest of photo 0: %v, want its cluster 1..7", got)
	}
	shuffled := slices.Clone(photos)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	order := similarOrder(r, shuffled, nn, 8)
	if !slices.Equal(slices.Sorted(slices.Values(order)), photos) {
		t.Fatalf("order %v is not a permutation of the photos", order)
	}
	for g := 0; g < len(order); g += 8 {
		for _, p := range order[g : g+8] {
			if p/8 != order[g]/8 {
				t.Fatalf("group %v mixes clusters", order[g:g+8])
			}
		}
	}
	// Training with hard negatives still learns.
	img, text, of := synthetic(200, 5, 32, 16, 0.5, 6)
	s := testSettings()
	s.HardNegatives, s.Epochs = 8, 10
	m, err := Train(img, text, of, s)
	if err != nil {
		t.Fatal(err)
	}
	if last := m.History[len(m.History)-1]; last.ValidR1 < 0.5 {
		t.Errorf("with hard negatives: validation R@1 %.3f after %d epochs, want ≥ 0.5", last.ValidR1, last.Epoch)
	}
}

// TestCurveSVG checks the learning curve draws every series, with the title escaped and
// NaN validation points (no held-out photos) left out.
func TestCurveSVG(t *testing.T) {
	h := []Epoch{{Epoch: 1, TrainLoss: 4, ValidR1: 0.1, ValidR5: 0.3, ValidMRR: 0.2}, {Epoch: 2, TrainLoss: 3, ValidR1: 0.2, ValidR5: 0.4, ValidMRR: 0.3}}
	svg := CurveSVG("a<b", h, 2)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "a&lt;b") || strings.Count(svg, "<polyline") != 4 || strings.Contains(svg, "NaN") {
		t.Errorf("curve SVG: %s", svg)
	}
	h[1].ValidR1, h[1].ValidR5, h[1].ValidMRR = math.NaN(), math.NaN(), math.NaN()
	if svg := CurveSVG("x", h, 0); strings.Contains(svg, "NaN") {
		t.Errorf("NaN drawn: %s", svg)
	}
}
