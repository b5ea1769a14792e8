package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/train"
)

func init() { progress.Quiet = true }

// pairData draws rows [text | image] of standard normal features whose target depends
// only on the interaction of the two parts, y = σ(3·Σ_c ⟨A_c, t⟩⟨B_c, i⟩/2) over k = 4
// fixed random directions, with 5 rows per photo group. No constant or linear model can
// beat the median here.
func pairData(n, textDim, imageDim int, seed uint64) (X [][]float32, y []float32, groups []string) {
	const k = 4
	dirs := rand.New(rand.NewPCG(99, 98))
	A, B := make([][]float64, k), make([][]float64, k)
	for c := range k {
		A[c], B[c] = make([]float64, textDim), make([]float64, imageDim)
		for j := range A[c] {
			A[c][j] = dirs.NormFloat64() / math.Sqrt(float64(textDim))
		}
		for j := range B[c] {
			B[c][j] = dirs.NormFloat64() / math.Sqrt(float64(imageDim))
		}
	}
	r := rand.New(rand.NewPCG(seed, 11))
	for i := 0; i < n; i++ {
		row := make([]float32, textDim+imageDim)
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		var dot float64
		for c := range k {
			var a, b float64
			for j := range textDim {
				a += A[c][j] * float64(row[j])
			}
			for j := range imageDim {
				b += B[c][j] * float64(row[textDim+j])
			}
			dot += a * b
		}
		X = append(X, row)
		y = append(y, float32(1/(1+math.Exp(-3*dot/2))))
		groups = append(groups, fmt.Sprintf("img%d", i/5))
	}
	return X, y, groups
}

// TestMLPBeatsConstant trains every arch on the interaction target and checks each beats
// the median by a wide margin on new rows, where ridge cannot.
func TestMLPBeatsConstant(t *testing.T) {
	X, y, groups := pairData(2000, 16, 32, 1)
	Xt, yt, _ := pairData(500, 16, 32, 2)
	score := func(m Model) float64 {
		if err := m.Fit(X, y, groups); err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(Xt)
		if err != nil {
			t.Fatal(err)
		}
		mae, err := metrics.MAE(yt, p)
		if err != nil {
			t.Fatal(err)
		}
		return mae
	}
	median, ridge := score(&Median{}), score(NewRidge())
	t.Logf("median MAE %.4f, ridge %.4f", median, ridge)
	if ridge < 0.9*median {
		t.Errorf("ridge %.4f beats median %.4f on a pure interaction target: the data is not what the test thinks", ridge, median)
	}
	for _, arch := range []Arch{ArchConcat, ArchProduct, ArchCosine} {
		s := DefaultMLPSettings(arch, 16)
		s.MaxEpochs = 120
		m := NewMLP("test-"+string(arch), s)
		mae := score(m)
		last := m.History[len(m.History)-1]
		t.Logf("%s: MAE %.4f, best epoch %d of %d, %.1fs", arch, mae, m.BestEpoch, last.Epoch, last.Seconds)
		if mae > 0.7*median {
			t.Errorf("%s: MAE %.4f, not clearly below the median's %.4f", arch, mae, median)
		}
	}
}

func TestMLPLossesAndDeterminism(t *testing.T) {
	X, y, groups := pairData(600, 8, 8, 3)
	var first []float32
	for k, l := range []Loss{LossMSE, LossMAE, LossHuber, LossMSE, LossMSE} {
		s := DefaultMLPSettings(ArchProduct, 8)
		s.Loss, s.MaxEpochs = l, 8
		if k == 4 {
			s.RankWeight = 0.5
		}
		m := NewMLP("loss-"+string(l), s)
		if err := m.Fit(X, y, groups); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		p, err := m.Predict(X[:20])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s: prediction %v outside [0, 1]", l, v)
			}
		}
		if len(m.History) == 0 || m.BestEpoch < 1 {
			t.Fatalf("%s: no learning curve", l)
		}
		if first == nil {
			first = p
		} else if k == 3 {
			for i := range p {
				if p[i] != first[i] {
					t.Fatalf("same seed, different predictions: %v vs %v", p[:3], first[:3])
				}
			}
		}
	}
}

