package textenc

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/ortref"
)

func TestMiniLMMissing(t *testing.T) {
	if _, err := assets.MiniLM.Available(); err == nil {
		t.Skip("the real all-MiniLM-L6-v2 file is present")
	}
	_, err := Encoders.Open(MiniLMName)
	if err == nil || !strings.Contains(err.Error(), assets.MiniLM.Name) || !strings.Contains(err.Error(), "make models-onnx") {
		t.Errorf("missing weights: got error %v, want one naming %s and `make models-onnx`", err, assets.MiniLM.Name)
	}
}

var (
	testMiniLMOnce sync.Once
	testMiniLM     *MiniLM
	testMiniLMErr  error
)

// randomMiniLM loads the random-weight BERT with all-MiniLM-L6-v2's configuration once
// per test binary.
func randomMiniLM(tb testing.TB) (*MiniLM, string) {
	tb.Helper()
	path := ortref.Graph(tb, ortref.MiniLMGraph)
	testMiniLMOnce.Do(func() { testMiniLM, testMiniLMErr = LoadMiniLM(path) })
	if testMiniLMErr != nil {
		tb.Fatal(testMiniLMErr)
	}
	return testMiniLM, path
}

// randomTokens returns rows of random ids framed by [CLS] … [SEP] with lengths lens,
// padded to the longest, and their masks.
func randomTokens(r *rand.Rand, lens ...int) (ids, mask [][]int64) {
	n := 0
	for _, l := range lens {
		n = max(n, l)
	}
	for _, l := range lens {
		row, m := make([]int64, n), make([]int64, n)
		for j := range l {
			row[j], m[j] = 1000+r.Int64N(29000), 1
		}
		row[0], row[l-1] = ClsID, SepID
		ids, mask = append(ids, row), append(mask, m)
	}
	return ids, mask
}

