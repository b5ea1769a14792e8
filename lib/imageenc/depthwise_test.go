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

// TestDepthwiseMatchesConvGeneral checks the host depthwise convolution against GoMLX's
// ConvGeneral with one feature group per channel on small random inputs (batch 2, odd and
// even sizes, channel counts that leave SIMD tails), over the kernels, strides and TF "SAME"
// paddings CenterNet uses, with bias and ReLU as the fused node applies them.
func TestDepthwiseMatchesConvGeneral(t *testing.T) {
	backend, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ h, w, k, s, ch int }{{11, 10, 3, 1, 6}, {11, 10, 3, 2, 18}, {12, 12, 5, 1, 40}, {12, 9, 5, 2, 16}, {7, 7, 1, 1, 3}} {
		for _, relu := range []bool{false, true} {
			name := fmt.Sprintf("depthwise %dx%d stride %d on %dx%dx%d relu %v", c.k, c.k, c.s, c.h, c.w, c.ch, relu)
			x, k, bias := randTensor(r, 2, c.h, c.w, c.ch), randTensor(r, c.k, c.k, c.ch), randTensor(r, c.ch)
			want, err := ExecOnce(backend, func(x, k, bias *Node) *Node {
				y := Convolve(x, Reshape(k, c.k, c.k, 1, c.ch)).StridePerAxis(c.s, c.s).FeatureGroupCount(c.ch).
					PaddingPerDim([][2]int{tfSamePadding(c.h, c.k, c.s), tfSamePadding(c.w, c.k, c.s)}).Done()
				y = Add(y, Reshape(bias, 1, 1, 1, c.ch))
				if relu {
					y = Max(y, ScalarZero(y.Graph(), y.DType()))
				}
				return y
			}, x, k, bias)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			spec := convSpec{kh: c.k, kw: c.k, sh: c.s, sw: c.s}
			spec.padTop, spec.padBottom, _ = convPadding("same", c.h, c.k, c.s)
			spec.padLeft, spec.padRight, _ = convPadding("same", c.w, c.k, c.s)
			a := depthwiseArgs{n: 2, h: c.h, w: c.w, c: c.ch, kernel: tensors.MustCopyFlatData[float32](k),
				bias: tensors.MustCopyFlatData[float32](bias), relu: relu, spec: spec}
			got, err := depthwiseHost(tensors.MustCopyFlatData[float32](x), a)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ho, wo := a.outSize()
			if d := maxDiff(t, name, tensors.FromFlatDataAndDimensions(got, 2, ho, wo, c.ch), want); d > 1e-4 {
				t.Errorf("%s: max difference %.3g with ConvGeneral", name, d)
			}
		}
	}
	if _, err := depthwiseHost(make([]float32, 5), depthwiseArgs{n: 1, h: 2, w: 2, c: 2, kernel: make([]float32, 18),
		spec: convSpec{kh: 3, kw: 3, sh: 1, sw: 1}}); err == nil {
		t.Error("an input of the wrong size was accepted")
	}
}

// BenchmarkDepthwise measures the host depthwise convolution on CenterNet's largest
// depthwise layers (its classification head's 3×3 on 128×128×128, a 5×5 on 64×64×192 and a
// 5×5 stride 2 on 128×128×72) against GoMLX's ConvGeneral with feature groups, timed in the
// same run (three ConvGeneral passes first); it reports speedup: ConvGeneral's time over ours.
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
			a := depthwiseArgs{n: 1, h: c.h, w: c.h, c: c.c, kernel: tensors.MustCopyFlatData[float32](k), spec: spec}
			xs := tensors.MustCopyFlatData[float32](x)
			ref, err := NewExec(backend, func(x, k *Node) *Node {
				return Convolve(x, Reshape(k, c.k, c.k, 1, c.c)).StridePerAxis(c.s, c.s).FeatureGroupCount(c.c).
					PaddingPerDim([][2]int{tfSamePadding(c.h, c.k, c.s), tfSamePadding(c.h, c.k, c.s)}).Done()
			})
			if err != nil {
				b.Fatal(err)
			}
			ref.MustExec(x, k)
			t0 := time.Now()
			for range 3 {
				ref.MustExec(x, k)
			}
			refTime := time.Since(t0).Seconds() / 3
			b.ResetTimer()
			for b.Loop() {
				if _, err := depthwiseHost(xs, a); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(refTime/(b.Elapsed().Seconds()/float64(b.N)), "speedup")
		})
	}
}
