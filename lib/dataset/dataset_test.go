package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// course loads the real archive once; the tests that need it skip only where it is absent.
func course(t *testing.T) *Course {
	t.Helper()
	dir, err := Locate()
	if errors.Is(err, ErrNotFound) {
		t.Skipf("real dataset absent: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadRealData(t *testing.T) {
	c := course(t)
	for _, tc := range []struct {
		what      string
		got, want int
	}{
		{"pairs", len(c.Pairs), 5822},
		{"expert rows", len(c.Expert), 5822},
		{"crowd rows", len(c.Crowd), 47830},
		{"test queries", len(c.TestQueries), 500},
		{"test images", len(c.TestImages), 100},
		{"train images", len(c.TrainImages), 1000},
		{"all photos", len(c.AllPhotos()), 1100},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, tc.got, tc.want)
		}
	}
	// Every referenced photo exists (Load checks it; check the files too).
	for _, p := range c.Pairs {
		if _, err := os.Stat(c.TrainPath(p.Image)); err != nil {
			t.Fatal(err)
		}
	}
	// The quoted test query keeps its inner quotes, without the CSV quoting.
	found := false
	for _, q := range c.TestQueries {
		if q.QueryID == "2714674623_8cd05ac114.jpg#1" {
			found = true
			want := `A man with a black shirt that says " Genetic Freak " is sleeping on a bus .`
			if q.Text != want {
				t.Errorf("quoted query: %q, want %q", q.Text, want)
			}
		}
	}
	if !found {
		t.Error("query 2714674623_8cd05ac114.jpg#1 missing")
	}
}

func TestSamplesAndTarget(t *testing.T) {
	c := course(t)
	s, err := c.Samples(0)
	if err != nil {
		t.Fatal(err)
	}
	own, crowd := 0, 0
	counts := map[int]int{}
	for _, x := range s {
		if x.OwnCaption() {
			own++
		}
		if !math.IsNaN(x.Crowd) {
			crowd++
		}
		for _, e := range x.Experts {
			counts[e]++
		}
		if x.Target < 0 || x.Target > 1 {
			t.Fatalf("target %v out of [0,1]", x.Target)
		}
	}
	if own != 158 || crowd != 2329 {
		t.Errorf("own captions %d (want 158), crowd-rated %d (want 2329)", own, crowd)
	}
	if counts[1] != 9797 || counts[2] != 4997 || counts[3] != 1701 || counts[4] != 971 {
		t.Errorf("score counts %v", counts)
	}
	if got := Target([3]int{1, 1, 1}); got != 0 {
		t.Errorf("Target(1,1,1) = %v", got)
	}
	if got := Target([3]int{4, 4, 4}); got != 1 {
		t.Errorf("Target(4,4,4) = %v", got)
	}
	if got := Target([3]int{1, 2, 4}); math.Abs(got-4.0/9) > 1e-12 {
		t.Errorf("Target(1,2,4) = %v, want 4/9", got)
	}
	blend, _ := c.Samples(1)
	for i := range s {
		if !math.IsNaN(s[i].Crowd) && blend[i].Target != s[i].Crowd {
			t.Fatalf("crowd weight 1: target %v, want crowd share %v", blend[i].Target, s[i].Crowd)
		}
	}
	if _, err := c.Samples(2); err == nil {
		t.Error("crowd weight 2 accepted")
	}
}

func TestCaptions(t *testing.T) {
	dir, err := LocateFlickr8k()
	if errors.Is(err, ErrNotFound) {
		t.Skip(err)
	}
	caps, err := LoadCaptions(filepath.Join(dir, Flickr8kCaption))
	if err != nil {
		t.Fatal(err)
	}
	by := CaptionsByImage(caps)
	if len(caps) != 40455 || len(by) != 8091 {
		t.Errorf("%d captions of %d photos, want 40455 of 8091", len(caps), len(by))
	}
	c := course(t)
	for _, p := range c.Pairs[:50] {
		ok := false
		for _, cp := range by[strings.Split(p.QueryID, "#")[0]] {
			ok = ok || (cp.ID == p.QueryID && cp.Text == p.Text)
		}
		if !ok {
			t.Fatalf("train pair caption %s not found among Flickr8k captions", p.QueryID)
		}
	}
}

