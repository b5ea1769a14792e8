package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/imageenc"
)

// fakeEmbedder stands in for the neural encoders: a photo's "vector" is its decoded
// width, height and the colour of its top-left pixel, so tests can see what was decoded.
type fakeEmbedder struct {
	files  []string // every file embedded, in order
	failOn int      // fail the failOn-th call (1-based); 0: never
	calls  int
}

func (f *fakeEmbedder) Encoders() []string { return []string{"fake"} }

func (f *fakeEmbedder) Embed(paths []string) (map[string][][]float32, []imageenc.NSFWScores, error) {
	f.calls++
	if f.calls == f.failOn {
		return nil, nil, errors.New("injected failure")
	}
	var vecs [][]float32
	for _, p := range paths {
		img, err := dataset.LoadImage(p)
		if err != nil {
			return nil, nil, err
		}
		r, g, b, _ := img.At(0, 0).RGBA()
		vecs = append(vecs, []float32{float32(img.Bounds().Dx()), float32(img.Bounds().Dy()), float32(r >> 8), float32(g >> 8), float32(b >> 8)})
		f.files = append(f.files, p)
	}
	return map[string][][]float32{"fake": vecs}, make([]imageenc.NSFWScores, len(paths)), nil
}

// halves is a w×h image whose left half is red and right half blue.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withOrientation inserts an EXIF block with one Orientation tag after a JPEG's SOI
// marker, as cameras write it.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8)) // first IFD offset
	binary.Write(&tiff, binary.LittleEndian, uint16(1)) // one entry
	binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.LittleEndian, uint32(1))
	binary.Write(&tiff, binary.LittleEndian, []uint16{o, 0})
	binary.Write(&tiff, binary.LittleEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// bombPNG is a valid 1×1 PNG whose header claims w×h pixels.
func bombPNG(t testing.TB, w, h uint32) []byte {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	ihdr := data[8+8 : 8+8+13] // after the signature, the IHDR length and type
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(data[8+8+13:], crc32.ChecksumIEEE(data[8+4:8+8+13]))
	return data
}

func truncate(b []byte) []byte { return b[:len(b)/2] }

func gifBytes(t testing.TB) []byte {
	var buf bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 6, 4), []color.Color{color.RGBA{0, 255, 0, 255}})
	if err := gif.Encode(&buf, pal, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIndexIncremental(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "photos.idx")
	writeFile(t, filepath.Join(dir, "a.png"), encodePNG(t, halves(8, 4)))
	writeFile(t, filepath.Join(dir, "sub", "b.jpg"), encodeJPEG(t, halves(16, 8)))
	writeFile(t, filepath.Join(dir, "sub", "deeper", "a.png"), encodePNG(t, halves(10, 2))) // same name, other folder
	writeFile(t, filepath.Join(dir, "c.gif"), gifBytes(t))
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "d.webp"), webp)
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not a photo"))
	writeFile(t, filepath.Join(dir, "broken.jpg"), truncate(encodeJPEG(t, halves(256, 128))))

	var warnings []string
	opt := IndexOptions{BatchSize: 2, Warn: func(w string) { warnings = append(warnings, w) }}
	emb := &fakeEmbedder{}
	ix, st, err := UpdateIndex(dir, out, emb, opt)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(ix *Index) []string {
		var r []string
		for _, p := range ix.Paths {
			x, _ := filepath.Rel(dir, p)
			r = append(r, filepath.ToSlash(x))
		}
		return r
	}
	if got := strings.Join(rel(ix), " "); got != "a.png c.gif d.webp sub/b.jpg sub/deeper/a.png" {
		t.Errorf("indexed %s", got)
	}
	if st.Embedded != 5 || st.Reused != 0 || st.Skipped != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "broken.jpg: corrupt image") {
		t.Errorf("first run: %+v, warnings %q", st, warnings)
	}
	if emb.calls != 3 { // 5 photos in batches of 2
		t.Errorf("%d embedder calls, want 3", emb.calls)
	}
	// WebP decoded: the fixture is 32×32... whatever its size, it must not be zero.
	if v := ix.Vecs["fake"][2]; v[0] < 1 || v[1] < 1 {
		t.Errorf("webp vector %v", v)
	}
	if len(ix.IDs[0]) != 64 {
		t.Errorf("id %q is not a hex sha256", ix.IDs[0])
	}

	// Nothing changed: nothing read or embedded again.
	emb2 := &fakeEmbedder{}
	if _, st, err = UpdateIndex(dir, out, emb2, opt); err != nil || st.Embedded != 0 || st.Reused != 5 || emb2.calls != 0 {
		t.Errorf("unchanged folder: %+v %v, %d calls", st, err, emb2.calls)
	}

	// A changed photo, a new one, a removed one and a moved copy.
	writeFile(t, filepath.Join(dir, "a.png"), encodePNG(t, halves(12, 6)))
	writeFile(t, filepath.Join(dir, "e.png"), encodePNG(t, halves(20, 20)))
	os.Remove(filepath.Join(dir, "c.gif"))
	os.Rename(filepath.Join(dir, "sub", "b.jpg"), filepath.Join(dir, "moved.jpg"))
	emb3 := &fakeEmbedder{}
	ix, st, err = UpdateIndex(dir, out, emb3, opt)
	if err != nil {
		t.Fatal(err)
	}
	var embedded []string
	for _, f := range emb3.files {
		embedded = append(embedded, filepath.Base(f))
	}
	slices.Sort(embedded)
	if strings.Join(embedded, " ") != "a.png e.png" || st.Removed != 2 || st.Reused != 3 || st.Photos != 5 {
		t.Errorf("update embedded %v, stats %+v", embedded, st)
	}
	if got := strings.Join(rel(ix), " "); got != "a.png d.webp e.png moved.jpg sub/deeper/a.png" {
		t.Errorf("after update: %s", got)
	}
	if v := ix.Vecs["fake"][0]; v[0] != 12 || v[1] != 6 {
		t.Errorf("changed a.png still has vector %v", v)
	}
	loaded, err := LoadIndex(out)
	if err != nil || !slices.Equal(loaded.Paths, ix.Paths) || !slices.Equal(loaded.IDs, ix.IDs) {
		t.Errorf("LoadIndex: %v, %v", loaded, err)
	}
}

