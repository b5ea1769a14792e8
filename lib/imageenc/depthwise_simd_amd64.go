//go:build goexperiment.simd && amd64

package imageenc

import "simd/archsimd"

var (
	hasAVX512 = archsimd.X86.AVX512()
	hasAVX2   = archsimd.X86.AVX2() && archsimd.X86.FMA()
)

// depthwisePixel is depthwisePixelGo with 16 (AVX-512) or 8 (AVX2 + FMA) channels in one
// register across every tap; the last channels that fill no register run in plain Go.
func depthwisePixel(dst, x, kernel, bias []float32, taps []int, relu bool) {
	c := len(dst)
	ch := 0
	if hasAVX512 {
		zero := archsimd.BroadcastFloat32x16(0)
		for ; ch+16 <= c; ch += 16 {
			acc := zero
			if bias != nil {
				acc = archsimd.LoadFloat32x16(bias[ch : ch+16])
			}
			for t := 0; t < len(taps); t += 2 {
				xo, ko := taps[t]+ch, taps[t+1]+ch
				acc = archsimd.LoadFloat32x16(x[xo:xo+16]).MulAdd(archsimd.LoadFloat32x16(kernel[ko:ko+16]), acc)
			}
			if relu {
				acc = acc.Max(zero)
			}
			acc.Store(dst[ch : ch+16])
		}
	}
	if hasAVX2 {
		zero := archsimd.BroadcastFloat32x8(0)
		for ; ch+8 <= c; ch += 8 {
			acc := zero
			if bias != nil {
				acc = archsimd.LoadFloat32x8(bias[ch : ch+8])
			}
			for t := 0; t < len(taps); t += 2 {
				xo, ko := taps[t]+ch, taps[t+1]+ch
				acc = archsimd.LoadFloat32x8(x[xo:xo+8]).MulAdd(archsimd.LoadFloat32x8(kernel[ko:ko+8]), acc)
			}
			if relu {
				acc = acc.Max(zero)
			}
			acc.Store(dst[ch : ch+8])
		}
	}
	if ch < c {
		var b []float32
		if bias != nil {
			b = bias[ch:]
		}
		depthwisePixelGo(dst[ch:], x[ch:], kernel[ch:], b, taps, relu) // slicing x and kernel shifts every tap
	}
}
