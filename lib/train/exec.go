package train

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Execs caches a model's compiled graphs (one per key, e.g. per tower and Mode) until
// Release; Compiled fills it.
type Execs[K comparable] struct {
	m map[K]*model.Exec
}

// Compiled returns the graph cached in e for key, compiling build on store the first time.
func Compiled[K comparable, F model.ExecGraphFn](e *Execs[K], key K, store *model.Store, build F) (*model.Exec, error) {
	if exec := e.m[key]; exec != nil {
		return exec, nil
	}
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(backend, store, build)
	if err != nil {
		return nil, err
	}
	if e.m == nil {
		e.m = map[K]*model.Exec{}
	}
	e.m[key] = exec
	return exec, nil
}

// Release frees the compiled graphs; Get compiles them again, from the current weights.
func (e *Execs[K]) Release() {
	for k, exec := range e.m {
		exec.Finalize()
		delete(e.m, k)
	}
}

// applyChunk is the number of rows per call of Apply (one compiled graph per shape: full
// chunks and one remainder).
const applyChunk = 1024

// Apply runs a graph of one input [n, width] on rows (each of width values, checked by
// the caller) in chunks and returns its output, row after row, flat.
func Apply(exec *model.Exec, rows [][]float32, width int) ([]float32, error) {
	var out []float32
	for start := 0; start < len(rows); start += applyChunk {
		res, err := exec.Exec(RowsTensor(rows[start:min(start+applyChunk, len(rows))], nil, width))
		if err != nil {
			return nil, err
		}
		err = tensors.ConstFlatData(res[0], func(flat []float32) { out = append(out, flat...) })
		for _, t := range res {
			t.FinalizeAll()
		}
		if err != nil {
			return nil, fmt.Errorf("reading the output: %w", err)
		}
	}
	return out, nil
}

// RowsTensor returns the tensor [len(idx), width] of the rows src[idx[0]], src[idx[1]], …
// (every row of src in order if idx is nil), copied once, straight into the tensor. Rows
// must have width values.
func RowsTensor(src [][]float32, idx []int, width int) *tensors.Tensor {
	n := len(idx)
	if idx == nil {
		n = len(src)
	}
	t := tensors.FromShape(shapes.Make(dtypes.Float32, n, width))
	tensors.MustMutableFlatData(t, func(flat []float32) {
		for i := range n {
			r := i
			if idx != nil {
				r = idx[i]
			}
			copy(flat[i*width:(i+1)*width], src[r])
		}
	})
	return t
}

// Scalar returns the value of a scalar float tensor (NaN for another kind).
func Scalar(t *tensors.Tensor) float64 {
	v := math.NaN()
	_ = t.ConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			v = float64(f[0])
		case []float64:
			v = f[0]
		}
	})
	return v
}
