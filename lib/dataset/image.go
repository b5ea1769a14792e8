package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // JPEG is the dataset's format.
	_ "image/png"  // PNG is accepted for user folders.
	"io"
	"os"
)

// LoadImage decodes a JPEG or PNG file into 8-bit RGB(A) pixels: grayscale, CMYK and
// YCbCr images are converted, so encoders always see three colour channels. A truncated or
// corrupt file, an unknown format or an empty image gets an error naming the file.
func LoadImage(path string) (*image.RGBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeImage(path, data)
}

// DecodeImage is LoadImage for bytes already read; name is used in error messages.
func DecodeImage(name string, data []byte) (*image.RGBA, error) {
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		switch {
		case errors.Is(err, image.ErrFormat):
			return nil, fmt.Errorf("%s: not a JPEG or PNG image", name)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%s: truncated image (%d bytes): %v", name, len(data), err)
		default:
			return nil, fmt.Errorf("%s: corrupt image: %v", name, err)
		}
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("%s: empty %s image (%dx%d)", name, format, b.Dx(), b.Dy())
	}
	if rgba, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) {
		return rgba, nil
	}
	// draw converts YCbCr, Gray and CMYK (Adobe JPEGs) to RGB with the standard library's
	// conversions; alpha, where present, is composited on black as encoders ignore it.
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out, nil
}
