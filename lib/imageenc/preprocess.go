package imageenc

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Preprocessing reproduces, value for value, what the reference frameworks feed their
// networks, so features computed here match theirs:
//   - PreprocessImageNet: torchvision's Resize(256) + CenterCrop(224) + ToTensor +
//     Normalize(ImageNet mean, std) on a PIL image (PIL's antialiased bilinear resampling
//     with its 8-bit fixed-point arithmetic), NCHW float32.
//   - PreprocessNSFWJS: nsfwjs' infer(): pixels / 255, then tf.image.resizeBilinear to
//     299×299 with alignCorners=true, HWC float32.
// Alpha, where present, is dropped (as PIL's convert("RGB") and a canvas' RGB channels do).

// ImageNet preprocessing constants (torchvision's ImageNet weights).
const (
	ImageNetResize = 256
	ImageNetCrop   = 224
)

// ImageNetMean and ImageNetStd are the per-channel normalisation of torchvision's
// ImageNet models (RGB order).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// NSFWJSSize is the side of nsfwjs' InceptionV3 input.
const NSFWJSSize = 299

// rgb8 returns the image's 8-bit RGB pixels, row-major HWC, with alpha dropped.
func rgb8(img image.Image) (w, h int, pix []uint8) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	pix = make([]uint8, 3*w*h)
	switch im := img.(type) {
	case *image.RGBA:
		for y := range h {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			out := pix[3*w*y:]
			for x := range w {
				r, g, bl, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 255 && a != 0 {
					// Premultiplied: recover the straight colour as NRGBA does.
					r, g, bl = unpremul(r, a), unpremul(g, a), unpremul(bl, a)
				}
				out[3*x], out[3*x+1], out[3*x+2] = r, g, bl
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			out := pix[3*w*y:]
			for x := range w {
				out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Gray:
		for y := range h {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			out := pix[3*w*y:]
			for x := range w {
				out[3*x], out[3*x+1], out[3*x+2] = row[x], row[x], row[x]
			}
		}
	case *image.YCbCr:
		for y := range h {
			out := pix[3*w*y:]
			for x := range w {
				yi := im.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := im.COffset(b.Min.X+x, b.Min.Y+y)
				out[3*x], out[3*x+1], out[3*x+2] = color.YCbCrToRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
			}
		}
	default:
		for y := range h {
			out := pix[3*w*y:]
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				out[3*x], out[3*x+1], out[3*x+2] = c.R, c.G, c.B
			}
		}
	}
	return w, h, pix
}

func unpremul(c, a uint8) uint8 {
	// As color.NRGBAModel: (c·0xffff / a) >> 8 on 16-bit values.
	c16, a16 := uint32(c)*0x101, uint32(a)*0x101
	return uint8((c16 * 0xffff / a16) >> 8)
}

// PreprocessNSFWJS returns the 299×299×3 input nsfwjs feeds its InceptionV3 for img (HWC,
// values in 0..1): pixels / 255, then bilinear resize with align_corners, as
// tf.image.resizeBilinear(alignCorners=true) computes it on TF.js' CPU backend (source
// coordinates and interpolation in float64, results stored as float32). The reference
// values of ../shared/reference/inceptionv3 match this to float32 precision; XNNPACK (TF.js
// wasm) computes the coordinates in float32, which moves inputs by about 1e-6.
func PreprocessNSFWJS(img image.Image) []float32 {
	w, h, pix := rgb8(img)
	out := make([]float32, NSFWJSSize*NSFWJSSize*3)
	resizeBilinearAlignCorners(pix, w, h, out, NSFWJSSize, NSFWJSSize)
	return out
}

// resizeBilinearAlignCorners resizes an 8-bit HWC RGB image to outW×outH float32 values
// (pixels / 255) as tf.image.resizeBilinear(x / 255, [outH, outW], true).
func resizeBilinearAlignCorners(pix []uint8, w, h int, out []float32, outW, outH int) {
	resizeBilinearTF(pix, w, h, out, outW, outH, 255, true)
}

// resizeBilinearTF resizes an 8-bit HWC RGB image to outW×outH float32 values as
// tf.image.resizeBilinear(x / div, [outH, outW], alignCorners) on TF.js' CPU backend
// (half_pixel_centers false).
func resizeBilinearTF(pix []uint8, w, h int, out []float32, outW, outH int, div float32, alignCorners bool) {
	norm := make([]float32, len(pix))
	for i, v := range pix {
		norm[i] = float32(v) / div
	}
	// TF.js: effective sizes (in-1)/(out-1) with alignCorners and out > 1, else in/out.
	scale := func(in, out int) float64 {
		if alignCorners && out > 1 {
			return float64(in-1) / float64(out-1)
		}
		return float64(in) / float64(out)
	}
	hScale, wScale := scale(h, outH), scale(w, outW)
	type tap struct {
		lo, hi int
		frac   float64
	}
	cols := make([]tap, outW)
	for c := range cols {
		src := wScale * float64(c)
		lo := int(math.Floor(src))
		cols[c] = tap{lo, min(w-1, int(math.Ceil(src))), src - float64(lo)}
	}
	for r := range outH {
		src := hScale * float64(r)
		top := int(math.Floor(src))
		bottom := min(h-1, int(math.Ceil(src)))
		rowFrac := src - float64(top)
		topRow, bottomRow := norm[3*w*top:], norm[3*w*bottom:]
		o := out[3*outW*r:]
		for c, t := range cols {
			for d := range 3 {
				tl, tr := float64(topRow[3*t.lo+d]), float64(topRow[3*t.hi+d])
				bl, br := float64(bottomRow[3*t.lo+d]), float64(bottomRow[3*t.hi+d])
				topV := tl + (tr-tl)*t.frac
				bottomV := bl + (br-bl)*t.frac
				o[3*c+d] = float32(topV + (bottomV-topV)*rowFrac)
			}
		}
	}
}

// PreprocessImageNet returns the 3×224×224 input (NCHW order, one image) that torchvision's
// standard ImageNet evaluation transform gives for img: Resize(256) (shorter side to 256,
// PIL bilinear with antialiasing), CenterCrop(224), ToTensor (/255), Normalize(mean, std).
func PreprocessImageNet(img image.Image) []float32 {
	w, h, pix := rgb8(img)
	// torchvision: new_short = 256, new_long = int(256 * long / short).
	nw, nh := ImageNetResize, ImageNetResize
	if w <= h {
		nh = int(float64(ImageNetResize) * float64(h) / float64(w))
	} else {
		nw = int(float64(ImageNetResize) * float64(w) / float64(h))
	}
	resized := pilResizeBilinear(pix, w, h, nw, nh)
	// torchvision's center_crop: int(round((size - crop) / 2.0)), Python's round-half-even.
	top := int(math.RoundToEven(float64(nh-ImageNetCrop) / 2))
	left := int(math.RoundToEven(float64(nw-ImageNetCrop) / 2))
	const plane = ImageNetCrop * ImageNetCrop
	out := make([]float32, 3*plane)
	for y := range ImageNetCrop {
		row := resized[3*(nw*(top+y)+left):]
		for x := range ImageNetCrop {
			for c := range 3 {
				v := float32(row[3*x+c]) / 255
				out[c*plane+y*ImageNetCrop+x] = (v - ImageNetMean[c]) / ImageNetStd[c]
			}
		}
	}
	return out
}

// ImageNetInput preprocesses a batch with PreprocessImageNet into one N×3×224×224 slice.
func ImageNetInput(imgs []image.Image) ([]float32, error) {
	const size = 3 * ImageNetCrop * ImageNetCrop
	out := make([]float32, 0, len(imgs)*size)
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("image %d of the batch is empty", i)
		}
		out = append(out, PreprocessImageNet(img)...)
	}
	return out, nil
}

