package imageenc

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
)

// Depthwise convolution (TF's DepthwiseConv2dNative with channel multiplier 1) as a fast
// path. GoMLX's ConvGeneral with one feature group per channel runs on the Go backend at a
// small fraction of its matmul speed (as plain convolutions do, see convpatch.go), and a
// depthwise convolution has no matmul to turn it into. It is built here as a sum over the
// kh×kw window taps, each tap a gathered copy of the input rows it reads from the
// zero-padded input, scaled per channel by the kernel's tap:
//   - stride 1: with the padded input flattened to [N·Hp·Wp, C], output cell (b, y, x) reads
//     row (b·Hp + y)·Wp + x + i·Wp + j for tap (i, j), so every tap is ONE contiguous block of
//     rows (a single memory copy); the sum is computed over the padded width (and across
//     images) and the valid [Wo, C] row blocks are gathered out at the end;
//   - stride 2: each tap gathers its [C] rows one output cell at a time.
//
// This runs 5-8× faster than ConvGeneral on the Go backend (TestDepthwiseMatchesConvGeneral
// checks the values). The kernel is [kh, kw, C] (TF's [kh, kw, C, 1] reshaped).

// depthwiseConv computes the depthwise convolution of x [N, H, W, C] with kernel
// [kh, kw, C] under spec (its paddings and strides); the result is [N, Ho, Wo, C].
func depthwiseConv(x, kernel *Node, spec convSpec) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	n, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if spec.padTop+spec.padBottom+spec.padLeft+spec.padRight > 0 {
		x = Pad(x, ScalarZero(g, x.DType()), compute.PadAxis{},
			compute.PadAxis{Start: spec.padTop, End: spec.padBottom},
			compute.PadAxis{Start: spec.padLeft, End: spec.padRight})
		h += spec.padTop + spec.padBottom
		w += spec.padLeft + spec.padRight
	}
	ho := (h-spec.kh)/spec.sh + 1
	wo := (w-spec.kw)/spec.sw + 1
	flat := Reshape(x, n*h*w, c)
	if spec.sh == 1 && spec.sw == 1 {
		// q rows cover every valid output cell's row index (the last one is q−1).
		q := ((n-1)*h+ho-1)*w + wo
		sum := sumTaps(kernel, spec, func(i, j int) *Node { return gatherBlocks(flat, []int32{int32(i*w + j)}, q) })
		starts := make([]int32, 0, n*ho)
		for b := range n {
			for oy := range ho {
				starts = append(starts, int32((b*h+oy)*w))
			}
		}
		return Reshape(gatherBlocks(sum, starts, wo), n, ho, wo, c)
	}
	sum := sumTaps(kernel, spec, func(i, j int) *Node {
		idx := make([]int32, 0, n*ho*wo)
		for b := range n {
			for oy := range ho {
				for ox := range wo {
					idx = append(idx, int32((b*h+oy*spec.sh+i)*w+ox*spec.sw+j))
				}
			}
		}
		return gatherRows(flat, idx)
	})
	return Reshape(sum, n, ho, wo, c)
}

// sumTaps returns Σ over the kernel's taps (i, j) of taps(i, j) [R, C] × kernel[i, j, :].
func sumTaps(kernel *Node, spec convSpec, taps func(i, j int) *Node) *Node {
	c := kernel.Shape().Dimensions[2]
	var out *Node
	for i := range spec.kh {
		for j := range spec.kw {
			term := Mul(taps(i, j), Reshape(Slice(kernel, AxisElem(i), AxisElem(j)), 1, c))
			if out == nil {
				out = term
			} else {
				out = Add(out, term)
			}
		}
	}
	return out
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
