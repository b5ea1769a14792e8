//go:build !(goexperiment.simd && amd64)

package imageenc

// depthwisePixel is depthwisePixelGo where the SIMD version is not built.
func depthwisePixel(dst, x, kernel, bias []float32, taps []int, relu bool) {
	depthwisePixelGo(dst, x, kernel, bias, taps, relu)
}
