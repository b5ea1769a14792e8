package search

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/textenc"
)

// RegressorScorer scores photos with a regressor trained on expert scores: the query's
// normalised text embedding is joined to each photo's normalised embedding, [text | image]
// as in training, and the model predicts every row in one batch.
type RegressorScorer struct {
	Label  string
	Text   textenc.Encoder
	Images [][]float32 // normalised photo embeddings, in index order
	Model  regress.Model
}

// Name says which model and encoders score.
func (r *RegressorScorer) Name() string { return r.Label }

// Score predicts the match score of the query with every photo.
func (r *RegressorScorer) Score(query string) ([]float32, error) {
	t, err := embedQuery(r.Text, query)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, len(r.Images))
	buf := make([]float32, len(r.Images)*(len(t)+len(r.Images[0])))
	for i, img := range r.Images {
		row := buf[: 0 : len(t)+len(img)]
		buf = buf[len(t)+len(img):]
		rows[i] = append(append(row, t...), img...)
	}
	return r.Model.Predict(rows)
}

// CosineScorer scores photos by the cosine of the query's and the photo's embeddings in
// a shared space: Project maps a normalised text embedding into the photos' space (nil
// when both encoders already share one).
type CosineScorer struct {
	Label   string
	Text    textenc.Encoder
	Images  [][]float32 // normalised photo vectors in the shared space, in index order
	Project func(text []float32) ([]float32, error)
	// Offsets, when set, are subtracted from the cosines, one per photo in index order
	// (HubnessOffsets).
	Offsets []float32

	keyOnce sync.Once
	key     string // the memo's name of this scorer's projections

	matOnce sync.Once
	mat     blas32.General // Images as one row-major matrix, for one matrix-vector product per query
	matErr  error
}

// matrix returns Images as one [photos, dims] matrix (built on first use).
func (c *CosineScorer) matrix() (blas32.General, error) {
	c.matOnce.Do(func() {
		if len(c.Images) > 0 {
			c.mat, c.matErr = rowsMatrix(c.Images, len(c.Images[0]), "photo")
		}
	})
	return c.mat, c.matErr
}

// rowsMatrix copies rows, each of d values, into one row-major matrix; a row of another
// width is an error naming it ("<what> <i>").
func rowsMatrix(rows [][]float32, d int, what string) (blas32.General, error) {
	m := blas32.General{Rows: len(rows), Cols: d, Stride: d, Data: make([]float32, 0, len(rows)*d)}
	for i, v := range rows {
		if len(v) != d {
			return m, fmt.Errorf("%s %d has %d dims, want %d", what, i, len(v), d)
		}
		m.Data = append(m.Data, v...)
	}
	return m, nil
}

// Name says which space scores.
func (c *CosineScorer) Name() string { return c.Label }

// Score returns the cosine of the query with every photo.
func (c *CosineScorer) Score(query string) ([]float32, error) {
	t, err := embedQuery(c.Text, query)
	if err != nil {
		return nil, err
	}
	if t, err = c.project(query, t); err != nil {
		return nil, err
	}
	out := make([]float32, len(c.Images))
	if len(out) == 0 {
		return out, nil
	}
	m, err := c.matrix()
	if err != nil {
		return nil, err
	}
	if m.Cols != len(t) {
		return nil, fmt.Errorf("photos have %d dims, query %d", m.Cols, len(t))
	}
	// Every photo's dot product with the query in one product (gonum's SIMD kernels):
	// 1,100 photos × 1,280 dims (the two-tower ×5) cost about 0.1 ms.
	blas32.Gemv(blas.NoTrans, 1, m, blas32.Vector{N: len(t), Inc: 1, Data: t}, 0, blas32.Vector{N: len(out), Inc: 1, Data: out})
	for i, o := range c.Offsets {
		out[i] -= o
	}
	return out, nil
}

// Offsets returns the hubness offsets a scorer subtracts (those of the two-tower inside
// a blend or a rerank), or nil when it scores plain cosines or has no two-tower.
func Offsets(s Scorer) []float32 {
	switch s := s.(type) {
	case *CosineScorer:
		return s.Offsets
	case *Blend:
		return firstOffsets(s.A, s.B)
	case *Rerank:
		return firstOffsets(s.First, s.Second)
	}
	return nil
}

func firstOffsets(scorers ...Scorer) []float32 {
	for _, s := range scorers {
		if o := Offsets(s); o != nil {
			return o
		}
	}
	return nil
}

// HubnessOffsets returns, for each photo, how strongly it attracts descriptions in general:
// (1/β)·log Σ_q exp(β·cos(q, photo)) over a bank of texts q in the same space (the
// captions a two-tower model was trained on). A cosine minus its photo's offset is the log
// of the inverted softmax (Smith et al. 2017; querybank normalisation, Bogolin et al.
// 2022), divided by β: a "hub", a photo close to many descriptions, no longer comes first
// for queries that only vaguely fit it. Vectors are rows of one width; β > 0.
func HubnessOffsets(images, bank [][]float32, beta float64) ([]float32, error) {
	if len(bank) == 0 {
		return nil, fmt.Errorf("hubness correction with an empty caption bank")
	}
	m, err := rowsMatrix(images, len(bank[0]), "photo")
	if err != nil {
		return nil, err
	}
	return hubnessOffsets(m, bank, beta)
}

