package imageenc

import "fmt"

// Depthwise convolution (TF's DepthwiseConv2dNative with channel multiplier 1) on the host.
// GoMLX's Go backend has no depthwise kernel: ConvGeneral with one feature group per channel
// runs element by element, and the fastest graph form found (one whole-tensor multiply and
// one shifted in-place add per kernel tap) still made two memory passes per tap, over half
// of CenterNet's time. A depthwise convolution reads each input value kh·kw times from
// cache-resident rows and needs no matrix product, so it is computed here directly: for each
// output pixel and each group of 16 (AVX-512) or 8 (AVX2) channels, the kernel taps are
// accumulated in one register with fused multiply-adds (depthwise_simd_amd64.go; other
// machines run the same loop in plain Go), bias and ReLU applied before the one store.
// CenterNet runs its graph in stages between these convolutions (centernet_stages.go).

// depthwiseArgs is one depthwise convolution: input [n, h, w, c] (NHWC), kernel [kh, kw, c],
// an optional bias [c] and ReLU, and spec's strides and zero paddings.
type depthwiseArgs struct {
	n, h, w, c int
	kernel     []float32
	bias       []float32 // nil: none
	relu       bool
	spec       convSpec
}

// outSize returns the output's height and width.
func (a *depthwiseArgs) outSize() (ho, wo int) {
	s := a.spec
	return (a.h+s.padTop+s.padBottom-s.kh)/s.sh + 1, (a.w+s.padLeft+s.padRight-s.kw)/s.sw + 1
}

// depthwiseHost computes the depthwise convolution of x (a.n·a.h·a.w·a.c values) into a new
// [n, ho, wo, c] slice.
func depthwiseHost(x []float32, a depthwiseArgs) ([]float32, error) {
	ho, wo := a.outSize()
	out := make([]float32, a.n*max(ho, 0)*max(wo, 0)*a.c)
	return out, depthwiseInto(out, x, a)
}

// depthwiseInto computes the depthwise convolution of x (a.n·a.h·a.w·a.c values) into out
// ([n, ho, wo, c], every value written).
func depthwiseInto(out, x []float32, a depthwiseArgs) error {
	s := a.spec
	if len(x) != a.n*a.h*a.w*a.c || len(a.kernel) != s.kh*s.kw*a.c || (a.bias != nil && len(a.bias) != a.c) ||
		s.sh < 1 || s.sw < 1 {
		return fmt.Errorf("depthwise convolution: %d input values for [%d, %d, %d, %d], kernel %d values for %d×%d×%d, bias %d, strides %d×%d",
			len(x), a.n, a.h, a.w, a.c, len(a.kernel), s.kh, s.kw, a.c, len(a.bias), s.sh, s.sw)
	}
	ho, wo := a.outSize()
	if ho < 1 || wo < 1 {
		return fmt.Errorf("depthwise convolution: empty output %d×%d", ho, wo)
	}
	if len(out) != a.n*ho*wo*a.c {
		return fmt.Errorf("depthwise convolution: %d output values, want %d×%d×%d×%d", len(out), a.n, ho, wo, a.c)
	}
	// taps lists, for one output pixel, the offsets of the valid input pixels and of their
	// kernel taps (both in values); it is rebuilt per pixel only near the borders.
	taps := make([]int, 0, 2*s.kh*s.kw)
	for b := range a.n {
		for oy := range ho {
			for ox := range wo {
				taps = taps[:0]
				for i := range s.kh {
					iy := oy*s.sh + i - s.padTop
					if iy < 0 || iy >= a.h {
						continue
					}
					for j := range s.kw {
						ix := ox*s.sw + j - s.padLeft
						if ix < 0 || ix >= a.w {
							continue
						}
						taps = append(taps, ((b*a.h+iy)*a.w+ix)*a.c, (i*s.kw+j)*a.c)
					}
				}
				o := ((b*ho+oy)*wo + ox) * a.c
				depthwisePixel(out[o:o+a.c], x, a.kernel, a.bias, taps, a.relu)
			}
		}
	}
	return nil
}

// depthwisePixelGo is one output pixel in plain Go: dst[ch] = relu?(bias[ch] + Σ taps
// x[xo+ch]·kernel[ko+ch]), taps as pairs (xo, ko). The SIMD versions add the same terms in
// the same order, each multiply-add fused (rounded once).
func depthwisePixelGo(dst, x, kernel, bias []float32, taps []int, relu bool) {
	for ch := range dst {
		var acc float32
		if bias != nil {
			acc = bias[ch]
		}
		for t := 0; t < len(taps); t += 2 {
			acc += x[taps[t]+ch] * kernel[taps[t+1]+ch]
		}
		if relu && acc < 0 {
			acc = 0
		}
		dst[ch] = acc
	}
}
