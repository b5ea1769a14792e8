package search

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // GIF photos are indexed (first frame).
	"image/png"
	"os"
	"path/filepath"

	"github.com/rwcarlsen/goexif/exif"
	_ "golang.org/x/image/webp" // WebP photos are indexed.

	"github.com/withsense/withsense/lib/dataset"
)

// DefaultMaxPixels is the largest photo (width × height) an index decodes: 100
// megapixels, above any phone camera's photo, is 400 MB of RGBA pixels. A file claiming
// more is a decompression bomb or not a photo, and is skipped.
const DefaultMaxPixels = 100_000_000

// photoExts are the file endings an index takes from a folder.
var photoExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true}

// checkDims reads only the header of an image file's bytes and rejects an unknown format
// or more than maxPixels pixels, before any pixel is decoded.
func checkDims(name string, data []byte, maxPixels int) (image.Config, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return cfg, fmt.Errorf("%s: not a JPEG, PNG, GIF or WebP image (%v)", name, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return cfg, fmt.Errorf("%s: empty %s image (%dx%d)", name, format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > int64(maxPixels) {
		return cfg, fmt.Errorf("%s: %dx%d %s is %d pixels, over the limit of %d pixels", name, cfg.Width, cfg.Height, format, px, maxPixels)
	}
	return cfg, nil
}

// Orientation returns the EXIF orientation (1..8) of a photo's bytes; 1 (as stored) when
// there is no EXIF block, no orientation tag, or a value outside 1..8, as browsers do.
func Orientation(data []byte) int {
	x, err := exif.Decode(bytes.NewReader(data))
	if err != nil {
		return 1
	}
	tag, err := x.Get(exif.Orientation)
	if err != nil {
		return 1
	}
	o, err := tag.Int(0)
	if err != nil || o < 1 || o > 8 {
		return 1
	}
	return o
}

// Orient returns the image as a viewer shows it for an EXIF orientation (1..8): the
// orientations 5 to 8 swap width and height.
func Orient(src *image.RGBA, orientation int) *image.RGBA {
	if orientation <= 1 || orientation > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	// from maps a pixel of the result to the pixel of src it shows.
	var from func(x, y int) (int, int)
	dw, dh := w, h
	switch orientation {
	case 2: // mirrored
		from = func(x, y int) (int, int) { return w - 1 - x, y }
	case 3: // upside down
		from = func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4: // mirrored upside down
		from = func(x, y int) (int, int) { return x, h - 1 - y }
	case 5: // transposed
		from = func(x, y int) (int, int) { return y, x }
	case 6: // turned 90° clockwise to view
		from = func(x, y int) (int, int) { return y, h - 1 - x }
	case 7: // transversed
		from = func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8: // turned 90° counter-clockwise to view
		from = func(x, y int) (int, int) { return w - 1 - y, x }
	}
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			sx, sy := from(x, y)
			si := src.PixOffset(b.Min.X+sx, b.Min.Y+sy)
			copy(dst.Pix[dst.PixOffset(x, y):][:4], src.Pix[si:si+4])
		}
	}
	return dst
}

// preparePhotoFile is preparePhoto for a file, read again (the index reads each new
// photo twice: once to hash it while scanning, once to embed it, so that only a batch of
// photos is ever held decoded).
func preparePhotoFile(path, hash string, maxPixels int, tmp string) (string, int, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0, err
	}
	return preparePhoto(path, data, hash, maxPixels, tmp)
}

// preparePhoto checks a photo file's bytes (size before decoding, then a full decode)
// and returns the file to embed: path itself, or for a photo stored turned (EXIF
// orientation other than 1) a PNG of the photo as viewers show it, written into tmp.
// It also returns the shown width and height.
func preparePhoto(path string, data []byte, hash string, maxPixels int, tmp string) (string, int, int, error) {
	if _, err := checkDims(path, data, maxPixels); err != nil {
		return "", 0, 0, err
	}
	img, err := dataset.DecodeImage(path, data)
	if err != nil {
		return "", 0, 0, err
	}
	o := Orientation(data)
	if o == 1 {
		return path, img.Bounds().Dx(), img.Bounds().Dy(), nil
	}
	img = Orient(img, o)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return "", 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	out := filepath.Join(tmp, hash+".png")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", 0, 0, err
	}
	return out, img.Bounds().Dx(), img.Bounds().Dy(), nil
}
