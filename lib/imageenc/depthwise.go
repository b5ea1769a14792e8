package imageenc

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
)

// Depthwise convolution (TF's DepthwiseConv2dNative with channel multiplier 1) as a fast
// path. GoMLX's ConvGeneral with one feature group per channel runs on the Go backend at a
// small fraction of its matmul speed (as plain convolutions do, see convpatch.go), and a
// depthwise convolution has no matmul to turn it into; so it is built from whole-tensor
// element-wise passes, two per kernel tap:
//
//   - the zero-padded input is flattened to rows [N·Hp·Wp, C]; with stride 1, output cell
//     (b, y, x) sums the rows q + i·Wp + j over the taps (i, j), where q = (b·Hp + y)·Wp + x:
//     every tap reads the same rows shifted by one offset. So each tap is the whole input
//     times the tap's per-channel weights (one Mul), added into an accumulator at that
//     offset (one ScatterSum of a single contiguous block; the Go backend adds it in place,
//     with SIMD). The accumulator covers every q, including the padding columns and rows;
//     the valid [Wo, C] row blocks are gathered out at the end.
//   - a stride s is first turned into s×s stride-1 problems (polyphase): the input is split
//     into its s×s phases (rows ≡ a, columns ≡ b mod s, one transpose), tap (i, j) reads
//     phase (i mod s, j mod s) at offset (i div s, j div s), and all taps add into one
//     accumulator.
//
// It runs 6-10× faster than ConvGeneral with feature groups on CenterNet's largest layers
// (BenchmarkDepthwise; TestDepthwiseMatchesConvGeneral checks the values). The kernel is
// [kh, kw, C] (TF's [kh, kw, C, 1] reshaped).

// depthwiseConv computes the depthwise convolution of x [N, H, W, C] with kernel
// [kh, kw, C] under spec (its paddings and strides); the result is [N, Ho, Wo, C].
func depthwiseConv(x, kernel *Node, spec convSpec) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	n, h, w, c := dims[0], dims[1], dims[2], dims[3]
	sh, sw := spec.sh, spec.sw
	h += spec.padTop + spec.padBottom
	w += spec.padLeft + spec.padRight
	ho, wo := (h-spec.kh)/sh+1, (w-spec.kw)/sw+1
	// Extra zero rows and columns (never read by a valid output) make the padded sizes
	// multiples of the strides, so every phase has the same [n, hs, ws] grid.
	hs, ws := (h+sh-1)/sh, (w+sw-1)/sw
	if pads := spec.padTop + spec.padBottom + spec.padLeft + spec.padRight + hs*sh - h + ws*sw - w; pads > 0 {
		x = Pad(x, ScalarZero(g, x.DType()), compute.PadAxis{},
			compute.PadAxis{Start: spec.padTop, End: spec.padBottom + hs*sh - h},
			compute.PadAxis{Start: spec.padLeft, End: spec.padRight + ws*sw - w})
	}
	rows := n * hs * ws
	var phases []*Node
	if sh == 1 && sw == 1 {
		phases = []*Node{Reshape(x, rows, c)}
	} else {
		// [n, hs, sh, ws, sw, c] → [sh, sw, n, hs, ws, c]: phase (a, b) is block a·sw + b.
		all := Reshape(TransposeAllDims(Reshape(x, n, hs, sh, ws, sw, c), 2, 4, 0, 1, 3, 5), sh*sw*rows, c)
		for p := range sh * sw {
			phases = append(phases, gatherBlocks(all, []int32{int32(p * rows)}, rows))
		}
	}
	maxOff := ((spec.kh-1)/sh)*ws + (spec.kw-1)/sw
	acc := Zeros(g, shapes.Make(x.DType(), rows+maxOff, c))
	for i := range spec.kh {
		for j := range spec.kw {
			tap := Reshape(Slice(kernel, AxisElem(i), AxisElem(j)), 1, c)
			prod := Reshape(Mul(phases[(i%sh)*sw+j%sw], tap), 1, rows, c)
			at := Const(g, tensors.FromFlatDataAndDimensions([]int32{int32(maxOff - (i/sh)*ws - j/sw)}, 1, 1))
			acc = BackendScatterSum(acc, at, prod, 1, []int{1, 2}, nil, []int{0}, true, true)
		}
	}
	starts := make([]int32, 0, n*ho)
	for b := range n {
		for oy := range ho {
			starts = append(starts, int32(maxOff+(b*hs+oy)*ws))
		}
	}
	return Reshape(gatherBlocks(acc, starts, wo), n, ho, wo, c)
}

// gatherRows returns the rows idx (increasing) of the matrix flat [R, D]: [len(idx), D].
func gatherRows(flat *Node, idx []int32) *Node {
	return gatherBlocks(flat, idx, 1)
}

// gatherBlocks returns the blocks of rows [s, s+rows) of flat [R, D] for each start s
// (increasing), concatenated: [len(starts)·rows, D].
func gatherBlocks(flat *Node, starts []int32, rows int) *Node {
	d := flat.Shape().Dimensions[1]
	idx := Const(flat.Graph(), tensors.FromFlatDataAndDimensions(starts, len(starts), 1))
	return Reshape(BackendGather(flat, idx, 1, []int{1, 2}, nil, []int{0}, []int{rows, d}, true), len(starts)*rows, d)
}
