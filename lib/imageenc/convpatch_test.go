package imageenc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
)

// tfSamePadding is TensorFlow's "SAME" padding: output ceil(in/s), total padding
// max((out−1)·s + k − in, 0), the extra cell after (GoMLX's PadSame differs for strides > 1).
func tfSamePadding(in, k, s int) [2]int {
	out := (in + s - 1) / s
	total := max((out-1)*s+k-in, 0)
	return [2]int{total / 2, total - total/2}
}

// TestConvPatchesMatchConvGeneral checks the gather-im2col convolution and the tap pools
// against GoMLX's own ConvGeneral and ReduceWindow pools on small random inputs, over the
// kernel shapes, strides and paddings InceptionV3 uses (and "same" with stride 2).
func TestConvPatchesMatchConvGeneral(t *testing.T) {
	backend, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	randT := func(dims ...int) *tensors.Tensor { return randTensor(r, dims...) }
	compare := func(name string, got, want *tensors.Tensor) {
		g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
		if len(g) != len(w) {
			t.Errorf("%s: shapes %s vs %s", name, got.Shape(), want.Shape())
			return
		}
		worst := 0.0
		for i := range g {
			worst = math.Max(worst, math.Abs(float64(g[i]-w[i])))
		}
		if worst > 1e-4 {
			t.Errorf("%s: max difference %.3g", name, worst)
		}
	}
	for _, c := range []struct {
		kh, kw, s int
		padding   string
	}{{1, 1, 1, "valid"}, {3, 3, 1, "same"}, {3, 3, 2, "valid"}, {3, 3, 1, "valid"}, {5, 5, 1, "same"},
		{1, 7, 1, "same"}, {7, 1, 1, "same"}, {1, 3, 1, "same"}, {3, 1, 1, "same"}, {3, 3, 2, "same"}} {
		name := fmt.Sprintf("conv %dx%d stride %d %s", c.kh, c.kw, c.s, c.padding)
		x, k := randT(2, 11, 10, 5), randT(c.kh, c.kw, 5, 6)
		res, err := ExecOnceN(backend, func(x, k *Node) []*Node {
			var spec convSpec
			spec.kh, spec.kw, spec.sh, spec.sw = c.kh, c.kw, c.s, c.s
			spec.padTop, spec.padBottom, _ = convPadding(c.padding, 11, c.kh, c.s)
			spec.padLeft, spec.padRight, _ = convPadding(c.padding, 10, c.kw, c.s)
			mine := conv2D(x, spec, Reshape(k, c.kh*c.kw*5, 6), nil, false)
			conv := Convolve(x, k).StridePerAxis(c.s, c.s)
			if c.padding == "same" {
				conv = conv.PaddingPerDim([][2]int{tfSamePadding(11, c.kh, c.s), tfSamePadding(10, c.kw, c.s)})
			} else {
				conv = conv.NoPadding()
			}
			return []*Node{mine, conv.Done()}
		}, x, k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		compare(name, res[0], res[1])
	}
	for _, c := range []struct {
		k, s    int
		padding string
		isMax   bool
	}{{3, 2, "valid", true}, {3, 1, "same", false}, {3, 1, "same", true}, {3, 2, "same", false}, {8, 8, "valid", false}} {
		name := fmt.Sprintf("pool %dx%d stride %d %s max=%v", c.k, c.k, c.s, c.padding, c.isMax)
		x := randT(2, 11, 10, 3)
		if c.k == 8 {
			x = randT(2, 8, 8, 3)
		}
		res, err := ExecOnceN(backend, func(x *Node) []*Node {
			mine, err := windowPool(x, c.isMax, c.k, c.k, c.s, c.s, c.padding)
			if err != nil {
				panic(err)
			}
			var p *PoolBuilder
			if c.isMax {
				p = MaxPool(x)
			} else {
				p = MeanPool(x)
			}
			p = p.Window(c.k).Strides(c.s)
			if c.padding == "same" {
				p = p.PaddingPerDim([][2]int{tfSamePadding(11, c.k, c.s), tfSamePadding(10, c.k, c.s)})
			} else {
				p = p.NoPadding()
			}
			return []*Node{mine, p.Done()}
		}, x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		compare(name, res[0], res[1])
	}
}
