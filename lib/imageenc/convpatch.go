package imageenc

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"
)

// Convolutions as matrix products. The Go backend's ConvGeneral runs at about 1-2.5
// GFLOP/s on this project's machines while its matmul (DotGeneral, FusedDense) reaches
// 40-150 GFLOP/s, and its Slice copies element by element; so a convolution is built here
// as one Gather of contiguous rows (im2col: each output pixel gets its kh×kw×C input
// window, kw×C values per Gather slice, copied with memmove) followed by one fused
// matmul + bias + ReLU. A 1×1 convolution is the matmul alone.

// convSpec is one 2-D convolution in NHWC layout, kernel [kh, kw, cin, cout].
type convSpec struct {
	kh, kw, sh, sw int
	// padTop, padBottom, padLeft, padRight are zero paddings.
	padTop, padBottom, padLeft, padRight int
}

// convPadding returns Keras' paddings for "valid" or "same" (TF's rule: total padding
// max(k - s, 0) when size % s == 0, extra on the bottom/right).
func convPadding(padding string, size, k, s int) (before, after int, err error) {
	switch padding {
	case "valid":
		return 0, 0, nil
	case "same":
		var total int
		if size%s == 0 {
			total = max(k-s, 0)
		} else {
			total = max(k-size%s, 0)
		}
		return total / 2, total - total/2, nil
	}
	return 0, 0, fmt.Errorf("padding %q not supported", padding)
}

// im2col returns the patches of x [N, H, W, C] for spec: [N, Ho, Wo, kh·kw·C], the
// window's values in (row, column, channel) order, matching a kernel [kh, kw, C, cout]
// reshaped to [kh·kw·C, cout].
func im2col(x *Node, spec convSpec) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	n, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if spec.kh == 1 && spec.kw == 1 && spec.sh == 1 && spec.sw == 1 &&
		spec.padTop+spec.padBottom+spec.padLeft+spec.padRight == 0 {
		return x
	}
	if spec.padTop+spec.padBottom+spec.padLeft+spec.padRight > 0 {
		x = Pad(x, ScalarZero(g, x.DType()), compute.PadAxis{},
			compute.PadAxis{Start: spec.padTop, End: spec.padBottom},
			compute.PadAxis{Start: spec.padLeft, End: spec.padRight})
		h += spec.padTop + spec.padBottom
		w += spec.padLeft + spec.padRight
	}
	ho := (h-spec.kh)/spec.sh + 1
	wo := (w-spec.kw)/spec.sw + 1
	// Rows of the flattened [N·H·W, C] input where each window row starts: the kw pixels
	// of a window row are contiguous, so one Gather slice [kw, C] copies them at once.
	idx := make([]int32, 0, n*ho*wo*spec.kh)
	for b := range n {
		for oy := range ho {
			for ox := range wo {
				for i := range spec.kh {
					idx = append(idx, int32((b*h+oy*spec.sh+i)*w+ox*spec.sw))
				}
			}
		}
	}
	flat := Reshape(x, n*h*w, c)
	starts := Const(g, tensors.FromFlatDataAndDimensions(idx, len(idx), 1))
	patches := BackendGather(flat, starts, 1, []int{1, 2}, nil, []int{0}, []int{spec.kw, c}, true)
	return Reshape(patches, n, ho, wo, spec.kh*spec.kw*c)
}

// conv2D computes relu?(conv(x, kernel) + bias) with kernel as [kh·kw·C, cout] (see
// im2col) and bias [cout] or nil.
func conv2D(x *Node, spec convSpec, kernel, bias *Node, relu bool) *Node {
	act := activation.TypeNone
	if relu {
		act = activation.TypeRelu
	}
	return nn.Dense(im2col(x, spec), kernel, bias, compute.DenseLayoutInputOutputs, act)
}

// windowPool computes a max or mean pool with a kh×kw window and strides sh, sw over x
// [N, H, W, C]; with "same" padding the mean excludes the padding (as Keras/TF do). It
// avoids the Go backend's ReduceWindow (element by element, slow): each of the kh·kw window
// taps is gathered as a strided [N, Ho, Wo, C] view, and the taps are combined with
// element-wise Max or Add.
func windowPool(x *Node, isMax bool, kh, kw, sh, sw int, padding string) (*Node, error) {
	g := x.Graph()
	dims := x.Shape().Dimensions
	n, h, w, c := dims[0], dims[1], dims[2], dims[3]
	top, bottom, err := convPadding(padding, h, kh, sh)
	if err != nil {
		return nil, err
	}
	left, right, err := convPadding(padding, w, kw, sw)
	if err != nil {
		return nil, err
	}
	if top+bottom+left+right > 0 {
		fill := 0.0
		if isMax {
			fill = math.Inf(-1)
		}
		x = Pad(x, Scalar(g, x.DType(), fill), compute.PadAxis{},
			compute.PadAxis{Start: top, End: bottom}, compute.PadAxis{Start: left, End: right})
	}
	hp, wp := h+top+bottom, w+left+right
	ho, wo := (hp-kh)/sh+1, (wp-kw)/sw+1
	flat := Reshape(x, n*hp*wp, c)
	var out *Node
	for i := range kh {
		for j := range kw {
			idx := make([]int32, 0, n*ho*wo)
			for b := range n {
				for oy := range ho {
					for ox := range wo {
						idx = append(idx, int32((b*hp+oy*sh+i)*wp+ox*sw+j))
					}
				}
			}
			starts := Const(g, tensors.FromFlatDataAndDimensions(idx, len(idx), 1))
			tap := Reshape(BackendGather(flat, starts, 1, []int{1, 2}, nil, []int{0}, []int{1, c}, true), n, ho, wo, c)
			switch {
			case out == nil:
				out = tap
			case isMax:
				out = Max(out, tap)
			default:
				out = Add(out, tap)
			}
		}
	}
	if isMax {
		return out, nil
	}
	// Divide by the number of window cells inside the unpadded input.
	inv := make([]float32, ho*wo)
	for oy := range ho {
		for ox := range wo {
			rows := min(oy*sh+kh, top+h) - max(oy*sh, top)
			cols := min(ox*sw+kw, left+w) - max(ox*sw, left)
			inv[oy*wo+ox] = 1 / float32(rows*cols)
		}
	}
	return Mul(out, Const(g, tensors.FromFlatDataAndDimensions(inv, 1, ho, wo, 1))), nil
}

// gatherRows returns the rows idx (increasing) of the matrix flat [R, D]: [len(idx), D].
func gatherRows(flat *Node, idx []int32) *Node {
	d := flat.Shape().Dimensions[1]
	starts := Const(flat.Graph(), tensors.FromFlatDataAndDimensions(idx, len(idx), 1))
	return Reshape(BackendGather(flat, starts, 1, []int{1, 2}, nil, []int{0}, []int{1, d}, true), len(idx), d)
}