// pilPrecisionBits is PIL's fixed-point precision for 8-bit resampling (Resample.c).
const pilPrecisionBits = 32 - 8 - 2

// pilResizeBilinear reproduces PIL's Image.resize(size, BILINEAR) on an 8-bit RGB image
// (Resample.c: separable, antialiased when shrinking, 8-bit fixed-point coefficients, a
// horizontal pass then a vertical pass, each rounded and clipped to 8 bits).
func pilResizeBilinear(pix []uint8, w, h, outW, outH int) []uint8 {
	if outW == w && outH == h {
		return pix
	}
	boundsH, kH, ksizeH := pilCoeffs(w, outW)
	boundsV, kV, ksizeV := pilCoeffs(h, outH)
	// Only rows ybFirst..ybLast of the source are needed by the vertical pass.
	ybFirst := boundsV[0]
	ybLast := boundsV[2*outH-2] + boundsV[2*outH-1]
	src, srcW, srcH := pix, w, h
	if outW != w {
		tmpH := ybLast - ybFirst
		tmp := make([]uint8, 3*outW*tmpH)
		for yy := range tmpH {
			in := pix[3*w*(yy+ybFirst):]
			o := tmp[3*outW*yy:]
			for xx := range outW {
				xmin, n := boundsH[2*xx], boundsH[2*xx+1]
				k := kH[xx*ksizeH:]
				ss0, ss1, ss2 := int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1))
				for x := range n {
					p := in[3*(x+xmin):]
					ss0 += int32(p[0]) * k[x]
					ss1 += int32(p[1]) * k[x]
					ss2 += int32(p[2]) * k[x]
				}
				o[3*xx], o[3*xx+1], o[3*xx+2] = pilClip8(ss0), pilClip8(ss1), pilClip8(ss2)
			}
		}
		for i := range outH {
			boundsV[2*i] -= ybFirst
		}
		src, srcW, srcH = tmp, outW, tmpH
	}
	if outH == h && ybFirst == 0 && srcH == outH {
		return src
	}
	out := make([]uint8, 3*srcW*outH)
	for yy := range outH {
		ymin, n := boundsV[2*yy], boundsV[2*yy+1]
		k := kV[yy*ksizeV:]
		o := out[3*srcW*yy:]
		for xx := range srcW {
			ss0, ss1, ss2 := int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1))
			for y := range n {
				p := src[3*(srcW*(y+ymin)+xx):]
				ss0 += int32(p[0]) * k[y]
				ss1 += int32(p[1]) * k[y]
				ss2 += int32(p[2]) * k[y]
			}
			o[3*xx], o[3*xx+1], o[3*xx+2] = pilClip8(ss0), pilClip8(ss1), pilClip8(ss2)
		}
	}
	return out
}

// pilCoeffs is PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter
// (support 1) resizing inSize to outSize: per output index, the first source index and
// the number of taps (bounds), and ksize fixed-point weights.
func pilCoeffs(inSize, outSize int) (bounds []int, kk []int32, ksize int) {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1.0)
	support := 1.0 * filterScale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	k := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1.0 / filterScale
		xmin := max(int(center-support+0.5), 0) // C's (int) truncates toward zero, as Go does
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := range xmax {
			t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			wt := 0.0
			if t < 1 {
				wt = 1 - t
			}
			k[x] = wt
			ww += wt
		}
		for x := range xmax {
			if ww != 0 {
				k[x] /= ww
			}
		}
		for x := range ksize {
			v := 0.0
			if x < xmax {
				v = k[x]
			}
			if v < 0 {
				kk[xx*ksize+x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				kk[xx*ksize+x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

func pilClip8(in int32) uint8 {
	if in >= 1<<pilPrecisionBits<<8 {
		return 255
	}
	if in <= 0 {
		return 0
	}
	return uint8(in >> pilPrecisionBits)
}