func TestMLPSaveLoad(t *testing.T) {
	X, y, groups := pairData(400, 8, 12, 4)
	for _, arch := range []Arch{ArchConcat, ArchCosine} {
		s := DefaultMLPSettings(arch, 8)
		s.MaxEpochs = 5
		m := NewMLP("roundtrip-"+string(arch), s)
		m.Encoders = []string{"glove-100", "inception-v3"}
		if err := m.Fit(X, y, groups); err != nil {
			t.Fatal(err)
		}
		if svg := m.Curve(); !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 3 {
			t.Errorf("%s: learning curve SVG malformed: %.200s", arch, svg)
		}
		want, _ := m.Predict(X[:50])
		dir := filepath.Join(t.TempDir(), "mlp", m.Name())
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(dir); err != nil { // overwrite
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			t.Errorf("saving twice left %d entries beside the model", len(entries))
		}
		back, err := LoadMLP(dir, "glove-100", "inception-v3")
		if err != nil {
			t.Fatal(err)
		}
		got, err := back.Predict(X[:50])
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: row %d: loaded model predicts %v, trained one %v", arch, i, got[i], want[i])
			}
		}
		if back.BestEpoch != m.BestEpoch || len(back.History) != len(m.History) || back.Settings.Arch != arch {
			t.Errorf("%s: info not round-tripped: %+v", arch, back.Settings)
		}
		if _, err := LoadMLP(dir, "minilm", "inception-v3"); err == nil {
			t.Errorf("%s: loading for other encoders accepted", arch)
		}
	}
	if _, err := LoadMLP(filepath.Join(t.TempDir(), "nothing")); err == nil {
		t.Error("loading a missing model accepted")
	}
}

func TestMLPBadInput(t *testing.T) {
	X, y, groups := pairData(50, 4, 4, 5)
	bad := []MLPSettings{
		DefaultMLPSettings(ArchProduct, 0),   // no text width
		DefaultMLPSettings(ArchCosine, 8),    // text width = row width
		DefaultMLPSettings("transformer", 4), // unknown arch
	}
	s := DefaultMLPSettings(ArchConcat, 4)
	s.Loss = "hinge"
	bad = append(bad, s)
	s = DefaultMLPSettings(ArchConcat, 4)
	s.Dropout = 1
	bad = append(bad, s)
	for i, s := range bad {
		if err := NewMLP("bad", s).Fit(X, y, groups); err == nil {
			t.Errorf("settings %d accepted: %+v", i, s)
		}
	}
	m := NewMLP("unfit", DefaultMLPSettings(ArchConcat, 4))
	if _, err := m.Predict(X); err == nil {
		t.Error("predict before fit accepted")
	}
	if err := m.Fit(X, y, []string{"one"}); err == nil {
		t.Error("wrong number of groups accepted")
	}
}

// benchEpochs is the number of epochs the benchmarks train for: on the course data
// (GloVe + InceptionV3 features) early stopping ends MLP training after 30–90 epochs
// (best epoch 10–70 plus the patience of 20). The synthetic data would train on to
// MaxEpochs, so the benchmarks fix the count instead.
const benchEpochs = 60

// BenchmarkMLPFit trains the default (seed) MLP on data of the course's size: 5,822 pairs
// × 2,148 features (GloVe 100 + InceptionV3 pool 2,048), benchEpochs epochs. It reports
// seconds per epoch.
func BenchmarkMLPFit(b *testing.B) {
	X, y, groups := pairData(5822, 100, 2048, 6)
	s := DefaultMLPSettings(ArchConcat, 100)
	s.MaxEpochs, s.Patience = benchEpochs, benchEpochs
	for b.Loop() {
		m := NewMLP("bench", s)
		if err := m.Fit(X, y, groups); err != nil {
			b.Fatal(err)
		}
		last := m.History[len(m.History)-1]
		b.ReportMetric(last.Seconds/float64(last.Epoch), "s/epoch")
	}
}

// TestPairRankLoss checks the ranking term by hand: with y = (0, 1) only the pair (1, 0)
// counts; tied predictions cost softplus(0) = ln 2, the right order softplus(−10·1).
func TestPairRankLoss(t *testing.T) {
	backend, err := train.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(backend, func(y, p *graph.Node) *graph.Node { return pairRankLoss(y, p) })
	if err != nil {
		t.Fatal(err)
	}
	y := tensors.FromValue([][]float32{{0}, {1}})
	for _, c := range []struct {
		p    [][]float32
		want float64
	}{{[][]float32{{0.5}, {0.5}}, math.Ln2}, {[][]float32{{0}, {1}}, math.Log1p(math.Exp(-10))}, {[][]float32{{1}, {0}}, math.Log1p(math.Exp(10))}} {
		out, err := exec.Call1(y, tensors.FromValue(c.p))
		if err != nil {
			t.Fatal(err)
		}
		if got := float64(out.Value().(float32)); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("p = %v: rank loss %v, want %v", c.p, got, c.want)
		}
	}
}

