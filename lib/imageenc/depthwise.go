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
// kh×kw window taps: each tap is one Gather of the [N·Ho·Wo, C] rows it reads from the
// zero-padded input (whole channel rows are copied at once), scaled per channel by the
// kernel's tap and added. The kernel is [kh, kw, C] (TF's [kh, kw, C, 1] reshaped).

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
	var out *Node
	for i := range spec.kh {
		for j := range spec.kw {
			tap := Reshape(Slice(kernel, AxisElem(i), AxisElem(j)), 1, c)
			idx := make([]int32, 0, n*ho*wo)
			for b := range n {
				for oy := range ho {
					for ox := range wo {
						idx = append(idx, int32((b*h+oy*spec.sh+i)*w+ox*spec.sw+j))
					}
				}
			}
			term := Mul(gatherRows(flat, idx), tap)
			if out == nil {
				out = term
			} else {
				out = Add(out, term)
			}
		}
	}
	return Reshape(out, n, ho, wo, c)
}

// gatherRows returns the rows idx (increasing) of the matrix flat [R, D]: [len(idx), D].
func gatherRows(flat *Node, idx []int32) *Node {
	d := flat.Shape().Dimensions[1]
	starts := Const(flat.Graph(), tensors.FromFlatDataAndDimensions(idx, len(idx), 1))
	return BackendGather(flat, starts, 1, []int{1}, []int{0}, []int{0}, []int{1, d}, true)
}
