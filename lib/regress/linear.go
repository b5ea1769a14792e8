package regress

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"gonum.org/v1/gonum/mat"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/project"
)

// Linear is ordinary least squares with an intercept, solved from the normal equations
// (centred Gram matrix, Cholesky). Where the Gram matrix is singular to working precision
// (more features than independent rows) the smallest diagonal jitter that lets Cholesky
// succeed is added and recorded in Jitter, which approximates the minimum-norm solution.
type Linear struct {
	W         []float64 // weights, one per feature
	Intercept float64
	Jitter    float64 // diagonal added to X'X (0 when the plain system was solvable)
}

func (*Linear) Name() string { return "linear" }

// Fit solves min ‖y − Xw − b‖².
func (m *Linear) Fit(X [][]float32, y []float32, groups []string) error {
	p, err := checkFit(m.Name(), X, y, groups)
	if err != nil {
		return err
	}
	st, err := gramStats(X, y, allRows(len(X)), p)
	if err != nil {
		return err
	}
	sys := st.centered()
	scale := sys.trace() / float64(p)
	if scale == 0 {
		scale = 1
	}
	for jitter := 0.0; ; {
		w, err := sys.solve(jitter)
		if err == nil {
			m.W, m.Intercept, m.Jitter = w, sys.intercept(w), jitter
			return nil
		}
		switch {
		case jitter == 0:
			jitter = 1e-10 * scale
		case jitter < 1e-2*scale:
			jitter *= 10
		default:
			return fmt.Errorf("%s: normal equations of %d rows × %d features not solvable even with jitter %g: %w",
				m.Name(), len(X), p, jitter, err)
		}
	}
}

// Predict returns Xw + b.
func (m *Linear) Predict(X [][]float32) ([]float32, error) {
	if m.W == nil {
		return nil, fmt.Errorf("%s: Predict before Fit", m.Name())
	}
	return linearPredict(m.Name(), X, m.W, m.Intercept)
}

// DefaultAlphas is the ridge penalty grid: 10⁻² … 10³.
var DefaultAlphas = []float64{0.01, 0.1, 1, 10, 100, 1000}

// Ridge is least squares with an L2 penalty α‖w‖² (intercept not penalised, as
// scikit-learn's Ridge), α chosen from Alphas by grouped K-fold cross-validation on the
// training rows: the α with the lowest mean absolute error over the held-out folds (no
// photo in a fold's training and held-out rows both). Use NewRidge for the project's
// defaults; set Fixed to skip the search and use Alpha as given.
type Ridge struct {
	Alphas []float64
	Folds  int
	Seed   uint64
	Fixed  bool

	Alpha     float64   // the chosen (or fixed) penalty
	CVMAE     []float64 // cross-validated MAE per entry of Alphas (nil when Fixed)
	W         []float64
	Intercept float64
}

// NewRidge returns a Ridge that searches DefaultAlphas with project.Folds grouped folds
// drawn with project.Seed.
func NewRidge() *Ridge {
	return &Ridge{Alphas: slices.Clone(DefaultAlphas), Folds: project.Folds, Seed: project.Seed}
}

func (*Ridge) Name() string { return "ridge" }

// Fit chooses α (unless Fixed) and solves the penalised normal equations on all rows.
func (m *Ridge) Fit(X [][]float32, y []float32, groups []string) error {
	p, err := checkFit(m.Name(), X, y, groups)
	if err != nil {
		return err
	}
	var st *gram
	if m.Fixed {
		if m.Alpha <= 0 || math.IsNaN(m.Alpha) {
			return fmt.Errorf("%s: fixed α = %v, want > 0", m.Name(), m.Alpha)
		}
		if st, err = gramStats(X, y, allRows(len(X)), p); err != nil {
			return err
		}
	} else if st, err = m.search(X, y, groupsOrRows(groups, len(X)), p); err != nil {
		return err
	}
	sys := st.centered()
	w, err := sys.solve(m.Alpha)
	if err != nil {
		return fmt.Errorf("%s: α = %g: %w", m.Name(), m.Alpha, err)
	}
	m.W, m.Intercept = w, sys.intercept(w)
	return nil
}

