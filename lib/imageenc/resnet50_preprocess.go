package imageenc

import (
	"fmt"
	"image"
	"image/draw"
	"math"
)

// ImageNet preprocessing of the torchvision / ONNX model zoo ResNet50: resize the shorter
// side to ImageNetResize, cut the centred ImageNetCrop square, scale to 0..1 and normalise
// each channel with ImageNetMean and ImageNetStd.
const (
	ImageNetResize = 256
	ImageNetCrop   = 224
)

// ImageNetMean and ImageNetStd are the per-channel (R, G, B) statistics of ImageNet.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// ImageNetInput turns images into the NCHW float32 input of an ImageNet classifier
// (len(imgs)×3×224×224 values), as torchvision's Resize(256, antialias=True),
// CenterCrop(224), ToTensor() and Normalize(mean, std) do it on a tensor: the resize is
// separable bilinear with an antialiasing triangle filter widened by the downscale factor
// (Pillow's and torch's algorithm), computed in float without intermediate rounding; the
// longer side becomes int(256·long/short); the crop offset is Python's round((size-224)/2)
// (half to even). Pillow's own resize rounds to 8 bits between its two passes, which moves
// values by at most one grey level. Alpha is ignored; grey and CMYK images are converted
// to RGB first. An empty image is an error that names its index.
func ImageNetInput(imgs []image.Image) ([]float32, error) {
	const plane = ImageNetCrop * ImageNetCrop
	out := make([]float32, len(imgs)*3*plane)
	for i, img := range imgs {
		if err := imageNetInto(out[i*3*plane:(i+1)*3*plane], img); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
	}
	return out, nil
}

// imageNetInto writes one preprocessed image (3×224×224, channel-major) into dst.
func imageNetInto(dst []float32, img image.Image) error {
	if img == nil {
		return fmt.Errorf("nil image")
	}
	rgb, w, h := rgbBytes(img)
	if w == 0 || h == 0 {
		return fmt.Errorf("empty %d×%d image", w, h)
	}
	// Output size of the resize: the shorter side becomes 256 (torchvision's _compute_resized_output_size).
	ow, oh := ImageNetResize, ImageNetResize
	if w < h {
		oh = int(float64(ImageNetResize) * float64(h) / float64(w))
	} else if h < w {
		ow = int(float64(ImageNetResize) * float64(w) / float64(h))
	}
	top := roundHalfEven(float64(oh-ImageNetCrop) / 2)
	left := roundHalfEven(float64(ow-ImageNetCrop) / 2)
	cols := resizeWeights(w, ow, left, ImageNetCrop)
	rows := resizeWeights(h, oh, top, ImageNetCrop)

	// Horizontal pass over the rows the vertical pass needs: tmp[y][x][c] for the 224 crop columns.
	yLo, yHi := rows[0].first, 0
	for _, r := range rows {
		yLo = min(yLo, r.first)
		yHi = max(yHi, r.first+len(r.w))
	}
	tmp := make([]float64, (yHi-yLo)*ImageNetCrop*3)
	for y := yLo; y < yHi; y++ {
		src := rgb[y*w*3 : (y+1)*w*3]
		row := tmp[(y-yLo)*ImageNetCrop*3:]
		for x, c := range cols {
			var r, g, b float64
			for k, wk := range c.w {
				p := src[(c.first+k)*3:]
				r += wk * float64(p[0])
				g += wk * float64(p[1])
				b += wk * float64(p[2])
			}
			row[x*3], row[x*3+1], row[x*3+2] = r, g, b
		}
	}
	// Vertical pass, then 0..1 scaling and normalisation into channel planes.
	const plane = ImageNetCrop * ImageNetCrop
	for y, rw := range rows {
		for x := range ImageNetCrop {
			var acc [3]float64
			for k, wk := range rw.w {
				p := tmp[((rw.first+k-yLo)*ImageNetCrop+x)*3:]
				acc[0] += wk * p[0]
				acc[1] += wk * p[1]
				acc[2] += wk * p[2]
			}
			for c := range 3 {
				v := float32(acc[c] / 255) // torch's resize keeps floats: no clamping needed for convex weights
				dst[c*plane+y*ImageNetCrop+x] = (v - ImageNetMean[c]) / ImageNetStd[c]
			}
		}
	}
	return nil
}

// resampleTaps are the input positions and weights of one output pixel.
type resampleTaps struct {
	first int
	w     []float64
}

// resizeWeights returns the taps of output pixels start..start+n-1 of a resize from in to
// out pixels: bilinear (triangle) filter, support widened by the scale when shrinking,
// weights normalised to sum 1 (Pillow's precompute_coeffs, torch's _upsample_bilinear2d_aa).
func resizeWeights(in, out, start, n int) []resampleTaps {
	scale := float64(in) / float64(out)
	filterScale := max(scale, 1)
	support := filterScale // bilinear support 1.0, times the filter scale
	taps := make([]resampleTaps, n)
	for i := range n {
		center := (float64(start+i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		w := make([]float64, hi-lo)
		var sum float64
		for k := range w {
			x := (float64(lo+k) - center + 0.5) / filterScale
			w[k] = max(0, 1-math.Abs(x))
			sum += w[k]
		}
		for k := range w {
			w[k] /= sum
		}
		taps[i] = resampleTaps{first: lo, w: w}
	}
	return taps
}

// roundHalfEven is Python 3's round() for the crop offset.
func roundHalfEven(x float64) int { return int(math.RoundToEven(x)) }

// rgbBytes returns the image's pixels as packed 8-bit RGB rows starting at its origin.
// Non-RGBA images (grey, CMYK, YCbCr, paletted) are converted through image/draw;
// NRGBA keeps its colour values (alpha dropped, as Pillow's convert("RGB") does).
func rgbBytes(img image.Image) (rgb []byte, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	rgb = make([]byte, w*h*3)
	var pix []byte
	var stride int
	switch m := img.(type) {
	case *image.RGBA:
		pix, stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
	case *image.NRGBA:
		pix, stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
	default:
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(c, c.Bounds(), img, b.Min, draw.Src)
		pix, stride = c.Pix, c.Stride
	}
	for y := range h {
		row := pix[y*stride:]
		for x := range w {
			copy(rgb[(y*w+x)*3:(y*w+x)*3+3], row[x*4:x*4+3])
		}
	}
	return rgb, w, h
}
