package imageenc

import (
	"math"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Fast convolutions for graphs that GoMLX builds from other sources (onnx-gomlx's Conv).
//
// The Go backend's ConvGeneral is a direct loop at a few GFLOP/s while its DotGeneral
// (matmul) runs one to two orders of magnitude faster. onnx-gomlx converts every ONNX Conv
// to ConvGeneral, and its converters are internal, so the convolution is replaced one level
// lower: im2colBackend wraps the Go backend and rewrites each plain 2-D float32 ConvGeneral
// (any axis layout, strides, zero padding; no dilation, no grouping) in NCHW, the layout
// ONNX uses, so no transposes are needed:
//
//	zero pad → per image, patches [C·kh·kw, Ho·Wo] (one strided Slice per kernel
//	position, concatenated) → DotGeneral with the OIHW kernel as [Cout, C·kh·kw]
//	→ [Cout, Ho·Wo] → images concatenated into [N, Cout, Ho, Wo].
//
// A 1×1 convolution with stride 1 on one image is the matmul alone. Max and sum pooling (ReduceWindow)
// are rewritten too, as strided Slices combined with Max or Add. Every other op goes to
// the Go backend unchanged.

// im2colBackend is a compute.Backend whose functions build convolutions as matrix products.
type im2colBackend struct{ compute.Backend }

// withIm2colConv wraps the Go backend; other backends (XLA) have fast convolutions already
// and are returned as they are.
func withIm2colConv(b compute.Backend) compute.Backend {
	if b.String() != "go" {
		return b
	}
	return im2colBackend{b}
}

func (b im2colBackend) Builder(name string) compute.Builder {
	return &im2colBuilder{Builder: b.Backend.Builder(name), funcs: map[compute.Function]*im2colFunction{}}
}

// im2colBuilder wraps a Builder so that the functions it hands out are wrapped; each inner
// function has exactly one wrapper, so identity comparisons keep working.
type im2colBuilder struct {
	compute.Builder
	mu    sync.Mutex
	funcs map[compute.Function]*im2colFunction
}

func (b *im2colBuilder) wrap(f compute.Function) compute.Function {
	if f == nil {
		return nil
	}
	if w, ok := f.(*im2colFunction); ok {
		return w
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.funcs[f]
	if !ok {
		w = &im2colFunction{Function: f, b: b}
		b.funcs[f] = w
	}
	return w
}

func (b *im2colBuilder) Main() compute.Function { return b.wrap(b.Builder.Main()) }

func (b *im2colBuilder) NewFunction(name string) (compute.Function, error) {
	f, err := b.Builder.NewFunction(name)
	return b.wrap(f), err
}

// im2colFunction forwards every op to the Go backend's function except ConvGeneral; the
// ops that take functions get the inner ones back.
type im2colFunction struct {
	compute.Function
	b *im2colBuilder
}

func unwrapFunction(f compute.Function) compute.Function {
	if w, ok := f.(*im2colFunction); ok {
		return w.Function
	}
	return f
}

func (f *im2colFunction) Builder() compute.Builder { return f.b }
func (f *im2colFunction) Parent() compute.Function { return f.b.wrap(f.Function.Parent()) }

func (f *im2colFunction) Closure() (compute.Function, error) {
	c, err := f.Function.Closure()
	return f.b.wrap(c), err
}

func (f *im2colFunction) Call(fn compute.Function, inputs ...compute.Value) ([]compute.Value, error) {
	return f.Function.Call(unwrapFunction(fn), inputs...)
}

func (f *im2colFunction) Sort(comparator compute.Function, axis int, isStable bool, inputs ...compute.Value) ([]compute.Value, error) {
	return f.Function.Sort(unwrapFunction(comparator), axis, isStable, inputs...)
}

func (f *im2colFunction) While(cond, body compute.Function, initialState ...compute.Value) ([]compute.Value, error) {
	return f.Function.While(unwrapFunction(cond), unwrapFunction(body), initialState...)
}

func (f *im2colFunction) If(pred compute.Value, trueBranch, falseBranch compute.Function) ([]compute.Value, error) {
	return f.Function.If(pred, unwrapFunction(trueBranch), unwrapFunction(falseBranch))
}

// ConvGeneral builds a plain 2-D float32 convolution as im2col + DotGeneral, and hands
// anything else to the Go backend's ConvGeneral.
func (f *im2colFunction) ConvGeneral(input, kernel compute.Value, axes compute.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (compute.Value, error) {
	inner := func() (compute.Value, error) {
		return f.Function.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}
	xs, err := f.Shape(input)
	if err != nil {
		return nil, err
	}
	ks, err := f.Shape(kernel)
	if err != nil {
		return nil, err
	}
	if xs.Rank() != 4 || ks.Rank() != 4 || xs.DType != dtypes.Float32 || ks.DType != dtypes.Float32 ||
		len(axes.InputSpatial) != 2 || len(axes.KernelSpatial) != 2 || len(axes.OutputSpatial) != 2 ||
		max(channelGroupCount, 1) != 1 || max(batchGroupCount, 1) != 1 ||
		!allOnes(inputDilations) || !allOnes(kernelDilations) || xs.IsDynamic() {
		return inner()
	}
	sh, sw := 1, 1
	if len(strides) == 2 {
		sh, sw = strides[0], strides[1]
	}
	var pad [2][2]int
	if len(paddings) == 2 {
		pad = [2][2]int{paddings[0], paddings[1]}
	}
	if sh < 1 || sw < 1 || pad[0][0] < 0 || pad[0][1] < 0 || pad[1][0] < 0 || pad[1][1] < 0 {
		return inner()
	}
	return f.im2colConv(input, kernel, xs, ks, axes, sh, sw, pad)
}

func allOnes(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

func (f *im2colFunction) im2colConv(input, kernel compute.Value, xs, ks shapes.Shape, axes compute.ConvolveAxesConfig,
	sh, sw int, pad [2][2]int) (compute.Value, error) {
	n, c := xs.Dimensions[axes.InputBatch], xs.Dimensions[axes.InputChannels]
	h, w := xs.Dimensions[axes.InputSpatial[0]], xs.Dimensions[axes.InputSpatial[1]]
	kh, kw := ks.Dimensions[axes.KernelSpatial[0]], ks.Dimensions[axes.KernelSpatial[1]]
	cout := ks.Dimensions[axes.KernelOutputChannels]
	hp, wp := h+pad[0][0]+pad[0][1], w+pad[1][0]+pad[1][1]
	ho, wo := (hp-kh)/sh+1, (wp-kw)/sw+1
	l, k := ho*wo, c*kh*kw

	// NCHW input (ONNX's layout: no transpose), zero padded.
	x, err := transposeTo(f, input, []int{axes.InputBatch, axes.InputChannels, axes.InputSpatial[0], axes.InputSpatial[1]})
	if err != nil {
		return nil, err
	}
	if pad != [2][2]int{} {
		if x, err = padConst(f, x, 0, [][2]int{{}, {}, pad[0], pad[1]}); err != nil {
			return nil, err
		}
	}
	// Kernel as [Cout, C·kh·kw] (ONNX's OIHW: a plain reshape).
	km, err := transposeTo(f, kernel, []int{axes.KernelOutputChannels, axes.KernelInputChannels, axes.KernelSpatial[0], axes.KernelSpatial[1]})
	if err != nil {
		return nil, err
	}
	if km, err = f.Reshape(km, cout, k); err != nil {
		return nil, err
	}
	// Per image: patches [C·kh·kw, Ho·Wo], rows in (channel, row, column) order, one
	// strided Slice per kernel position; then [Cout, K] × [K, L] → [Cout, L], already in
	// NCHW order, both operands in layouts the Go backend's matmul takes without copying.
	// Images are multiplied one by one and concatenated: cheaper than broadcasting the
	// kernel along a batch axis, which would copy it once per image.
	outs := make([]compute.Value, n)
	for b := range n {
		var patches compute.Value
		if kh == 1 && kw == 1 && sh == 1 && sw == 1 && n == 1 {
			patches, err = f.Reshape(x, k, l)
		} else {
			parts := make([]compute.Value, 0, kh*kw)
			for i := range kh {
				for j := range kw {
					p, err := f.Slice(x, []int{b, 0, i, j}, []int{b + 1, c, i + sh*(ho-1) + 1, j + sw*(wo-1) + 1}, []int{1, 1, sh, sw})
					if err != nil {
						return nil, err
					}
					if p, err = f.Reshape(p, c, 1, l); err != nil {
						return nil, err
					}
					parts = append(parts, p)
				}
			}
			patches = parts[0]
			if len(parts) > 1 {
				patches, err = f.Concatenate(1, parts...)
			}
			if err == nil {
				patches, err = f.Reshape(patches, k, l)
			}
		}
		if err != nil {
			return nil, err
		}
		if outs[b], err = f.DotGeneral(km, []int{1}, nil, patches, []int{0}, nil, compute.DotGeneralConfig{}); err != nil {
			return nil, err
		}
		if outs[b], err = f.Reshape(outs[b], 1, cout, l); err != nil {
			return nil, err
		}
	}
	y := outs[0]
	if n > 1 {
		if y, err = f.Concatenate(0, outs...); err != nil {
			return nil, err
		}
	}
	if y, err = f.Reshape(y, n, cout, ho, wo); err != nil {
		return nil, err
	}
	// NCHW → the requested output layout: output axis a holds NCHW axis perm[a].
	perm := make([]int, 4)
	perm[axes.OutputBatch] = 0
	perm[axes.OutputChannels] = 1
	perm[axes.OutputSpatial[0]] = 2
	perm[axes.OutputSpatial[1]] = 3
	return transposeTo(f, y, perm)
}

// ReduceWindow builds float32 max and sum pooling (no dilations) as strided Slices
// combined with Max or Add: the Go backend's ReduceWindow iterates generically and was the
// slowest op of ResNet50 (its one 3×3 max pool cost more than all its convolutions).
func (f *im2colFunction) ReduceWindow(input compute.Value, reductionType compute.ReduceOpType,
	windowDimensions, strides, inputDilations, windowDilations []int, paddings [][2]int) (compute.Value, error) {
	inner := func() (compute.Value, error) {
		return f.Function.ReduceWindow(input, reductionType, windowDimensions, strides, inputDilations, windowDilations, paddings)
	}
	xs, err := f.Shape(input)
	if err != nil {
		return nil, err
	}
	rank := xs.Rank()
	if xs.DType != dtypes.Float32 || xs.IsDynamic() || len(windowDimensions) != rank ||
		(reductionType != compute.ReduceOpMax && reductionType != compute.ReduceOpSum) ||
		!allOnes(inputDilations) || !allOnes(windowDilations) ||
		(len(strides) != 0 && len(strides) != rank) || (len(paddings) != 0 && len(paddings) != rank) {
		return inner()
	}
	x := input
	if len(paddings) > 0 {
		fill := float32(0)
		if reductionType == compute.ReduceOpMax {
			fill = float32(math.Inf(-1))
		}
		if x, err = padConst(f, x, fill, paddings); err != nil {
			return nil, err
		}
		if xs, err = f.Shape(x); err != nil {
			return nil, err
		}
	}
	stride := func(a int) int {
		if len(strides) == 0 {
			return windowDimensions[a] // XLA's default: strides equal to the window
		}
		return strides[a]
	}
	out := make([]int, rank)
	windows := 1
	for a := range rank {
		if windowDimensions[a] < 1 || stride(a) < 1 || xs.Dimensions[a] < windowDimensions[a] {
			return inner()
		}
		out[a] = (xs.Dimensions[a]-windowDimensions[a])/stride(a) + 1
		windows *= windowDimensions[a]
	}
	if windows > 64 {
		return inner()
	}
	var acc compute.Value
	offset := make([]int, rank)
	for range windows {
		starts, limits, steps := make([]int, rank), make([]int, rank), make([]int, rank)
		for a := range rank {
			starts[a] = offset[a]
			limits[a] = offset[a] + stride(a)*(out[a]-1) + 1
			steps[a] = stride(a)
		}
		part, err := f.Slice(x, starts, limits, steps)
		if err != nil {
			return nil, err
		}
		switch {
		case acc == nil:
			acc = part
		case reductionType == compute.ReduceOpMax:
			acc, err = f.Max(acc, part)
		default:
			acc, err = f.Add(acc, part)
		}
		if err != nil {
			return nil, err
		}
		for a := rank - 1; a >= 0; a-- { // next window offset
			if offset[a]++; offset[a] < windowDimensions[a] {
				break
			}
			offset[a] = 0
		}
	}
	return acc, nil
}

// padConst pads a float32 x with the constant fill.
func padConst(f compute.Function, x compute.Value, fill float32, paddings [][2]int) (compute.Value, error) {
	v, err := f.Constant([]float32{fill})
	if err != nil {
		return nil, err
	}
	if v, err = f.Reshape(v); err != nil {
		return nil, err
	}
	axes := make([]compute.PadAxis, len(paddings))
	for i, p := range paddings {
		axes[i] = compute.PadAxis{Start: p[0], End: p[1]}
	}
	return f.Pad(x, v, axes...)
}

// transposeTo returns x with its axes in the order perm (output axis i is x's axis
// perm[i]), skipping the identity.
func transposeTo(f compute.Function, x compute.Value, perm []int) (compute.Value, error) {
	for i, p := range perm {
		if i != p {
			return f.Transpose(x, perm...)
		}
	}
	return x, nil
}
