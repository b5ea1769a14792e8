package search

import (
	"image"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/withsense/withsense/lib/dataset"
)

// FuzzQuery: any text given to the search gets an answer or an error, never a panic; an
// answer has at most k photos in rank order, a blocked one none; cleaning is idempotent.
// Run: go test -tags noxla -run '^$' -fuzz FuzzQuery -fuzztime 10s ./lib/search/
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"two dogs running through shallow water", "a boy's bike", "five-year-old", "Дети на пляже",
		"девочкой", "", " \t", "dog\x00water", "\xff\xfe", strings.Repeat("a", 1001), "goat kid", "1st-grader", "under 5 years old"} {
		f.Add(q, 3)
	}
	s := searcher()
	f.Fuzz(func(t *testing.T, q string, k int) {
		blocked, word := Blocked(q)
		if blocked && word == "" {
			t.Errorf("Blocked(%q) names no word", q)
		}
		if c, err := CheckQuery(q); err == nil {
			if c2, err := CheckQuery(c); err != nil || c2 != c {
				t.Errorf("CheckQuery not idempotent: %q → %q → %q, %v", q, c, c2, err)
			}
			if !utf8.ValidString(c) || utf8.RuneCountInString(c) > MaxQueryRunes {
				t.Errorf("CheckQuery(%q) = %q", q, c)
			}
		}
		ans, err := s.Search(q, k)
		if err != nil {
			return
		}
		if k < 1 || len(ans.Results) > k || (ans.Blocked && len(ans.Results) > 0) || ans.Blocked != blocked {
			t.Errorf("Search(%q, %d) = %+v", q, k, ans)
		}
		for i, r := range ans.Results {
			if r.Rank != i+1 || (i > 0 && r.Score > ans.Results[i-1].Score) {
				t.Errorf("Search(%q): results out of order %+v", q, ans.Results)
			}
		}
		if err := s.Explain(&ans); err != nil {
			t.Errorf("Explain(%q): %v", q, err)
		}
	})
}

// FuzzPhoto: any file bytes given to the index's photo check get a photo within the
// pixel limit or an error naming the file, never a panic or a decode past the limit.
// Run: go test -tags noxla -run '^$' -fuzz FuzzPhoto -fuzztime 10s ./lib/search/
func FuzzPhoto(f *testing.F) {
	f.Add(encodePNG(f, halves(8, 4)))
	f.Add(withOrientation(encodeJPEG(f, halves(16, 8)), 6))
	f.Add(gifBytes(f))
	f.Add(bombPNG(f, 100_000, 100_000))
	if webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp"); err == nil {
		f.Add(webp)
	}
	const limit = 1 << 20
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file, w, h, err := preparePhoto("fuzz.img", data, "fuzz", limit, tmp)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.img: ") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if w < 1 || h < 1 || w*h > limit {
			t.Errorf("accepted a %dx%d photo (limit %d pixels)", w, h, limit)
		}
		if file != "fuzz.img" { // a turned photo: the oriented copy must decode
			img, err := dataset.LoadImage(file)
			if err != nil || img.Bounds() != image.Rect(0, 0, w, h) {
				t.Errorf("oriented copy: %v, %v, want %dx%d", img.Bounds(), err, w, h)
			}
		}
	})
}
