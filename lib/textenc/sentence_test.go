package textenc

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

func mustEncoder(t testing.TB, name string) *GloVeEncoder {
	t.Helper()
	if name == "glove-sif" {
		flickr8kSplit(t, dataset.Flickr8kTrain) // skips if the captions are absent
	}
	enc, err := Encoders.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return enc.(*GloVeEncoder)
}

func near32(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func finite(t *testing.T, what string, v []float32) {
	t.Helper()
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("%s[%d] = %v", what, i, x)
		}
	}
}

func TestGloVeMean(t *testing.T) {
	enc := mustEncoder(t, "glove-mean")
	g := enc.glove
	if enc.Name() != "glove-mean" || enc.Dim() != 100 || enc.Weights() != g.Source {
		t.Errorf("Name %q Dim %d Weights %q", enc.Name(), enc.Dim(), enc.Weights())
	}
	dog, _ := g.Vector("dog")
	grass, _ := g.Vector("grass")
	want := make([]float64, 100)
	for i := range want {
		want[i] = (float64(dog[i]) + float64(grass[i])) / 2
	}
	// "a" is not in GloVe (no single letters): skipped and counted.
	v, cov, err := enc.EmbedText("A dog 's on the GRASS .")
	if err != nil {
		t.Fatal(err)
	}
	the, _ := g.Vector("the")
	on, _ := g.Vector("on")
	for i := range want {
		want[i] = (float64(dog[i]) + float64(grass[i]) + float64(the[i]) + float64(on[i])) / 4
	}
	near32(t, "mean", v, want, 1e-6)
	if cov.Words != 5 || cov.Known != 4 || cov.OOV != 1 || cov.OOVWords["a"] != 1 {
		t.Errorf("coverage %+v, want 5 words, 4 known, \"a\" unknown", cov)
	}
	// A hyphenated word GloVe lacks is replaced by its parts.
	v, cov, err = enc.EmbedText("grass-dog")
	if err != nil || cov.Split != 1 || cov.Known != 2 {
		t.Fatalf("grass-dog: %v, coverage %+v", err, cov)
	}
	for i := range want {
		want[i] = (float64(dog[i]) + float64(grass[i])) / 2
	}
	near32(t, "grass-dog", v, want, 1e-6)
}

// TestGloVeHardInput pins the documented behaviour of both GloVe encoders on empty,
// punctuation-only, very long and Cyrillic input.
func TestGloVeHardInput(t *testing.T) {
	for _, name := range []string{"glove-mean", "glove-sif"} {
		enc := mustEncoder(t, name)
		for _, bad := range []struct{ text, words string }{
			{"", ""},
			{"  \t\n", ""},
			{"... !!! ?? -- ;) $%&", ""},
			{"😀😀", ""},
			{"Собака бежит по снегу.", "собака бежит по снегу"},
			{strings.Repeat("x", 10000), strings.Repeat("x", 10000)}, // one 10,000-letter word
		} {
			vecs, err := enc.Embed([]string{"a dog", bad.text})
			var nw *NoWordsError
			if vecs != nil || !errors.As(err, &nw) || !errors.Is(err, ErrNoWords) {
				t.Errorf("%s: Embed(%.30q) = %d vectors, %v; want a *NoWordsError", name, bad.text, len(vecs), err)
				continue
			}
			if nw.Index != 1 || strings.Join(nw.Words, " ") != bad.words || len(err.Error()) > 300 {
				t.Errorf("%s: %.30q: error %+v: %v", name, bad.text, nw.Index, err)
			}
		}
		// 10,000 characters of real text: the mean over all words, the same as one copy.
		sentence := "the dog runs in the park " // 25 characters
		long := strings.Repeat(sentence, 400)
		if len(long) != 10000 {
			t.Fatalf("long text has %d characters", len(long))
		}
		vecs, err := enc.Embed([]string{long, sentence})
		if err != nil {
			t.Fatalf("%s: 10,000 characters: %v", name, err)
		}
		finite(t, name+" long", vecs[0])
		want := make([]float64, len(vecs[1]))
		for i, x := range vecs[1] {
			want[i] = float64(x)
		}
		near32(t, name+": 400 copies vs one", vecs[0], want, 1e-5)
		// Mixed: a Cyrillic word next to an English one uses the English one.
		v, cov, err := enc.EmbedText("собака dog")
		if err != nil || cov.OOV != 1 || cov.Known != 1 {
			t.Errorf("%s: mixed text: %v, coverage %+v", name, err, cov)
		}
		finite(t, name+" mixed", v)
		if c := enc.Coverage(); c.Failed == 0 || c.Texts < c.Failed {
			t.Errorf("%s: cumulative coverage %+v does not count the refused texts", name, c)
		}
	}
}