func TestSplitsKeepPhotosOnOneSide(t *testing.T) {
	c := course(t)
	s, _ := c.Samples(0)
	g := Groups(s)
	train, valid, err := GroupShuffleSplit(g, 0.3, 42)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(valid) != len(s) {
		t.Fatal("split loses rows")
	}
	side := map[string]string{}
	for _, i := range train {
		side[g[i]] = "train"
	}
	nValidPhotos := map[string]bool{}
	for _, i := range valid {
		if side[g[i]] == "train" {
			t.Fatalf("photo %s on both sides", g[i])
		}
		nValidPhotos[g[i]] = true
	}
	if len(nValidPhotos) != 300 {
		t.Errorf("%d validation photos, want 300 of 1000", len(nValidPhotos))
	}
	again, _, _ := GroupShuffleSplit(g, 0.3, 42)
	if len(again) != len(train) || again[0] != train[0] {
		t.Error("same seed gives a different split")
	}
	folds, err := GroupKFold(g, 5, 42)
	if err != nil {
		t.Fatal(err)
	}
	foldOf := map[string]int{}
	sizes := make([]int, 5)
	for i, f := range folds {
		if prev, ok := foldOf[g[i]]; ok && prev != f {
			t.Fatalf("photo %s in folds %d and %d", g[i], prev, f)
		}
		foldOf[g[i]] = f
		sizes[f]++
	}
	for _, n := range sizes {
		if n < len(s)/5-10 || n > len(s)/5+10 {
			t.Errorf("fold sizes %v unbalanced", sizes)
		}
	}
}

// write makes a fixture file in a temporary folder and returns its path.
func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadTables(t *testing.T) {
	const img = "1056338697_4f7d7ce270.jpg"
	for _, tc := range []struct {
		name, file, content, want string
		load                      func(string) error
	}{
		{"missing column", ExpertTSV, img + "\t" + img + "#2\t1\t1\n", ExpertTSV + ":1: 4 columns, want 5 (image, query_id, expert1, expert2, expert3)", expert},
		{"extra column", ExpertTSV, img + "\t" + img + "#2\t1\t1\t1\t1\n", ExpertTSV + ":1: 6 columns, want 5 (image, query_id, expert1, expert2, expert3)", expert},
		{"score out of range", ExpertTSV, img + "\t" + img + "#2\t1\t5\t1\n", ExpertTSV + `:1: expert2 score "5" not in 1..4`, expert},
		{"score not a number", ExpertTSV, img + "\t" + img + "#2\t1\t1\tx\n", ExpertTSV + `:1: expert3 score "x" not in 1..4`, expert},
		{"duplicate pair", ExpertTSV, img + "\t" + img + "#2\t1\t1\t1\n" + img + "\t" + img + "#2\t2\t2\t2\n", ExpertTSV + ":2: duplicate pair (" + img + ", " + img + "#2), first on line 1", expert},
		{"bad query id", ExpertTSV, img + "\tfoo\t1\t1\t1\n", ExpertTSV + `:1: query_id "foo" is not <photo>.jpg#<0..4>`, expert},
		{"empty file", ExpertTSV, "", ExpertTSV + ": empty file", expert},
		{"wrong header", TrainCSV, "img,query_id,query_text\n", TrainCSV + `:1: header "img,query_id,query_text", want "image,query_id,query_text"`, pairs},
		{"bad quoting", TrainCSV, "image,query_id,query_text\n" + img + "," + img + "#2,\"open\n", TrainCSV + `:2: extraneous or missing " in quoted-field`, pairs},
		{"empty text", TrainCSV, "image,query_id,query_text\n" + img + "," + img + "#2, \n", TrainCSV + ":2: empty query_text", pairs},
		{"crowd share mismatch", CrowdTSV, img + "\t" + img + "#2\t1\t0\t3\n", CrowdTSV + ":1: share_yes 1 does not match n_yes 0, n_no 3", crowd},
		{"test query index", TestQueriesCSV, "|query_id|query_text|image\nx|" + img + "#0|A dog .|" + img + "\n", TestQueriesCSV + `:2: index "x" is not a number`, queries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(write(t, tc.file, tc.content))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant     %s", err, tc.want)
			}
		})
	}
}

func expert(p string) error  { _, err := LoadExpert(p); return err }
func pairs(p string) error   { _, err := LoadPairs(p); return err }
func crowd(p string) error   { _, err := LoadCrowd(p); return err }
func queries(p string) error { _, err := LoadTestQueries(p); return err }

