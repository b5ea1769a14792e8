package imageenc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
)

// randTensor is a tensor of standard normal values.
func randTensor(r *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// maxDiff is the largest absolute difference between two float32 tensors of one shape.
func maxDiff(t *testing.T, name string, got, want *tensors.Tensor) float64 {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: shapes %s vs %s", name, got.Shape(), want.Shape())
	}
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	worst := 0.0
	for i := range g {
		worst = math.Max(worst, math.Abs(float64(g[i]-w[i])))
	}
	return worst
}

// TestDepthwiseMatchesConvGeneral checks the gathered-taps depthwise convolution against
// GoMLX's ConvGeneral with one feature group per channel on small random inputs (batch 2,
// odd and even sizes), over the kernels, strides and TF "SAME" paddings CenterNet uses.
func TestDepthwiseMatchesConvGeneral(t *testing.T) {
	backend, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ h, w, k, s int }{{11, 10, 3, 1}, {11, 10, 3, 2}, {12, 12, 5, 1}, {12, 9, 5, 2}, {7, 7, 1, 1}} {
		name := fmt.Sprintf("depthwise %dx%d stride %d on %dx%d", c.k, c.k, c.s, c.h, c.w)
		const ch = 6
		x, k := randTensor(r, 2, c.h, c.w, ch), randTensor(r, c.k, c.k, ch)
		res, err := ExecOnceN(backend, func(x, k *Node) []*Node {
			spec := convSpec{kh: c.k, kw: c.k, sh: c.s, sw: c.s}
			spec.padTop, spec.padBottom, _ = convPadding("same", c.h, c.k, c.s)
			spec.padLeft, spec.padRight, _ = convPadding("same", c.w, c.k, c.s)
			want := Convolve(x, Reshape(k, c.k, c.k, 1, ch)).StridePerAxis(c.s, c.s).FeatureGroupCount(ch).
				PaddingPerDim([][2]int{tfSamePadding(c.h, c.k, c.s), tfSamePadding(c.w, c.k, c.s)}).Done()
			return []*Node{depthwiseConv(x, k, spec), want}
		}, x, k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := maxDiff(t, name, res[0], res[1]); d > 1e-4 {
			t.Errorf("%s: max difference %.3g with ConvGeneral", name, d)
		}
	}
}

// BenchmarkDepthwise measures the depthwise fast path on CenterNet's largest depthwise
// layers (its classification head's 3×3 on 128×128×128, a 5×5 on 64×64×192 and a 5×5
// stride 2 on 128×128×72) against GoMLX's ConvGeneral with feature groups, timed in the same
// run (three ConvGeneral passes first); it reports speedup: ConvGeneral's time over ours.
func BenchmarkDepthwise(b *testing.B) {
	backend, err := sharedBackend()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ h, c, k, s int }{{128, 128, 3, 1}, {64, 192, 5, 1}, {128, 72, 5, 2}} {
		b.Run(fmt.Sprintf("%dx%d_%dx%dx%d_stride%d", c.k, c.k, c.h, c.h, c.c, c.s), func(b *testing.B) {
			x, k := randTensor(r, 1, c.h, c.h, c.c), randTensor(r, c.k, c.k, c.c)
			spec := convSpec{kh: c.k, kw: c.k, sh: c.s, sw: c.s}
			spec.padTop, spec.padBottom, _ = convPadding("same", c.h, c.k, c.s)
			spec.padLeft, spec.padRight = spec.padTop, spec.padBottom
			ours, err := NewExec(backend, func(x, k *Node) *Node { return depthwiseConv(x, k, spec) })
			if err != nil {
				b.Fatal(err)
			}
			ref, err := NewExec(backend, func(x, k *Node) *Node {
				return Convolve(x, Reshape(k, c.k, c.k, 1, c.c)).StridePerAxis(c.s, c.s).FeatureGroupCount(c.c).
					PaddingPerDim([][2]int{tfSamePadding(c.h, c.k, c.s), tfSamePadding(c.h, c.k, c.s)}).Done()
			})
			if err != nil {
				b.Fatal(err)
			}
			ours.MustExec(x, k)
			ref.MustExec(x, k)
			t0 := time.Now()
			for range 3 {
				ref.MustExec(x, k)
			}
			refTime := time.Since(t0).Seconds() / 3
			b.ResetTimer()
			for b.Loop() {
				ours.MustExec(x, k)
			}
			b.ReportMetric(refTime/(b.Elapsed().Seconds()/float64(b.N)), "speedup")
		})
	}
}