// hubnessOffsets is HubnessOffsets of the photos as one matrix (CosineScorer.matrix).
func hubnessOffsets(images blas32.General, bank [][]float32, beta float64) ([]float32, error) {
	if !(beta > 0) || math.IsInf(beta, 0) {
		return nil, fmt.Errorf("hubness scale %v, want a finite β > 0", beta)
	}
	if len(bank) == 0 {
		return nil, fmt.Errorf("hubness correction with an empty caption bank")
	}
	b, err := rowsMatrix(bank, len(bank[0]), "caption bank: row")
	if err != nil {
		return nil, err
	}
	if images.Rows > 0 && images.Cols != b.Cols {
		return nil, fmt.Errorf("photos have %d dims, the caption bank %d", images.Cols, b.Cols)
	}
	d := b.Cols
	out := make([]float32, images.Rows)
	const block = 512 // photos per product: a [bank, block] matrix of cosines at a time
	sims := blas32.General{Rows: len(bank), Stride: block, Data: make([]float32, len(bank)*block)}
	for start := 0; start < images.Rows; start += block {
		n := min(block, images.Rows-start)
		im := blas32.General{Rows: n, Cols: d, Stride: images.Stride, Data: images.Data[start*images.Stride:]}
		sims.Cols = n
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, b, im, 0, sims)
		for j := range n {
			m := math.Inf(-1)
			for q := range len(bank) {
				m = math.Max(m, beta*float64(sims.Data[q*block+j]))
			}
			var z float64
			for q := range len(bank) {
				z += math.Exp(beta*float64(sims.Data[q*block+j]) - m)
			}
			out[start+j] = float32((m + math.Log(z)) / beta)
		}
	}
	return out, nil
}

// project maps the query's normalised text embedding t into the photos' space,
// normalised, from the memo when a recent search already projected the query.
func (c *CosineScorer) project(query string, t []float32) ([]float32, error) {
	if c.Project == nil {
		return t, nil
	}
	c.keyOnce.Do(func() { c.key = projectionKey() })
	return memo.get(memoKey{query: query, name: c.key}, func() ([]float32, error) {
		p, err := c.Project(t)
		if err != nil {
			return nil, err
		}
		return features.Normalize(p)
	})
}

func dot32(a, b []float32) float32 {
	var s float32
	for j := range a {
		s += a[j] * b[j]
	}
	return s
}

func nan32() float32 { return float32(math.NaN()) }

// Rerank scores with First, then reorders First's top Depth photos by Second: those
// photos score above all others, in Second's order; the rest keep First's order.
type Rerank struct {
	First, Second Scorer
	Depth         int
}

// Name says which scorers rerank.
func (r *Rerank) Name() string {
	return fmt.Sprintf("%s, top %d reranked by %s", r.First.Name(), r.Depth, r.Second.Name())
}

// Score runs both scorers.
func (r *Rerank) Score(query string) ([]float32, error) {
	a, err := r.First.Score(query)
	if err != nil {
		return nil, err
	}
	b, err := r.Second.Score(query)
	if err != nil {
		return nil, err
	}
	return RerankScores(a, b, r.Depth), nil
}

// RerankScores gives the top depth photos by first scores above all others, ordered by
// second; the others keep first's order.
func RerankScores(first, second []float32, depth int) []float32 {
	idx := make([]int, len(first))
	for i := range idx {
		idx[i] = i
	}
	out := make([]float32, len(first))
	for rank, i := range TopK(first, idx, len(idx)) {
		if rank < depth {
			out[i] = 1000 + second[i]
		} else {
			out[i] = -float32(rank)
		}
	}
	return out
}

// Blend scores photos by the sum of two scorers' z-scores (each standardised over the
// photos), so neither scale dominates; W weighs B's z-scores (0 stands for 1, an even blend).
type Blend struct {
	A, B Scorer
	W    float64
}

// Name says which scorers blend, and B's weight when it is not 1.
func (b *Blend) Name() string {
	if w := b.weight(); w != 1 {
		return fmt.Sprintf("blend of %s and %g × %s", b.A.Name(), w, b.B.Name())
	}
	return "blend of " + b.A.Name() + " and " + b.B.Name()
}

func (b *Blend) weight() float64 {
	if b.W == 0 {
		return 1
	}
	return b.W
}

// Score runs both scorers.
func (b *Blend) Score(query string) ([]float32, error) {
	x, err := b.A.Score(query)
	if err != nil {
		return nil, err
	}
	y, err := b.B.Score(query)
	if err != nil {
		return nil, err
	}
	return BlendWeighted(x, y, b.weight()), nil
}

// BlendScores is the sum of the z-scores of two scores of the same items (a constant
// score contributes zeros).
func BlendScores(a, b []float32) []float32 { return BlendWeighted(a, b, 1) }

// BlendWeighted is z(a) + w·z(b), the z-scores taken over the items (a constant score
// contributes zeros).
func BlendWeighted(a, b []float32, w float64) []float32 {
	za, zb := zscore(a), zscore(b)
	out := make([]float32, len(a))
	for i := range out {
		out[i] = float32(za[i] + w*zb[i])
	}
	return out
}

func zscore(v []float32) []float64 {
	var m, s float64
	for _, x := range v {
		m += float64(x)
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (float64(x) - m) * (float64(x) - m)
	}
	s = math.Sqrt(s / float64(len(v)))
	out := make([]float64, len(v))
	for i, x := range v {
		if s > 0 {
			out[i] = (float64(x) - m) / s
		}
	}
	return out
}
