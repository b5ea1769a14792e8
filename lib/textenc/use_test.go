package textenc

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/ortref"
	"github.com/withsense/withsense/lib/project"
)

// sharedUSE loads the model once per test binary, through the registry.
var sharedUSE = sync.OnceValues(func() (*USE, error) {
	e, err := Encoders.Open(USEName)
	if err != nil {
		return nil, err
	}
	return e.(*USE), nil
})

func loadUSE(tb testing.TB) *USE {
	tb.Helper()
	u, err := sharedUSE()
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestSentencePieceViterbi checks the segmentation on a hand-made vocabulary whose best
// paths follow from the scores.
func TestSentencePieceViterbi(t *testing.T) {
	vocab := `[["\uFFFD",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],
		["▁",-1],["a",-2],["b",-2],["▁a",-1.5],["▁ab",-4],["ab",-1],["🐶",-1],["b",-3]]`
	path := filepath.Join(t.TempDir(), "vocab.json")
	if err := os.WriteFile(path, []byte(vocab), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, err := LoadSentencePiece(path)
	if err != nil {
		t.Fatal(err)
	}
	// The expected ids are those of the reference tokenizer (TF.js USE 1.3.3) on this vocabulary.
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"", nil},
		{"a", []int32{9}},               // ▁a (-1.5) beats ▁ + a (-3)
		{"ab", []int32{6, 11}},          // ▁ + ab (-2) beats ▁ab (-4) and ▁a + b
		{"a a", []int32{9, 9}},          // the space becomes ▁
		{"zzz a", []int32{6, 0, 9}},     // unknown characters merge into one id 0
		{"🐶", []int32{6, 0}},            // the lone low surrogate is unknown (score 0) and beats the piece
		{"a🐶a", []int32{9, 0, 7}},       // ... between BMP pieces too
		{"ＡＢ", []int32{6, 0}},           // NFKC makes it AB: unknown (the vocabulary is lower-case)
		{"ﬁ", []int32{6, 0}},            // NFKC: fi
		{"b", []int32{6, 13}},           // a piece listed twice keeps its last id
		{"\u00e1", []int32{6, 0}},       // NFKC keeps á composed
		{"a\u0301", []int32{6, 0}},      // ... and composes a + combining acute
		{"  ", []int32{6, 6, 6}},        // spaces are pieces too
		{"\tb", []int32{6, 0, 13}},      // tabs are not spaces
		{"ba", []int32{6, 13, 7}},       // no ▁b: ▁ + b + a
		{"aab", []int32{9, 11}},         // ▁a + ab
		{"zab", []int32{6, 0, 11}},      // unknown then ab
		{"abzz", []int32{6, 11, 0}},     // ab then merged unknowns
		{"a\u200bb", []int32{9, 0, 13}}, // a zero-width space is not a space
	} {
		if got := sp.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if _, err := LoadSentencePiece(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("absent vocabulary: no error")
	}
	os.WriteFile(path, []byte(`[["a", "x"]]`), 0o644)
	if _, err := LoadSentencePiece(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad vocabulary: %v", err)
	}
}

// useTrickyTexts are inputs beyond captions: near-empty, punctuation, accents, other
// scripts, symbols, very long (beyond the graph's 128 pieces).
var useTrickyTexts = []string{
	" ", "   ", ".", "a", "!!! ??? ...", "—", "A", "DOG", "dog.", "dog,cat;bird",
	"Café déjà vu — naïve façade", "Ñandú señor über straße", "Собака бежит по траве", "犬が走る",
	"emoji 🐶🐕 dog", "tab\there", "new\nline", "ﬁne ligature ① ½", "e\u0301te\u0301", "x\u200by",
	"  leading and trailing spaces  ", "multiple    inner   spaces", "'quoted' \"double\" (paren) [brackets]",
	"http://example.com/a?b=c#d", "123 4.56 7,890", "a-b_c/d\\e", strings.Repeat("x", 300),
	strings.Repeat("a dog runs on the grass and ", 30),
}

// useParityTexts are ≥ 500 Flickr8k captions (every 80th of Flickr8k.token.txt) and the tricky texts.
func useParityTexts(t testing.TB) []string {
	caps := flickr8kCaptions(t)
	var texts []string
	for i := 0; i < len(caps); i += 80 {
		texts = append(texts, caps[i].Text)
	}
	if len(texts) < 500 {
		t.Fatalf("%d captions, want ≥ 500", len(texts))
	}
	return append(texts, useTrickyTexts...)
}

// useNodeOutput is what useref/ref.cjs writes.
type useNodeOutput struct {
	IDs        [][]int32   `json:"ids"`
	Embeddings [][]float32 `json:"embeddings"`
	Seconds    float64     `json:"seconds"`
	Backend    string      `json:"backend"`
}

// runUSENode runs the model in TF.js (useref/ref.cjs: TF.js 4.22, wasm backend, the
// package's own tokenizer) on texts, batch texts at a time. It skips when TF.js for Node is
// not installed (`make nsfwjs-node`), or fails when $WITH_SENSE_REQUIRE_TESTGRAPHS is set.
func runUSENode(tb testing.TB, texts []string, batch int) useNodeOutput {
	tb.Helper()
	modules := filepath.Join(project.ModelsDir(), "nsfwjs-node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@tensorflow", "tfjs-backend-wasm")); err != nil {
		if os.Getenv(ortref.RequireGraphsEnv) != "" {
			tb.Fatalf("TF.js for Node not installed in %s (run `make nsfwjs-node`): %v", modules, err)
		}
		tb.Skipf("TF.js for Node not installed in %s (run `make nsfwjs-node`)", modules)
	}
	if _, err := exec.LookPath("node"); err != nil {
		tb.Fatal(err)
	}
	tokDir, err := assets.USETokenizerDir()
	if err != nil {
		tb.Fatal(err)
	}
	modelDir, err := assets.USEDir()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	in, outPath := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	src, _ := json.Marshal(texts)
	if err := os.WriteFile(in, src, 0o644); err != nil {
		tb.Fatal(err)
	}
	script, err := filepath.Abs("useref/ref.cjs")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("node", script, modules, tokDir, modelDir, in, outPath, strconv.Itoa(batch))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("node %s: %v", script, err)
	}
	var out useNodeOutput
	b, err := os.ReadFile(outPath)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		tb.Fatalf("%s: %v", outPath, err)
	}
	if len(out.IDs) != len(texts) || len(out.Embeddings) != len(texts) {
		tb.Fatalf("node: %d id rows and %d embeddings for %d texts", len(out.IDs), len(out.Embeddings), len(texts))
	}
	return out
}

