package train

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
)

// Mode says what a model graph is built for.
type Mode int

const (
	ModeTrain   Mode = iota // dropout on
	ModeMonitor             // no dropout, weights read at every call (validation during training)
	ModeInfer               // no dropout, weights baked in as constants where the backend prefers it
)

// Begin prepares graph g for mode; a model function calls it first. The Go backend
// embeds the variables of non-training graphs as constants, which would freeze a
// monitoring graph at the weights of its first compilation, so ModeMonitor graphs are
// marked as training graphs (which read their variables at every call).
func Begin(scope *model.Scope, g *graph.Graph, mode Mode) {
	if mode == ModeMonitor {
		scope.SetTraining(g, true)
	}
}

// Dropout drops a fraction rate of x's values in ModeTrain graphs (scaling the rest)
// and passes x through otherwise.
func Dropout(scope *model.Scope, x *graph.Node, rate float64, mode Mode) *graph.Node {
	if mode != ModeTrain || rate == 0 {
		return x
	}
	return layers.DropoutStatic(scope, x, rate)
}

// standardizerScope holds the standardiser's variables "mean" and "scale" under a model scope.
const standardizerScope = "norm"

// AddStandardizer stores the per-feature means and 1/deviations of the given rows of X
// (MeanScale) as fixed (untrained) variables of scope, for Standardize.
func AddStandardizer(scope *model.Scope, X [][]float32, rows []int) error {
	if len(rows) == 0 {
		return fmt.Errorf("standardizer of %s: no training rows", scope.Scope())
	}
	mean, scale := MeanScale(X, rows)
	norm := scope.In(standardizerScope)
	for _, v := range []struct {
		name string
		val  []float32
	}{{"mean", mean}, {"scale", scale}} {
		nv, err := norm.CreateVariable(v.name, tensors.FromFlatDataAndDimensions(v.val, len(v.val)))
		if err != nil {
			return fmt.Errorf("standardizer of %s: %w", scope.Scope(), err)
		}
		nv.SetTrainable(false)
	}
	return nil
}

// Standardize returns (x − mean)·scale for rows x [batch, features], with the mean and
// scale AddStandardizer stored in scope.
func Standardize(scope *model.Scope, x *graph.Node) *graph.Node {
	g := x.Graph()
	dim := x.Shape().Dimensions[1]
	norm := scope.In(standardizerScope)
	mean := norm.VariableWithShape("mean", shapes.Make(dtypes.Float32, dim)).NodeValue(g)
	scale := norm.VariableWithShape("scale", shapes.Make(dtypes.Float32, dim)).NodeValue(g)
	return graph.Mul(graph.Sub(x, graph.InsertAxes(mean, 0)), graph.InsertAxes(scale, 0))
}

// MeanScale returns the per-feature means and 1/standard deviations of the given rows of
// X (scale 1 where a feature is constant): (x − mean)·scale standardises a row.
func MeanScale(X [][]float32, rows []int) (mean, scale []float32) {
	p := len(X[rows[0]])
	sum, sq := make([]float64, p), make([]float64, p)
	for _, r := range rows {
		for j, v := range X[r] {
			sum[j] += float64(v)
			sq[j] += float64(v) * float64(v)
		}
	}
	n := float64(len(rows))
	mean, scale = make([]float32, p), make([]float32, p)
	for j := range p {
		mu := sum[j] / n
		sd := math.Sqrt(max(sq[j]/n-mu*mu, 0))
		mean[j] = float32(mu)
		scale[j] = 1
		if sd > 1e-8 {
			scale[j] = float32(1 / sd)
		}
	}
	return mean, scale
}
