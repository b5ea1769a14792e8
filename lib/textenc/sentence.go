package textenc

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/dataset"
)

// SIFA is the smoothing constant a of SIF weights a/(a+p(w)) (Arora, Liang, Ma 2017,
// "A Simple but Tough-to-Beat Baseline for Sentence Embeddings"; 1e-3 is their default).
const SIFA = 1e-3

func init() {
	Encoders.Register("glove-mean", func() (Encoder, error) { return NewGloVeMean() })
	Encoders.Register("glove-sif", func() (Encoder, error) { return NewGloVeSIF() })
}

// ErrNoWords is what the error of Embed wraps (see NoWordsError) when a text has no
// word with a GloVe vector.
var ErrNoWords = errors.New("no word with a GloVe vector")

// NoWordsError says which text of a batch had no word with a GloVe vector: an empty
// text, one of punctuation or symbols only, or one whose every word is unknown to GloVe
// (a Cyrillic query, for instance: GloVe 6B is English). The GloVe encoders refuse such a
// text instead of returning a zero vector, which would look like a valid embedding.
type NoWordsError struct {
	Index int      // position in the batch
	Text  string   // the text as given
	Words []string // Words(Clean(Text)), all unknown to GloVe (empty if none)
}

func (e *NoWordsError) Error() string {
	text := e.Text
	if r := []rune(text); len(r) > 60 {
		text = string(r[:60]) + "…"
	}
	if len(e.Words) == 0 {
		return fmt.Sprintf("text %d %q: no words after Clean (empty, or only punctuation and symbols): %v", e.Index, text, ErrNoWords)
	}
	var words []string
	for i, w := range e.Words {
		if i == 8 {
			words = append(words, "…")
			break
		}
		if r := []rune(w); len(r) > 30 {
			w = string(r[:30]) + "…"
		}
		words = append(words, w)
	}
	return fmt.Sprintf("text %d %q: %v (words after Clean: %s)", e.Index, text, ErrNoWords, strings.Join(words, " "))
}

func (e *NoWordsError) Unwrap() error { return ErrNoWords }

// Coverage counts how many words of the embedded texts GloVe knows.
type Coverage struct {
	Texts  int // texts embedded or refused
	Failed int // texts refused with a NoWordsError
	// Words counts the words of Words(Clean(text)), a hyphenated word missing from GloVe
	// once per part ("tri-colored" → "tri", "colored"); Words = Known + OOV.
	Words, Known, OOV int
	// Split counts hyphenated words missing from GloVe that were replaced by their parts.
	Split int
	// OOVWords counts each out-of-vocabulary word (see TopOOV).
	OOVWords map[string]int `json:"-"`
}

// OOVRate is OOV / Words (0 when no word was seen).
func (c Coverage) OOVRate() float64 {
	if c.Words == 0 {
		return 0
	}
	return float64(c.OOV) / float64(c.Words)
}

// WordCount is a word and how often it occurred.
type WordCount struct {
	Word  string
	Count int
}

// TopOOV returns the n most frequent out-of-vocabulary words, most frequent first (ties
// alphabetically).
func (c Coverage) TopOOV(n int) []WordCount {
	l := make([]WordCount, 0, len(c.OOVWords))
	for w, k := range c.OOVWords {
		l = append(l, WordCount{w, k})
	}
	slices.SortFunc(l, func(a, b WordCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Word, b.Word))
	})
	return l[:min(n, len(l))]
}

func (c *Coverage) add(o Coverage) {
	c.Texts += o.Texts
	c.Failed += o.Failed
	c.Words += o.Words
	c.Known += o.Known
	c.OOV += o.OOV
	c.Split += o.Split
	for w, k := range o.OOVWords {
		if c.OOVWords == nil {
			c.OOVWords = map[string]int{}
		}
		c.OOVWords[w] += k
	}
}