func TestIndexResumes(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "photos.idx")
	for i := range 7 {
		writeFile(t, filepath.Join(dir, string(rune('a'+i))+".png"), encodePNG(t, halves(4+i, 4)))
	}
	opt := IndexOptions{BatchSize: 2}
	// The third batch fails, as a killed run would stop: the first two are on disk.
	_, _, err := UpdateIndex(dir, out, &fakeEmbedder{failOn: 3}, opt)
	if err == nil || !strings.Contains(err.Error(), "4 photos stored, 3 to go: run again to resume") {
		t.Fatalf("interrupted run: %v", err)
	}
	ix, err := LoadIndex(out)
	if err != nil || len(ix.Paths) != 4 {
		t.Fatalf("checkpoint holds %v, %v", ix, err)
	}
	emb := &fakeEmbedder{}
	ix, st, err := UpdateIndex(dir, out, emb, opt)
	if err != nil || st.Reused != 4 || st.Embedded != 3 || len(emb.files) != 3 || len(ix.Paths) != 7 {
		t.Errorf("resumed run: %+v, %v, embedded %v", st, err, emb.files)
	}
}

func TestIndexBombGuard(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "photos.idx")
	writeFile(t, filepath.Join(dir, "bomb.png"), bombPNG(t, 100_000, 100_000))
	writeFile(t, filepath.Join(dir, "ok.png"), encodePNG(t, halves(8, 8)))
	var warnings []string
	ix, st, err := UpdateIndex(dir, out, &fakeEmbedder{}, IndexOptions{Warn: func(w string) { warnings = append(warnings, w) }})
	if err != nil {
		t.Fatal(err)
	}
	want := "bomb.png: 100000x100000 png is 10000000000 pixels, over the limit of 100000000 pixels"
	if len(ix.Paths) != 1 || st.Skipped != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], want) {
		t.Errorf("bomb: indexed %v, warnings %q", ix.Paths, warnings)
	}
	// A lower limit applies to ordinary photos too.
	warnings = nil
	if _, _, err := UpdateIndex(dir, filepath.Join(t.TempDir(), "x.idx"), &fakeEmbedder{}, IndexOptions{MaxPixels: 63, Warn: func(w string) { warnings = append(warnings, w) }}); err == nil ||
		!strings.Contains(err.Error(), "no JPEG, PNG, GIF or WebP photo to index (2 files skipped)") || len(warnings) != 2 {
		t.Errorf("limit 63 pixels: %v, warnings %q", err, warnings)
	}
}

