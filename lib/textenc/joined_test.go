package textenc

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

// TestJoinedUSEGloVe opens "use+glove-mean" through the registry and checks every vector
// is the two encoders' unit vectors side by side, scaled to unit length, on real captions;
// a text without a GloVe word is refused as glove-mean refuses it.
func TestJoinedUSEGloVe(t *testing.T) {
	caps := flickr8kSplit(t, dataset.Flickr8kTest)
	var texts []string
	for _, c := range caps[:300] {
		texts = append(texts, c.Text)
	}
	enc, err := Encoders.Open("use+glove-mean")
	if err != nil {
		t.Fatal(err)
	}
	use, glove := loadUSE(t), mustOpen(t, "glove-mean")
	if enc.Name() != "use+glove-mean" || enc.Dim() != use.Dim()+glove.Dim() {
		t.Fatalf("name %q dim %d, want use+glove-mean, %d", enc.Name(), enc.Dim(), use.Dim()+glove.Dim())
	}
	if want := use.Weights() + "+" + glove.Weights(); enc.Weights() != want {
		t.Fatalf("weights %q, want %q", enc.Weights(), want)
	}
	got, err := enc.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := use.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := glove.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		want := unit(append(unit(u[i]), unit(g[i])...))
		if len(got[i]) != len(want) {
			t.Fatalf("%q: length %d, want %d", text, len(got[i]), len(want))
		}
		var norm float64
		for k := range want {
			if d := math.Abs(float64(got[i][k] - want[k])); d > 1e-6 {
				t.Fatalf("%q: value %d is %g, want %g", text, k, got[i][k], want[k])
			}
			norm += float64(got[i][k]) * float64(got[i][k])
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Fatalf("%q: norm² %g, want 1", text, norm)
		}
	}
	// "a" alone: GloVe's vectors leave out single letters.
	_, err = enc.Embed([]string{texts[0], "a"})
	var nw *NoWordsError
	if !errors.Is(err, ErrNoWords) || !errors.As(err, &nw) || nw.Index != 1 || !strings.HasPrefix(err.Error(), "use+glove-mean: ") {
		t.Fatalf(`"a": err %v, want glove-mean's NoWordsError for text 1 under the join's name`, err)
	}
}

func mustOpen(t *testing.T, name string) Encoder {
	t.Helper()
	e, err := Encoders.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// stubEncoder gives n vectors of dim values (1, 2, …), or err.
type stubEncoder struct {
	dim, n int
	err    error
}

func (f stubEncoder) Name() string    { return "fake" }
func (f stubEncoder) Dim() int        { return f.dim }
func (f stubEncoder) Weights() string { return "w" }
func (f stubEncoder) Embed(texts []string) ([][]float32, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, min(f.n, len(texts)))
	for i := range out {
		out[i] = make([]float32, f.dim)
		for k := range out[i] {
			out[i][k] = float32(k + 1)
		}
	}
	return out, nil
}

// TestJoinErrors: unknown parts are named, and a part's failure or short answer is an
// error naming the join and the part, never a panic or a wrong vector.
func TestJoinErrors(t *testing.T) {
	if _, err := Encoders.Open("glove-mean+nope"); err == nil || !strings.Contains(err.Error(), `unknown part "nope"`) {
		t.Fatalf("unknown part: err %v", err)
	}
	if _, err := Encoders.Open("nope"); err == nil || !strings.Contains(err.Error(), `unknown text encoder "nope"`) {
		t.Fatalf("unknown encoder: err %v", err)
	}
	if _, err := Join("x", []Encoder{stubEncoder{dim: 2, n: 9}}); err == nil {
		t.Fatal("a join of one part: no error")
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		parts []Encoder
		want  string
	}{
		{[]Encoder{stubEncoder{dim: 2, n: 9}, stubEncoder{err: boom}}, "x+y: boom"},
		{[]Encoder{stubEncoder{dim: 2, n: 9}, stubEncoder{dim: 3, n: 1}}, "x+y: fake gave 1 vectors for 2 texts"},
	} {
		j, err := Join("x+y", c.parts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Embed([]string{"s", "t"}); err == nil || err.Error() != c.want {
			t.Fatalf("err %v, want %q", err, c.want)
		}
	}
	j, err := Join("x+y", []Encoder{stubEncoder{dim: 1, n: 9}, stubEncoder{dim: 3, n: 9}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := j.Embed([]string{"s"})
	if err != nil {
		t.Fatal(err)
	}
	// [1] and [1,2,3]/√14 side by side, over √2.
	s := 1 / math.Sqrt(14)
	want := []float64{1, s, 2 * s, 3 * s}
	for k := range want {
		if math.Abs(float64(v[0][k])-want[k]/math.Sqrt2) > 1e-7 {
			t.Fatalf("value %d is %g, want %g", k, v[0][k], want[k]/math.Sqrt2)
		}
	}
}