// TestUSENode compares the Go port with TF.js in Node, text by text (batches of one in
// TF.js; the Go side batched and padded as Embed does): the piece ids are identical and
// the embeddings within cosine 0.9999, on 506 Flickr8k captions and 28 tricky texts.
func TestUSENode(t *testing.T) {
	texts := useParityTexts(t)
	node := runUSENode(t, texts, 1)
	u := loadUSE(t)
	mine, err := u.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	mismatch, worst, worstAt := 0, 1.0, -1
	for i, s := range texts {
		if ids := u.Tokenizer().Encode(s); !slices.Equal(ids, node.IDs[i]) {
			mismatch++
			if mismatch <= 5 {
				t.Errorf("text %d %q: ids %v, TF.js %v", i, s, ids, node.IDs[i])
			}
		}
		if c := Cosine(mine[i], node.Embeddings[i]); !(c >= worst) {
			worst, worstAt = c, i
		}
	}
	t.Logf("%d texts: %d id mismatches; min cosine %.9f, 1 − min cosine %.2g (text %d %q)", len(texts), mismatch, worst, 1-worst, worstAt, texts[max(worstAt, 0)])
	if mismatch > 0 {
		t.Errorf("%d of %d texts tokenized differently from TF.js", mismatch, len(texts))
	}
	if !(worst >= 0.9999) {
		t.Errorf("min cosine to TF.js %.6f < 0.9999 (text %d %q)", worst, worstAt, texts[worstAt])
	}
}

// TestUSEEmbed checks the encoder's contract on real inputs: unit vectors, batching that
// does not change a vector, paraphrases closer than unrelated captions, empty text refused.
func TestUSEEmbed(t *testing.T) {
	u := loadUSE(t)
	texts := []string{
		"black dog running across grass",
		"dark puppy runs through a field",
		"a man is cooking in a kitchen",
		strings.Repeat("long caption ", 100),
	}
	vecs, err := u.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		var n float64
		for _, x := range v {
			if math.IsNaN(float64(x)) {
				t.Fatalf("text %d: NaN", i)
			}
			n += float64(x) * float64(x)
		}
		if len(v) != 512 || math.Abs(n-1) > 1e-5 {
			t.Errorf("text %d: length %d, norm² %g", i, len(v), n)
		}
	}
	para, unrelated := Cosine(vecs[0], vecs[1]), Cosine(vecs[0], vecs[2])
	t.Logf("cos(%q, %q) = %.4f; cos(…, %q) = %.4f", texts[0], texts[1], para, texts[2], unrelated)
	if !(para > unrelated+0.2) {
		t.Errorf("paraphrase cosine %.3f not clearly above unrelated %.3f", para, unrelated)
	}
	alone, err := u.Embed(texts[1:2])
	if err != nil {
		t.Fatal(err)
	}
	if c := Cosine(alone[0], vecs[1]); c < 0.99999 {
		t.Errorf("batched and alone differ: cosine %.7f", c)
	}
	if _, err := u.Embed([]string{"fine", ""}); err == nil || !strings.Contains(err.Error(), "text 1") {
		t.Errorf("empty text: %v", err)
	}
	if _, err := u.EmbedIDs([][]int32{{1, 99999}}, 1); err == nil || !strings.Contains(err.Error(), "99999") {
		t.Errorf("bad id: %v", err)
	}
	if len(u.Weights()) != 64 || u.Dim() != 512 || u.Name() != USEName {
		t.Errorf("identity %q %d %q", u.Weights(), u.Dim(), u.Name())
	}
}

// BenchmarkUSE embeds 256 Flickr8k captions (tokenizing included) in Go and, in the same
// run, in TF.js (wasm backend, Node) in batches of 32 and of 1; it reports
// sentences/s and the speed ratios to TF.js.
func BenchmarkUSE(b *testing.B) {
	texts := useParityTexts(b)[:256]
	node := runUSENode(b, texts, 32)
	node1 := runUSENode(b, texts, 1)
	u := loadUSE(b)
	if _, err := u.Embed(texts); err != nil { // compile outside the timing
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := u.Embed(texts); err != nil {
			b.Fatal(err)
		}
	}
	perRun := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(float64(len(texts))/perRun, "sentences/s")
	b.ReportMetric(node.Seconds/perRun, "x_tfjs_wasm_batched")
	b.ReportMetric(node1.Seconds/perRun, "x_tfjs_wasm_1by1")
}