// GloVeEncoder embeds a text as the mean of the GloVe vectors of its words,
// Words(Clean(text)), optionally SIF-weighted and with a common component removed.
// Words GloVe lacks are skipped and counted (Coverage); a hyphenated word GloVe lacks is
// replaced by its parts. The vector is not normalised. Behaviour on hard input:
//
//   - empty text, punctuation or symbols only, or no word known to GloVe (e.g. a
//     Cyrillic query): Embed returns a *NoWordsError (wrapping ErrNoWords) naming the text;
//   - a very long text (10,000 characters and more): the mean over all its words, no
//     truncation; repeating a sentence gives that sentence's vector;
//   - no input ever yields NaN or Inf: vectors are means of finite GloVe values over at
//     least one word.
//
// A GloVeEncoder is safe for concurrent use.
type GloVeEncoder struct {
	name, weights string
	glove         *GloVe
	freq          map[string]float64 // p(w) for SIF; nil for the plain mean
	a             float64
	pc            []float64 // unit first principal component to remove; nil if none
	mu            sync.Mutex
	cov           Coverage
}

// NewGloVeMean returns "glove-mean": the plain mean of the GloVe vectors of a text's words.
func NewGloVeMean() (*GloVeEncoder, error) {
	g, err := LoadGloVe()
	if err != nil {
		return nil, err
	}
	return &GloVeEncoder{name: "glove-mean", weights: g.Source, glove: g}, nil
}

// NewGloVeSIF returns "glove-sif": SIF with a = SIFA, word probabilities p(w) counted over
// the captions of the Flickr8k train split (30,000 captions of 6,000 photos that are
// neither course training nor course test photos), and the first principal component of
// those captions' SIF vectors removed.
func NewGloVeSIF() (*GloVeEncoder, error) {
	g, err := LoadGloVe()
	if err != nil {
		return nil, err
	}
	caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTrain)
	if err != nil {
		return nil, err
	}
	dir, err := dataset.LocateFlickr8k()
	if err != nil {
		return nil, err
	}
	// The weights depend on the GloVe tarball, the caption file and the split list.
	id := []string{"glove-sif v1 a=0.001 pc=1", g.Source}
	for _, f := range []string{dataset.Flickr8kCaption, dataset.SplitFiles[dataset.Flickr8kTrain]} {
		sum, err := assets.FileSHA256(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		id = append(id, sum)
	}
	texts := make([]string, len(caps))
	for i, c := range caps {
		texts[i] = c.Text
	}
	h := sha256.Sum256([]byte(strings.Join(id, "\n")))
	return NewSIF("glove-sif", g, texts, SIFA, true, hex.EncodeToString(h[:]))
}

// NewSIF builds a SIF encoder from any corpus: p(w) is each word's share of the corpus'
// words (as the encoder sees them: Words(Clean(text)), unknown hyphenated words split); a
// word absent from the corpus has p = 0, weight 1. With removePC, the first principal
// component (uncentred, as in the SIF paper) of the corpus' SIF vectors is removed from
// every vector. weights identifies the inputs for the embedding cache.
func NewSIF(name string, g *GloVe, corpus []string, a float64, removePC bool, weights string) (*GloVeEncoder, error) {
	if a <= 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return nil, fmt.Errorf("SIF: a = %v, want a positive number", a)
	}
	counts := map[string]int{}
	total := 0
	for _, s := range corpus {
		for _, w := range Words(Clean(s)) {
			if !g.Has(w) && strings.Contains(w, "-") {
				for _, p := range strings.Split(w, "-") {
					counts[p]++
					total++
				}
				continue
			}
			counts[w]++
			total++
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("SIF: the corpus of %d texts has no words", len(corpus))
	}
	e := &GloVeEncoder{name: name, weights: weights, glove: g, a: a, freq: make(map[string]float64, len(counts))}
	for w, k := range counts {
		e.freq[w] = float64(k) / float64(total)
	}
	if removePC {
		var rows [][]float64
		for _, s := range corpus {
			if v, _, err := e.embed64(s); err == nil {
				rows = append(rows, v)
			}
		}
		if len(rows) == 0 {
			return nil, fmt.Errorf("SIF: no text of the corpus has a GloVe word")
		}
		e.pc = firstComponent(rows, g.Dim)
	}
	return e, nil
}