// fixtureArchive writes a tiny, valid course archive and returns its folder.
func fixtureArchive(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const a, b = "100_a.jpg", "200_b.jpg"
	files := map[string]string{
		TrainCSV:       "image,query_id,query_text\n" + a + "," + b + "#2,A dog runs .\n" + b + "," + b + "#2,A dog runs .\n",
		ExpertTSV:      a + "\t" + b + "#2\t1\t1\t2\n" + b + "\t" + b + "#2\t4\t4\t3\n",
		CrowdTSV:       a + "\t" + b + "#2\t0\t0\t3\n",
		TestQueriesCSV: "|query_id|query_text|image\n0|300_c.jpg#0|A cat sleeps .|300_c.jpg\n",
		TestImagesCSV:  "image\n300_c.jpg\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(TrainImagesDir, a), filepath.Join(TrainImagesDir, b), filepath.Join(TestImagesDir, "300_c.jpg")} {
		writeJPEG(t, filepath.Join(dir, p), 8, 8)
	}
	return dir
}

func writeJPEG(t *testing.T, path string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFixtureArchive(t *testing.T) {
	dir := fixtureArchive(t)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckImages(nil); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Samples(0)
	if len(s) != 2 || !s[1].OwnCaption() || s[0].OwnCaption() || s[1].Target != Target([3]int{4, 4, 3}) {
		t.Errorf("samples %+v", s)
	}

	// An image named by a table but absent from the folder.
	os.Remove(filepath.Join(dir, TrainImagesDir, "100_a.jpg"))
	_, err = Load(dir)
	want := TrainCSV + ":2: unknown image 100_a.jpg (not in " + filepath.Join(dir, TrainImagesDir) + ")"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant     %s", err, want)
	}
}

func TestLocateMissing(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(DataEnv, empty)
	_, err := locate([]string{empty}, []string{TrainCSV, TrainImagesDir}, "the course archive", DataEnv)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v, want ErrNotFound", err)
	}
	for _, part := range []string{empty + ": not there or empty", "set $" + DataEnv} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
	os.WriteFile(filepath.Join(empty, TrainCSV), nil, 0o644)
	_, err = locate([]string{empty}, []string{TrainCSV, TrainImagesDir}, "the course archive", DataEnv)
	if err == nil || !strings.Contains(err.Error(), empty+": missing "+TrainImagesDir) {
		t.Errorf("error %v does not name the missing folder", err)
	}
}

// TestLocateExplicit: a $WITH_SENSE_DATA that points at nothing is an error naming it, even
// where another copy of the data exists.
func TestLocateExplicit(t *testing.T) {
	good := t.TempDir()
	for _, f := range []string{TrainCSV, TrainImagesDir} {
		os.WriteFile(filepath.Join(good, f), nil, 0o644)
	}
	t.Setenv(DataEnv, "/nonexistent/with_sense")
	_, err := locate([]string{"/nonexistent/with_sense", good}, []string{TrainCSV, TrainImagesDir}, "the course archive", DataEnv)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "$"+DataEnv+"=/nonexistent/with_sense does not hold the course archive") {
		t.Fatalf("a wrong $%s gave %v", DataEnv, err)
	}
	t.Setenv(DataEnv, "")
	if dir, err := locate([]string{good}, []string{TrainCSV, TrainImagesDir}, "the course archive", DataEnv); err != nil || dir != good {
		t.Fatalf("unset variable: %s, %v", dir, err)
	}
	if _, err := locate(nil, []string{TrainCSV}, "the course archive", DataEnv); err == nil || !strings.Contains(err.Error(), "not inside the project's checkout") {
		t.Fatalf("no folder to look in: %v", err)
	}
}

