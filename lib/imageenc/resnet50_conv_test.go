package imageenc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timages "github.com/gomlx/gomlx/core/tensors/images"
)

func randomTensor(r *rand.Rand, dims ...int) *tensors.Tensor {
	v := make([]float32, shapes.Make(0, dims...).Size())
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func clone(t *testing.T, x *tensors.Tensor) *tensors.Tensor {
	c, err := x.LocalClone()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameOnBothBackends runs fn on the plain Go backend and on the im2col wrapper and
// requires the same result within 1e-5 relative to the largest value.
func sameOnBothBackends(t *testing.T, name string, fn func(x, k *graph.Node) *graph.Node, x, k *tensors.Tensor) {
	t.Helper()
	plain, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	fast := withIm2colConv(plain)
	if _, ok := fast.(im2colBackend); !ok {
		t.Fatalf("the Go backend (%s) was not wrapped", plain.String())
	}
	want, err := graph.ExecOnce(plain, fn, clone(t, x), clone(t, k))
	if err != nil {
		t.Fatalf("%s, Go backend: %v", name, err)
	}
	got, err := graph.ExecOnce(fast, fn, clone(t, x), clone(t, k))
	if err != nil {
		t.Fatalf("%s, im2col: %v", name, err)
	}
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: shape %s, Go backend %s", name, got.Shape(), want.Shape())
	}
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	var maxDiff, maxRef float64
	for i := range w {
		maxDiff = max(maxDiff, math.Abs(float64(g[i]-w[i])))
		maxRef = max(maxRef, math.Abs(float64(w[i])))
	}
	if maxDiff > 1e-5*maxRef || math.IsNaN(maxDiff) {
		t.Errorf("%s: max |im2col − ConvGeneral| = %.3g (largest value %.3g)", name, maxDiff, maxRef)
	}
}

// TestIm2colConv checks the rewritten convolutions and pools against the Go backend's own
// ConvGeneral and ReduceWindow: NCHW (ONNX) and NHWC layouts, strides, asymmetric padding,
// 1×1 kernels, batches of one and three.
func TestIm2colConv(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	nchw := compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}
	nhwc := compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
		KernelOutputChannels: 3, KernelInputChannels: 2, KernelSpatial: []int{0, 1},
		OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2}}
	for _, c := range []struct {
		n, cin, h, w, cout, kh, kw, sh, sw int
		pad                                [][2]int
		nhwc                               bool
	}{
		{1, 3, 17, 15, 8, 7, 7, 2, 2, [][2]int{{3, 3}, {3, 3}}, false}, // ResNet stem
		{3, 8, 9, 9, 5, 3, 3, 1, 1, [][2]int{{1, 1}, {1, 1}}, false},
		{2, 6, 10, 11, 4, 3, 2, 2, 1, [][2]int{{0, 2}, {1, 0}}, false},
		{3, 16, 8, 8, 12, 1, 1, 1, 1, nil, false},
		{2, 16, 9, 9, 12, 1, 1, 2, 2, nil, false},
		{2, 5, 9, 8, 7, 3, 3, 2, 2, [][2]int{{1, 1}, {0, 1}}, true},
	} {
		name := fmt.Sprintf("conv n=%d c=%d %dx%d k=%dx%d s=%d,%d pad=%v nhwc=%v", c.n, c.cin, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.pad, c.nhwc)
		axes, x, k := nchw, randomTensor(r, c.n, c.cin, c.h, c.w), randomTensor(r, c.cout, c.cin, c.kh, c.kw)
		if c.nhwc {
			axes, x, k = nhwc, randomTensor(r, c.n, c.h, c.w, c.cin), randomTensor(r, c.kh, c.kw, c.cin, c.cout)
		}
		sameOnBothBackends(t, name, func(x, k *graph.Node) *graph.Node {
			return graph.ConvGeneral(x, k, axes, []int{c.sh, c.sw}, c.pad, nil, nil, 1, 1)
		}, x, k)
	}
	x := randomTensor(r, 2, 4, 13, 12)
	unused := randomTensor(r, 1)
	sameOnBothBackends(t, "max pool 3x3/2 pad 1", func(x, _ *graph.Node) *graph.Node {
		return graph.MaxPool(x).ChannelsAxis(timages.ChannelsFirst).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	}, x, unused)
	sameOnBothBackends(t, "mean pool 3x3/1 pad 1", func(x, _ *graph.Node) *graph.Node {
		return graph.MeanPool(x).ChannelsAxis(timages.ChannelsFirst).Window(3).Strides(1).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	}, x, unused)
	sameOnBothBackends(t, "max pool 2x2 default strides", func(x, _ *graph.Node) *graph.Node {
		return graph.MaxPool(x).ChannelsAxis(timages.ChannelsFirst).Window(2).Done()
	}, x, unused)
}