func TestIndexOrientation(t *testing.T) {
	jpg := encodeJPEG(t, halves(16, 8))
	for _, tc := range []struct {
		o          uint16
		w, h       float32
		topLeftRed bool
	}{
		{1, 16, 8, true},
		{3, 16, 8, false}, // upside down: blue comes to the left
		{6, 8, 16, true},  // turned clockwise: the red left half goes to the top
		{8, 8, 16, false}, // turned counter-clockwise: the blue right half goes to the top
		{2, 16, 8, false},
		{9, 16, 8, true}, // out of range: as stored
	} {
		data := withOrientation(jpg, tc.o)
		if got := Orientation(data); got != int(min(tc.o, 9)) && !(tc.o == 9 && got == 1) {
			t.Errorf("Orientation = %d, want %d", got, tc.o)
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "p.jpg"), data)
		ix, _, err := UpdateIndex(dir, filepath.Join(t.TempDir(), "x.idx"), &fakeEmbedder{}, IndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v := ix.Vecs["fake"][0]
		if v[0] != tc.w || v[1] != tc.h || (v[2] > 128) != tc.topLeftRed {
			t.Errorf("orientation %d: embedded %v×%v, top-left rgb %v", tc.o, v[0], v[1], v[2:])
		}
	}
	if Orientation(encodePNG(t, halves(2, 2))) != 1 {
		t.Error("a PNG without EXIF is not as stored")
	}
}

func TestOrientAll(t *testing.T) {
	// A 3×2 image with distinct pixels; each orientation must put pixel (0,0) of the
	// stored image where a viewer shows it.
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		src.Pix[4*i] = byte(i)
	}
	// Where stored pixel values 0..5 (row-major) land in the viewed image, row-major.
	want := map[int]string{
		1: "0 1 2 3 4 5", 2: "2 1 0 5 4 3", 3: "5 4 3 2 1 0", 4: "3 4 5 0 1 2",
		5: "0 3 1 4 2 5", 6: "3 0 4 1 5 2", 7: "5 2 4 1 3 0", 8: "2 5 1 4 0 3",
	}
	for o := 1; o <= 8; o++ {
		dst := Orient(src, o)
		var got []string
		for i := 0; i < len(dst.Pix); i += 4 {
			got = append(got, string(rune('0'+dst.Pix[i])))
		}
		if strings.Join(got, " ") != want[o] {
			t.Errorf("orientation %d: %s, want %s", o, strings.Join(got, " "), want[o])
		}
	}
}

func TestLoadIndexErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadIndex(filepath.Join(dir, "absent.idx")); err == nil || !strings.Contains(err.Error(), "withsense index DIR") {
		t.Errorf("missing index: %v", err)
	}
	bad := filepath.Join(dir, "bad.idx")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	if _, err := LoadIndex(bad); err == nil || !strings.Contains(err.Error(), bad+": not a photo index") {
		t.Errorf("bad index: %v", err)
	}
	if _, _, err := UpdateIndex(filepath.Join(dir, "absent"), bad, &fakeEmbedder{}, IndexOptions{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing folder: %v", err)
	}
}