// firstComponent returns the unit eigenvector of XᵀX with the largest eigenvalue (the
// first right singular vector of X) by power iteration from a fixed start.
func firstComponent(rows [][]float64, dim int) []float64 {
	cov := make([]float64, dim*dim)
	for _, r := range rows {
		for i, ri := range r {
			if ri == 0 {
				continue
			}
			row := cov[i*dim : (i+1)*dim]
			for j, rj := range r {
				row[j] += ri * rj
			}
		}
	}
	u := make([]float64, dim)
	for i := range u {
		u[i] = 1 / math.Sqrt(float64(dim))
	}
	next := make([]float64, dim)
	for range 1000 {
		var norm float64
		for i := range next {
			var s float64
			for j, uj := range u {
				s += cov[i*dim+j] * uj
			}
			next[i] = s
			norm += s * s
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			return nil
		}
		var diff float64
		for i := range next {
			next[i] /= norm
			diff += math.Abs(next[i] - u[i])
		}
		u, next = next, u
		if diff < 1e-12 {
			break
		}
	}
	return u
}

// Name is "glove-mean" or "glove-sif".
func (e *GloVeEncoder) Name() string { return e.name }

// Dim is 100.
func (e *GloVeEncoder) Dim() int { return e.glove.Dim }

// Weights is the sha256 of the GloVe tarball (glove-mean), or of the GloVe tarball, the
// caption file, the split list and the SIF settings together (glove-sif).
func (e *GloVeEncoder) Weights() string { return e.weights }

// Coverage returns the word coverage of every text this encoder has embedded so far.
func (e *GloVeEncoder) Coverage() Coverage {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cov
	c.OOVWords = make(map[string]int, len(e.cov.OOVWords))
	for w, k := range e.cov.OOVWords {
		c.OOVWords[w] = k
	}
	return c
}

// Embed returns one vector per text, or a *NoWordsError for the first text without a
// GloVe word (and no vectors).
func (e *GloVeEncoder) Embed(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var cov Coverage
	var fail error
	for i, s := range texts {
		v, c, err := e.embed64(s)
		cov.add(c)
		if err != nil {
			if fail == nil {
				var nw *NoWordsError
				if errors.As(err, &nw) {
					nw.Index = i
				}
				fail = err
			}
			continue
		}
		out[i] = make([]float32, len(v))
		for j, x := range v {
			out[i][j] = float32(x)
		}
	}
	e.mu.Lock()
	e.cov.add(cov)
	e.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return out, nil
}

// EmbedText embeds one text and says how many of its words GloVe knew.
func (e *GloVeEncoder) EmbedText(s string) ([]float32, Coverage, error) {
	v, c, err := e.embed64(s)
	e.mu.Lock()
	e.cov.add(c)
	e.mu.Unlock()
	if err != nil {
		return nil, c, err
	}
	out := make([]float32, len(v))
	for j, x := range v {
		out[j] = float32(x)
	}
	return out, c, nil
}

// embed64 computes one text's vector in float64 without touching e.cov.
func (e *GloVeEncoder) embed64(s string) ([]float64, Coverage, error) {
	words := Words(Clean(s))
	cov := Coverage{Texts: 1}
	sum := make([]float64, e.glove.Dim)
	n := 0
	use := func(w string) {
		cov.Words++
		v, ok := e.glove.Vector(w)
		if !ok {
			cov.OOV++
			if cov.OOVWords == nil {
				cov.OOVWords = map[string]int{}
			}
			cov.OOVWords[w]++
			return
		}
		cov.Known++
		weight := 1.0
		if e.freq != nil {
			weight = e.a / (e.a + e.freq[w])
		}
		for j, x := range v {
			sum[j] += weight * float64(x)
		}
		n++
	}
	for _, w := range words {
		if !e.glove.Has(w) && strings.Contains(w, "-") {
			cov.Split++
			for _, p := range strings.Split(w, "-") {
				use(p)
			}
			continue
		}
		use(w)
	}
	if n == 0 {
		cov.Failed = 1
		return nil, cov, &NoWordsError{Text: s, Words: words}
	}
	for j := range sum {
		sum[j] /= float64(n)
	}
	if e.pc != nil {
		var dot float64
		for j, u := range e.pc {
			dot += u * sum[j]
		}
		for j, u := range e.pc {
			sum[j] -= dot * u
		}
	}
	return sum, cov, nil
}

// CoverageOf returns the word coverage of texts, without adding them to Coverage.
func (e *GloVeEncoder) CoverageOf(texts []string) Coverage {
	var c Coverage
	for _, s := range texts {
		_, ci, _ := e.embed64(s)
		c.add(ci)
	}
	return c
}
