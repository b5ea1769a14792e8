package search

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/progress"
)

func TestMain(m *testing.M) {
	progress.Quiet = true
	os.Exit(m.Run())
}

func jpegBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFolder(t *testing.T) {
	if _, err := Folder(filepath.Join(t.TempDir(), "absent")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing folder: %v", err)
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("hi"), 0o644)
	if _, err := Folder(empty); err == nil || err.Error() != "photo folder "+empty+" has no .jpg, .jpeg or .png files" {
		t.Errorf("empty folder: %v", err)
	}
	dir := t.TempDir()
	good := jpegBytes(t)
	os.WriteFile(filepath.Join(dir, "b.jpg"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "a.JPEG"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "broken.jpg"), good[:len(good)/3], 0o644)
	os.Mkdir(filepath.Join(dir, "sub.jpg"), 0o755)
	paths, err := Folder(dir)
	if err != nil || len(paths) != 3 || filepath.Base(paths[0]) != "a.JPEG" {
		t.Fatalf("Folder = %v, %v", paths, err)
	}
	var warnings []string
	ok := Readable(paths, func(w string) { warnings = append(warnings, w) })
	if len(ok) != 2 || len(warnings) != 1 || !strings.Contains(warnings[0], "broken.jpg: truncated image") {
		t.Errorf("Readable kept %v, warned %q", ok, warnings)
	}
}

func TestGuard(t *testing.T) {
	for _, tc := range []struct {
		s    imageenc.NSFWScores
		want bool
	}{
		{imageenc.NSFWScores{0, 0, 1, 0, 0}, false},
		{imageenc.NSFWScores{0, 0, 0, 0, 1}, false}, // "Sexy" alone never hides a photo
		{imageenc.NSFWScores{0, 0, 0, 1, 0}, true},
		{imageenc.NSFWScores{0, 1, 0, 0, 0}, true},
		{imageenc.NSFWScores{0, 0, 1 - GuardThreshold, GuardThreshold, 0}, false}, // at the threshold: shown
	} {
		if got := Guarded(tc.s); got != tc.want {
			t.Errorf("Guarded(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