// search sets Alpha and CVMAE by grouped K-fold cross-validation and returns the
// statistics of all rows (the sum of the folds').
func (m *Ridge) search(X [][]float32, y []float32, groups []string, p int) (*gram, error) {
	if len(m.Alphas) == 0 {
		return nil, fmt.Errorf("%s: empty α grid", m.Name())
	}
	for _, a := range m.Alphas {
		if a <= 0 || math.IsNaN(a) {
			return nil, fmt.Errorf("%s: α = %v in the grid, want > 0", m.Name(), a)
		}
	}
	k := m.Folds
	if k == 0 {
		k = project.Folds
	}
	folds, err := GroupKFold(groups, k, m.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	// Sufficient statistics per fold; a fold's training system is the total minus its own.
	parts := make([]*gram, k)
	for f := range parts {
		_, valid := dataset.FoldIndices(folds, f)
		if parts[f], err = gramStats(X, y, valid, p); err != nil {
			return nil, err
		}
	}
	total := parts[0].clone()
	for _, g := range parts[1:] {
		total.add(g, 1)
	}
	type job struct{ fold, alpha int }
	jobs := make(chan job)
	absErr := make([][]float64, k) // [fold][alpha] summed |error|
	for f := range absErr {
		absErr[f] = make([]float64, len(m.Alphas))
	}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	systems := make([]*system, k)
	for f := range systems {
		tr := total.clone()
		tr.add(parts[f], -1)
		systems[f] = tr.centered()
	}
	for range min(runtime.GOMAXPROCS(0), k*len(m.Alphas)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sys := systems[j.fold]
				w, err := sys.solve(m.Alphas[j.alpha])
				if err != nil {
					mu.Lock()
					firstErr = fmt.Errorf("%s: fold %d α = %g: %w", m.Name(), j.fold, m.Alphas[j.alpha], err)
					mu.Unlock()
					continue
				}
				b := sys.intercept(w)
				_, valid := dataset.FoldIndices(folds, j.fold)
				var s float64
				for _, i := range valid {
					s += math.Abs(dot64(w, X[i]) + b - float64(y[i]))
				}
				absErr[j.fold][j.alpha] = s
			}
		}()
	}
	for f := range k {
		for a := range m.Alphas {
			jobs <- job{f, a}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	m.CVMAE = make([]float64, len(m.Alphas))
	best := -1
	for a := range m.Alphas {
		var s float64
		for f := range k {
			s += absErr[f][a]
		}
		m.CVMAE[a] = s / float64(len(X))
		if best < 0 || m.CVMAE[a] < m.CVMAE[best] {
			best = a
		}
	}
	m.Alpha = m.Alphas[best]
	return total, nil
}

// Predict returns Xw + b.
func (m *Ridge) Predict(X [][]float32) ([]float32, error) {
	if m.W == nil {
		return nil, fmt.Errorf("%s: Predict before Fit", m.Name())
	}
	return linearPredict(m.Name(), X, m.W, m.Intercept)
}

func linearPredict(name string, X [][]float32, w []float64, b float64) ([]float32, error) {
	if _, err := checkRows(name, X, len(w)); err != nil {
		return nil, err
	}
	out := make([]float32, len(X))
	for i, row := range X {
		out[i] = float32(dot64(w, row) + b)
	}
	return out, nil
}

func dot64(w []float64, x []float32) float64 {
	var s float64
	for j, v := range x {
		s += w[j] * float64(v)
	}
	return s
}

func allRows(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// gram holds Z'Z for Z = [X | y | 1] over some rows: X'X, X'y, X'1, y'y, y'1 and the count.
type gram struct {
	p int       // features
	z []float64 // (p+2)×(p+2), row-major
}

func (g *gram) at(i, j int) float64 { return g.z[i*(g.p+2)+j] }

func (g *gram) clone() *gram { return &gram{p: g.p, z: slices.Clone(g.z)} }

func (g *gram) add(o *gram, sign float64) {
	for i := range g.z {
		g.z[i] += sign * o.z[i]
	}
}

// gramChunk is the number of rows per GoMLX call; the last chunk is padded with zero rows,
// which add nothing (their "1" column is 0 too), so one graph serves every call.
const gramChunk = 512

// gramStats computes Z'Z over rows in float64 on the GoMLX backend (its matmul is ~100×
// faster than a plain Go loop).
func gramStats(X [][]float32, y []float32, rows []int, p int) (*gram, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	exec, err := graph.NewExec(backend, func(z *graph.Node) *graph.Node {
		return graph.Dot(z, z).General([]int{0}, nil, []int{0}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("gram matrix: %w", err)
	}
	defer exec.Finalize()
	q := p + 2
	g := &gram{p: p, z: make([]float64, q*q)}
	buf := make([]float64, gramChunk*q)
	for start := 0; start < len(rows); start += gramChunk {
		clear(buf)
		for r, i := range rows[start:min(start+gramChunk, len(rows))] {
			dst := buf[r*q : (r+1)*q]
			for j, v := range X[i] {
				dst[j] = float64(v)
			}
			dst[p], dst[p+1] = float64(y[i]), 1
		}
		out, err := exec.Call1(tensors.FromFlatDataAndDimensions(buf, gramChunk, q))
		if err != nil {
			return nil, fmt.Errorf("gram matrix of %d×%d: %w", len(rows), q, err)
		}
		err = tensors.ConstFlatData(out, func(flat []float64) {
			for k, v := range flat {
				g.z[k] += v
			}
		})
		out.FinalizeAll()
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}

// system is a centred least-squares problem: A w = b with A = X'X − n μμ', b = X'y − n μ ȳ.
type system struct {
	p      int
	a      []float64 // p×p
	b      []float64
	mu     []float64
	meanY  float64
	nRows  float64
	traceA float64
}

func (g *gram) centered() *system {
	p, q := g.p, g.p+2
	n := g.at(p+1, p+1)
	s := &system{p: p, a: make([]float64, p*p), b: make([]float64, p), mu: make([]float64, p), nRows: n}
	if n == 0 {
		return s
	}
	s.meanY = g.at(p, p+1) / n
	for j := range p {
		s.mu[j] = g.z[j*q+p+1] / n
	}
	for i := range p {
		for j := range p {
			s.a[i*p+j] = g.z[i*q+j] - n*s.mu[i]*s.mu[j]
		}
		s.b[i] = g.z[i*q+p] - n*s.mu[i]*s.meanY
		s.traceA += s.a[i*p+i]
	}
	return s
}

func (s *system) trace() float64 { return s.traceA }

// solve returns w for (A + αI) w = b by Cholesky (gonum).
func (s *system) solve(alpha float64) ([]float64, error) {
	if s.nRows == 0 {
		return nil, fmt.Errorf("no training rows")
	}
	a := slices.Clone(s.a)
	for i := range s.p {
		a[i*s.p+i] += alpha
	}
	var ch mat.Cholesky
	if ok := ch.Factorize(mat.NewSymDense(s.p, a)); !ok {
		return nil, fmt.Errorf("X'X + %gI of %d features is not positive definite", alpha, s.p)
	}
	w := mat.NewVecDense(s.p, nil)
	if err := ch.SolveVecTo(w, mat.NewVecDense(s.p, slices.Clone(s.b))); err != nil {
		return nil, err
	}
	return w.RawVector().Data, nil
}

func (s *system) intercept(w []float64) float64 {
	b := s.meanY
	for j, v := range w {
		b -= v * s.mu[j]
	}
	return b
}