func flatten[T any](rows [][]T) []T {
	var out []T
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// TestMiniLMParity runs the random-weight BERT graph (all-MiniLM-L6-v2's structure and
// sizes) through the encoder (onnx-gomlx on the GoMLX backend) and through ONNX Runtime
// on the same padded batch, and requires the token embeddings and the pooled, normalised
// sentence vectors to agree within 1e-4.
func TestMiniLMParity(t *testing.T) {
	enc, path := randomMiniLM(t)
	if enc.Dim() != 384 {
		t.Fatalf("dim %d, want 384", enc.Dim())
	}
	r := rand.New(rand.NewPCG(42, 0))
	lens := []int{7, 19, 3, 12}
	ids, mask := randomTokens(r, lens...)
	b, n := int64(len(ids)), int64(len(ids[0]))

	s, err := ortref.Open(path, []string{"input_ids", "attention_mask", "token_type_ids"}, []string{"last_hidden_state"}, ortref.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(ortref.Int64(flatten(ids), b, n), ortref.Int64(flatten(mask), b, n), ortref.Int64(make([]int64, b*n), b, n))
	if err != nil {
		t.Fatal(err)
	}
	wantHidden := out[0].Float32

	gotHidden, err := enc.TokenEmbeddings(ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	maxRel, l2Rel := ortref.RelErr(flatten(gotHidden), wantHidden)
	t.Logf("token embeddings [%d,%d,384], GoMLX %s vs ONNX Runtime %s: max rel err %.2g, L2 rel err %.2g",
		b, n, enc.backend.Name(), ortref.Version(), maxRel, l2Rel)
	if !(maxRel <= 1e-4) {
		t.Errorf("token embeddings: max relative error %.3g > 1e-4", maxRel)
	}

	// Reference pooling in float64 on ONNX Runtime's token embeddings.
	var want []float32
	for i, l := range lens {
		mean := make([]float64, 384)
		for j := range l {
			for k := range mean {
				mean[k] += float64(wantHidden[(i*int(n)+j)*384+k]) / float64(l)
			}
		}
		var norm float64
		for _, v := range mean {
			norm += v * v
		}
		for _, v := range mean {
			want = append(want, float32(v/math.Sqrt(norm)))
		}
	}
	got, err := enc.EmbedIDs(ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	maxRel, l2Rel = ortref.RelErr(flatten(got), want)
	t.Logf("sentence vectors (mean over mask, L2-normalised): max rel err %.2g, L2 rel err %.2g", maxRel, l2Rel)
	if !(maxRel <= 1e-4) {
		t.Errorf("sentence vectors: max relative error %.3g > 1e-4", maxRel)
	}
}

// TestMiniLMEmbed checks the text path: tokenization, batching with padding (a text's
// vector does not depend on its batch), unit vectors, and hard inputs.
func TestMiniLMEmbed(t *testing.T) {
	enc, _ := randomMiniLM(t)
	texts := []string{
		"A dog runs through the grass .",
		"",
		"!!! ...",
		"Собака бежит по траве",
		strings.Repeat("children playing in the park ", 400), // ~11,600 characters, cut to 256 tokens
		"Two people are sitting on a bench near the water , watching the sun go down over the hills .",
	}
	vecs, err := enc.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if len(v) != 384 {
			t.Fatalf("text %d: vector of %d", i, len(v))
		}
		var norm float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("text %d: value %g", i, x)
			}
			norm += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(norm)-1) > 1e-5 {
			t.Errorf("text %d: norm %.6f, want 1", i, math.Sqrt(norm))
		}
	}
	// Alone, the first text is padded to 16 tokens, in the batch to 256: same vector.
	alone, err := enc.Embed(texts[:1])
	if err != nil {
		t.Fatal(err)
	}
	maxRel, _ := ortref.RelErr(alone[0], vecs[0])
	if maxRel > 1e-5 {
		t.Errorf("the vector of text 0 changes with its batch's padding: max rel err %.2g", maxRel)
	}
	if _, err := enc.EmbedIDs([][]int64{{ClsID, 40000, SepID}}, [][]int64{{1, 1, 1}}); err == nil {
		t.Errorf("token id 40000 accepted")
	}
}

// BenchmarkMiniLM compares sentences/s of the minilm encoder's network (onnx-gomlx on the
// GoMLX backend, pooling and normalisation included) with ONNX Runtime on the same
// random-weight MiniLM graph (token embeddings only), on one batch of MiniLMBatchSize
// sentences of caption-like lengths (10 to 25 tokens, padded to 32).
func BenchmarkMiniLM(b *testing.B) {
	enc, path := randomMiniLM(b)
	r := rand.New(rand.NewPCG(3, 4))
	lens := make([]int, MiniLMBatchSize)
	for i := range lens {
		lens[i] = 10 + r.IntN(16)
	}
	lens[0] = 32 // pad the batch to 32 tokens
	ids, mask := randomTokens(r, lens...)
	n, l := int64(len(ids)), int64(len(ids[0]))
	s, err := ortref.Open(path, []string{"input_ids", "attention_mask", "token_type_ids"}, []string{"last_hidden_state"}, ortref.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	flatIDs, flatMask, types := flatten(ids), flatten(mask), make([]int64, n*l)
	ortref.Compare(b, len(ids), "sent",
		func() error { _, err := enc.EmbedIDs(ids, mask); return err },
		func() error {
			_, err := s.Run(ortref.Int64(flatIDs, n, l), ortref.Int64(flatMask, n, l), ortref.Int64(types, n, l))
			return err
		})
}

// BenchmarkMiniLMEmbedCaptions times the whole text path on real Flickr8k captions
// (tokenization, length-sorted batches padded to multiples of 16, network, pooling):
// sentences/s of Embed on 512 captions per iteration, compilation of new shapes included
// in the first (warm-up) call only.
func BenchmarkMiniLMEmbedCaptions(b *testing.B) {
	enc, _ := randomMiniLM(b)
	dir, err := dataset.LocateFlickr8k()
	if err != nil {
		b.Skip(err)
	}
	caps, err := dataset.LoadCaptions(filepath.Join(dir, dataset.Flickr8kCaption))
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, 0, 512)
	for _, c := range caps[:min(512, len(caps))] {
		texts = append(texts, c.Text)
	}
	if _, err := enc.Embed(texts); err != nil { // compiles the shapes
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := enc.Embed(texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "sent/s")
}