func TestSIFWeights(t *testing.T) {
	g := mustGloVe(t)
	// p(dog) = 2/4, p(grass) = 1/4, p(the) = 1/4 (the corpus has no "a").
	enc, err := NewSIF("test-sif", g, []string{"dog dog", "the grass"}, 0.5, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	dog, _ := g.Vector("dog")
	grass, _ := g.Vector("grass")
	cat, _ := g.Vector("cat")
	wDog, wGrass, wCat := 0.5/(0.5+0.5), 0.5/(0.5+0.25), 1.0 // cat is not in the corpus: p = 0
	want := make([]float64, 100)
	for i := range want {
		want[i] = (wDog*float64(dog[i]) + wGrass*float64(grass[i]) + wCat*float64(cat[i])) / 3
	}
	v, _, err := enc.EmbedText("Dog, grass and cat")
	if err != nil {
		t.Fatal(err)
	}
	// "and" is known but absent from the corpus: weight 1.
	and, _ := g.Vector("and")
	for i := range want {
		want[i] = (wDog*float64(dog[i]) + wGrass*float64(grass[i]) + float64(and[i]) + wCat*float64(cat[i])) / 4
	}
	near32(t, "SIF", v, want, 1e-6)
	if _, err := NewSIF("x", g, []string{"", "..."}, 1e-3, true, ""); err == nil {
		t.Error("SIF from a corpus without words accepted")
	}
	if _, err := NewSIF("x", g, []string{"dog"}, 0, false, ""); err == nil {
		t.Error("SIF with a = 0 accepted")
	}
}

func TestGloVeSIF(t *testing.T) {
	enc := mustEncoder(t, "glove-sif")
	if enc.Name() != "glove-sif" || len(enc.Weights()) != 64 || enc.pc == nil {
		t.Fatalf("Name %q Weights %q pc %v", enc.Name(), enc.Weights(), enc.pc != nil)
	}
	var norm float64
	for _, u := range enc.pc {
		norm += u * u
	}
	if math.Abs(norm-1) > 1e-9 {
		t.Errorf("|pc|² = %v, want 1", norm)
	}
	// The common component is removed: every vector is orthogonal to it.
	v, _, err := enc.EmbedText("A black dog is running through the grass .")
	if err != nil {
		t.Fatal(err)
	}
	var dot float64
	for i, u := range enc.pc {
		dot += u * float64(v[i])
	}
	if math.Abs(dot) > 1e-5 {
		t.Errorf("SIF vector · pc = %v, want 0", dot)
	}
	// Frequent words weigh less: "the" (p ≈ 0.04) far less than "dog".
	if wThe, wDog := enc.a/(enc.a+enc.freq["the"]), enc.a/(enc.a+enc.freq["dog"]); !(wThe < 0.05 && wDog > wThe) {
		t.Errorf("weights the %v, dog %v", wThe, wDog)
	}
	// Coverage of every Flickr8k caption. Exactly three are refused: "A", "a" and
	// "A wakeboarder ." (photos 2428275562_4bde2bc5ea, 3640443200_b8066f37f6 and
	// 3338590946_f25b76cbc7, in no Flickr8k split and not in the course data).
	caps := flickr8kCaptions(t)
	texts := make([]string, len(caps))
	for i, c := range caps {
		texts[i] = c.Text
	}
	cov := enc.CoverageOf(texts)
	if cov.Failed != 3 || cov.Texts != len(caps) {
		t.Errorf("%d of %d captions have no GloVe word, want 3", cov.Failed, cov.Texts)
	}
	t.Logf("Flickr8k captions: %d words, OOV %.2f%% (%d types), %d hyphen splits; top OOV %v",
		cov.Words, 100*cov.OOVRate(), len(cov.OOVWords), cov.Split, cov.TopOOV(10))
}

func BenchmarkGloveMean(b *testing.B) { benchmarkGloVe(b, "glove-mean") }
func BenchmarkGloveSIF(b *testing.B)  { benchmarkGloVe(b, "glove-sif") }

// benchmarkGloVe embeds the 5,000 captions of the Flickr8k test split in batches of 64
// and reports sentences per second (weights loaded before the timer starts).
func benchmarkGloVe(b *testing.B, name string) {
	enc := mustEncoder(b, name)
	caps := flickr8kSplit(b, dataset.Flickr8kTest)
	texts := make([]string, len(caps))
	for i, c := range caps {
		texts[i] = c.Text
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for start := 0; start < len(texts); start += 64 {
			if _, err := enc.Embed(texts[start:min(start+64, len(texts))]); err != nil {
				b.Fatal(err)
			}
		}
		n += len(texts)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sentences/s")
}

func BenchmarkLoadGloVe(b *testing.B) {
	mustGloVe(b) // converts once if needed
	for b.Loop() {
		if _, err := ReadGloVe(GloVePath()); err != nil {
			b.Fatal(err)
		}
	}
}