func TestImages(t *testing.T) {
	dir := t.TempDir()
	good := writeJPEG(t, filepath.Join(dir, "good.jpg"), 16, 16)
	trunc := filepath.Join(dir, "trunc.jpg")
	os.WriteFile(trunc, good[:len(good)/2], 0o644)
	notImg := filepath.Join(dir, "text.jpg")
	os.WriteFile(notImg, []byte("hello"), 0o644)
	for _, tc := range []struct{ path, want string }{
		{trunc, trunc + ": truncated image"},
		{notImg, notImg + ": not a JPEG or PNG image"},
		{filepath.Join(dir, "absent.jpg"), "no such file"},
	} {
		_, err := LoadImage(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadImage(%s): %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	// A 1×1 grayscale PNG and a CMYK image (Go encodes it as a YCbCr JPEG) convert to RGB.
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.Pix[0] = 200
	var buf bytes.Buffer
	png.Encode(&buf, gray)
	got, err := DecodeImage("gray.png", buf.Bytes())
	if err != nil || got.Bounds().Dx() != 1 || got.Pix[0] != 200 || got.Pix[1] != 200 || got.Pix[2] != 200 {
		t.Errorf("gray 1×1 PNG: %v %v", got, err)
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(cmyk.Pix); i += 4 {
		cmyk.Pix[i], cmyk.Pix[i+1], cmyk.Pix[i+2], cmyk.Pix[i+3] = 0, 255, 255, 0 // red
	}
	buf.Reset()
	if err := jpeg.Encode(&buf, cmyk, nil); err != nil {
		t.Fatal(err)
	}
	got, err = DecodeImage("cmyk.jpg", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c := got.RGBAAt(1, 1); c.R < 200 || c.G > 60 || c.B > 60 {
		t.Errorf("CMYK red decoded as %v", c)
	}
}

func TestVerifyRealData(t *testing.T) {
	dir, err := Locate()
	if errors.Is(err, ErrNotFound) {
		t.Skip(err)
	}
	n := 0
	if err := Verify(dir, func() { n++ }); err != nil {
		t.Fatal(err)
	}
	if n != NumFiles() || n != 1105 {
		t.Errorf("verified %d files, want %d = 1105", n, NumFiles())
	}
	// The embedded list is the archive's own, where it ships one.
	if b, err := os.ReadFile(filepath.Join(dir, SumsFile)); err == nil && string(b) != sums {
		t.Errorf("%s differs from the embedded list", filepath.Join(dir, SumsFile))
	}
}

func TestVerifyDetectsChange(t *testing.T) {
	dir := t.TempDir()
	err := Verify(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestSummaryAndAgreement(t *testing.T) {
	c := course(t)
	s, _ := c.Samples(0)
	sum := Summarize(s)
	if sum.Pairs != 5822 || sum.Photos != 1000 || sum.Captions != 977 || sum.OwnCaptions != 158 {
		t.Errorf("summary %v", sum)
	}
	a := Agree(s)
	for i := range 3 {
		if a.Exact[i][i] != 1 || math.Abs(a.Pearson[i][i]-1) > 1e-12 {
			t.Errorf("expert %d does not agree with itself: %v %v", i, a.Exact[i][i], a.Pearson[i][i])
		}
		if a.LeaveOneOut[i] < 0.5 || a.LeaveOneOut[i] > 1 {
			t.Errorf("expert %d vs others r = %v", i, a.LeaveOneOut[i])
		}
	}
	if a.AllSame <= 0 || a.AllSame >= 1 {
		t.Errorf("all-same share %v", a.AllSame)
	}
	e, cr := CrowdVsExpert(s)
	if len(e) != 2329 || Pearson(e, cr) < 0.3 {
		t.Errorf("crowd vs expert: %d pairs, r = %v", len(e), Pearson(e, cr))
	}
	if got := Pearson([]float64{1, 2, 3}, []float64{2, 4, 6}); math.Abs(got-1) > 1e-12 {
		t.Errorf("Pearson of a line = %v", got)
	}
}

func TestFlickr8kSplits(t *testing.T) {
	if _, err := LocateFlickr8k(); errors.Is(err, ErrNotFound) {
		t.Skip(err)
	}
	for split, want := range map[string]int{Flickr8kTrain: 30000, Flickr8kDev: 5000, Flickr8kTest: 5000} {
		caps, err := Flickr8kSplit(split)
		if err != nil {
			t.Fatal(err)
		}
		if photos := CaptionsByImage(caps); len(caps) != want || len(photos) != want/5 {
			t.Errorf("split %s: %d captions of %d photos, want %d of %d", split, len(caps), len(photos), want, want/5)
		}
	}
	// The course's training photos are Flickr8k's test split.
	caps, _ := Flickr8kSplit(Flickr8kTest)
	c := course(t)
	inSplit := CaptionsByImage(caps)
	for _, img := range c.TrainImages {
		if len(inSplit[img]) != 5 {
			t.Fatalf("course photo %s has %d captions in the Flickr8k test split", img, len(inSplit[img]))
		}
	}
	if _, err := Flickr8kSplit("val"); err == nil {
		t.Error("unknown split accepted")
	}
}

func TestBadFlickr8kFiles(t *testing.T) {
	bad := write(t, "bad.txt", "1000268201_693b08cb0e.jpg#0\tA child .\nno tab here\n")
	if _, err := LoadCaptions(bad); err == nil || err.Error() != "bad.txt:2: 1 columns, want 2 (id, caption)" {
		t.Errorf("bad caption line: %v", err)
	}
	bad = write(t, "list.txt", "a.jpg\nb c.jpg\n")
	if _, err := LoadImageList(bad); err == nil || err.Error() != `list.txt:2: "b c.jpg" is not a photo file name` {
		t.Errorf("bad image list: %v", err)
	}
}