func TestEnsemble(t *testing.T) {
	X, y, groups := pairData(400, 8, 12, 7)
	s := DefaultMLPSettings(ArchProduct, 8)
	s.MaxEpochs = 4
	e := NewMLPEnsemble("ens", s, 3)
	if err := e.Fit(X, y, groups); err != nil {
		t.Fatal(err)
	}
	got, err := e.Predict(X[:10])
	if err != nil {
		t.Fatal(err)
	}
	// The mean of the members, and the members differ (different seeds).
	var members [][]float32
	for _, m := range e.Members {
		p, _ := m.Predict(X[:10])
		members = append(members, p)
	}
	if members[0][0] == members[1][0] {
		t.Error("members with different seeds predict the same")
	}
	for i := range got {
		mean := (members[0][i] + members[1][i] + members[2][i]) / 3
		if math.Abs(float64(got[i]-mean)) > 1e-6 {
			t.Fatalf("row %d: ensemble %v, members' mean %v", i, got[i], mean)
		}
	}
	dir := filepath.Join(t.TempDir(), "ens")
	if err := e.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadMLPEnsemble(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Predict(X[:10])
	for i := range got {
		if again[i] != got[i] {
			t.Fatalf("row %d: loaded ensemble %v, saved %v", i, again[i], got[i])
		}
	}
}

// BenchmarkMLPEnsembleFit trains the recommended ensemble — 5 product MLPs with the Huber
// loss — at the shape of GloVe 100 + InceptionV3 mixed5 768 features: 5,822 × 868,
// benchEpochs epochs each.
func BenchmarkMLPEnsembleFit(b *testing.B) {
	X, y, groups := pairData(5822, 100, 768, 8)
	s := DefaultMLPSettings(ArchProduct, 100)
	s.Loss = LossHuber
	s.MaxEpochs, s.Patience = benchEpochs, benchEpochs
	for b.Loop() {
		if err := NewMLPEnsemble("bench-ens", s, 5).Fit(X, y, groups); err != nil {
			b.Fatal(err)
		}
	}
}

// weights returns every variable of a fitted MLP's store, flat.
func weights(t *testing.T, m *MLP) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range m.store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		flat, err := tensors.CopyFlatData[float32](val)
		if err != nil {
			t.Fatalf("%s: %v", v.Path(), err)
		}
		out[v.Path()] = flat
	}
	return out
}

// TestMLPDeterministicConcurrent checks training is bit for bit reproducible whatever the
// scheduling: members of an ensemble trained at once (one per core) have the weights and
// predictions of the same members trained alone one after the other, and two ensembles
// trained at the same time (more fits than cores) match both. The image part is wide
// enough (192) that the Go backend splits the matrix products over its workers.
func TestMLPDeterministicConcurrent(t *testing.T) {
	X, y, groups := pairData(1200, 8, 192, 9)
	s := DefaultMLPSettings(ArchProduct, 8)
	s.MaxEpochs, s.Dropout, s.InputDropout = 6, 0.3, 0.1
	ens := []*Ensemble{NewMLPEnsemble("a", s, 3), NewMLPEnsemble("b", s, 3)}
	if err := train.Each(len(ens), len(ens), func(i int) error { return ens[i].Fit(X, y, groups) }); err != nil {
		t.Fatal(err)
	}
	for i, member := range ens[0].Members {
		solo := NewMLP("solo", member.(*MLP).Settings)
		if err := solo.Fit(X, y, groups); err != nil {
			t.Fatal(err)
		}
		want := weights(t, solo)
		wantPred, err := solo.Predict(X)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ens {
			m := e.Members[i].(*MLP)
			got := weights(t, m)
			if len(got) != len(want) {
				t.Fatalf("member %d of %s: %d variables, alone %d", i, e.Name(), len(got), len(want))
			}
			for path, w := range want {
				g := got[path]
				if len(g) != len(w) {
					t.Fatalf("member %d of %s: %s has %d values, alone %d", i, e.Name(), path, len(g), len(w))
				}
				for j := range w {
					if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
						t.Fatalf("member %d of %s: %s[%d] = %v trained concurrently, %v alone", i, e.Name(), path, j, g[j], w[j])
					}
				}
			}
			p, err := m.Predict(X)
			if err != nil {
				t.Fatal(err)
			}
			for j := range p {
				if math.Float32bits(p[j]) != math.Float32bits(wantPred[j]) {
					t.Fatalf("member %d of %s: row %d predicted %v concurrently, %v alone", i, e.Name(), j, p[j], wantPred[j])
				}
			}
		}
	}
}