// TestIndexWithEncoder indexes generated photos with the real InceptionV3 encoder and
// NSFW head (when its weights are here): normalised vectors, and a photo stored turned
// (EXIF orientation 6) embeds as the same photo stored upright.
func TestIndexWithEncoder(t *testing.T) {
	const enc = "inception-mixed5"
	if _, err := imageenc.Encoders.Open(enc); err != nil {
		t.Skip(err)
	}
	if _, err := imageenc.NSFWEncoder(); err != nil {
		t.Skip(err)
	}
	upright := halves(48, 96) // red top… as a viewer shows it after turning
	stored := image.NewRGBA(image.Rect(0, 0, 96, 48))
	for y := range 48 { // stored turned 90° counter-clockwise: orientation 6 turns it back
		for x := range 96 {
			stored.Set(x, y, upright.At(47-y, x))
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "upright.png"), encodePNG(t, upright))
	writeFile(t, filepath.Join(dir, "turned.jpg"), withOrientation(encodeJPEG(t, stored), 6))
	writeFile(t, filepath.Join(dir, "sub", "upright.png"), encodePNG(t, stored)) // same name, other folder; not turned
	ix, st, err := UpdateIndex(dir, filepath.Join(t.TempDir(), "x.idx"), ModelEmbedder{Names: []string{enc}}, IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Embedded != 3 || len(ix.NSFW) != 3 {
		t.Fatalf("stats %+v", st)
	}
	vecs := ix.Vecs[enc] // paths sorted: sub/upright.png, turned.jpg, upright.png
	for i, v := range vecs {
		if n := dot32(v, v); n < 0.999 || n > 1.001 {
			t.Errorf("%s: squared norm %v", ix.Paths[i], n)
		}
	}
	turned, notTurned := dot32(vecs[1], vecs[2]), dot32(vecs[0], vecs[2])
	t.Logf("cosine with the upright photo: turned by its EXIF tag %.4f, left as stored %.4f", turned, notTurned)
	if turned < 0.995 || turned <= notTurned {
		t.Errorf("the turned photo's cosine with the upright one is %.4f, the stored pixels' %.4f", turned, notTurned)
	}
}

// slowEmbedder is fakeEmbedder taking a while per batch, so a run can be killed midway.
type slowEmbedder struct{ fakeEmbedder }

func (s *slowEmbedder) Embed(paths []string) (map[string][][]float32, []imageenc.NSFWScores, error) {
	time.Sleep(150 * time.Millisecond)
	return s.fakeEmbedder.Embed(paths)
}

// TestIndexKilled runs an indexing in a child process (this test binary), kills it with
// SIGKILL once some batches are saved, and checks that the next run embeds only what the
// file lacks: at most one batch was lost.
func TestIndexKilled(t *testing.T) {
	const batch = 3
	if dir := os.Getenv("WITH_SENSE_INDEX_CHILD"); dir != "" {
		_, _, err := UpdateIndex(dir, os.Getenv("WITH_SENSE_INDEX_FILE"), &slowEmbedder{}, IndexOptions{BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "photos.idx")
	const n = 30
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("p%02d.png", i)), encodePNG(t, halves(4+i, 4)))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIndexKilled$")
	cmd.Env = append(os.Environ(), "WITH_SENSE_INDEX_CHILD="+dir, "WITH_SENSE_INDEX_FILE="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stored := 0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ix, err := LoadIndex(out); err == nil && len(ix.Paths) >= 2*batch {
			stored = len(ix.Paths)
			break
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred code, no last write
	cmd.Wait()
	if stored == 0 {
		t.Fatal("the child saved no batch within a minute")
	}
	ix, err := LoadIndex(out)
	if err != nil {
		t.Fatalf("the index file after kill -9: %v", err)
	}
	kept := len(ix.Paths)
	if kept < stored || kept >= n {
		t.Fatalf("after the kill the file holds %d photos (saw %d before the kill, of %d)", kept, stored, n)
	}
	emb := &fakeEmbedder{}
	ix, st, err := UpdateIndex(dir, out, emb, IndexOptions{BatchSize: batch})
	if err != nil || len(ix.Paths) != n || st.Reused != kept || st.Embedded != n-kept || len(emb.files) != n-kept {
		t.Errorf("resumed run: %+v, %v; %d embedded, %d were kept", st, err, len(emb.files), kept)
	}
	t.Logf("killed with %d of %d photos stored; the resumed run embedded %d", kept, n, len(emb.files))
}
