package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/search/searchtest"
)

// wordScorer is searchtest's scorer that can be slowed down or held.
type wordScorer struct {
	searchtest.WordScorer
	delay time.Duration
	gate  chan struct{} // when set, Score waits for it
}

func (w *wordScorer) Score(q string) ([]float32, error) {
	if w.gate != nil {
		<-w.gate
	}
	time.Sleep(w.delay)
	return w.WordScorer.Score(q)
}

// fixture writes small PNG photos named for what they "show" and returns a searcher
// over them.
func fixture(t testing.TB) (*search.Searcher, *wordScorer) {
	dir := t.TempDir()
	s := &search.Searcher{}
	sc := &wordScorer{}
	for i, name := range []string{"dog_water.png", "dog_grass.png", "cat_sofa.png", "dog_water_run.png"} {
		img := image.NewRGBA(image.Rect(0, 0, 40+i, 30))
		for p := range img.Pix {
			img.Pix[p] = byte(60 * i)
		}
		img.Set(0, 0, color.RGBA{255, 0, 0, 255})
		var buf bytes.Buffer
		png.Encode(&buf, img)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(buf.Bytes())
		s.Paths = append(s.Paths, path)
		s.IDs = append(s.IDs, hex.EncodeToString(h[:]))
		sc.Names = append(sc.Names, name)
	}
	s.Scorer = sc
	return s, sc
}

func newServer(t testing.TB, opt Options) (*httptest.Server, *search.Searcher, *wordScorer) {
	s, sc := fixture(t)
	if opt.Log == nil {
		opt.Log = log.New(io.Discard, "", 0)
	}
	srv, err := New(s, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, s, sc
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestSearchAPI(t *testing.T) {
	ts, s, _ := newServer(t, Options{})
	res, body := get(t, ts.URL+"/api/search?q="+url.QueryEscape("dog water run")+"&k=2")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var ans search.Answer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans.Results) != 2 || ans.Results[0].Path != "dog_water_run.png" || ans.Results[0].Score != 3 ||
		ans.Results[0].URL != "/photo/"+s.IDs[3] || ans.Results[1].Path != "dog_water.png" {
		t.Errorf("answer %s", body)
	}
	if strings.Contains(string(body), filepath.Dir(s.Paths[0])) {
		t.Errorf("the answer shows the server's folders: %s", body)
	}
	// The photo of a result loads, with cache headers; a second request revalidates.
	res, img := get(t, ts.URL+ans.Results[0].URL)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("photo: %d %v", res.StatusCode, res.Header)
	}
	if want, _ := os.ReadFile(s.Paths[3]); !bytes.Equal(img, want) {
		t.Error("photo bytes differ from the file")
	}
	req, _ := http.NewRequest("GET", ts.URL+ans.Results[0].URL, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %v %v", r2.StatusCode, err)
	}
	if strings.Contains(string(body), `"why"`) {
		t.Errorf("explanations without explain=1: %s", body)
	}
	// explain=1: each result says which query words it matched.
	_, ebody := get(t, ts.URL+"/api/search?q="+url.QueryEscape("dog water run")+"&k=2&explain=1")
	var explained search.Answer
	json.Unmarshal(ebody, &explained)
	if len(explained.Results) != 2 || strings.Join(explained.Results[0].Why, " ") != "dog water run" || strings.Join(explained.Results[1].Why, " ") != "dog water" {
		t.Errorf("explained answer %s", ebody)
	}
	// POST with a JSON body answers the same.
	pres, err := http.Post(ts.URL+"/api/search", "application/json", strings.NewReader(`{"q": "dog water run", "k": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	pbody, _ := io.ReadAll(pres.Body)
	if pres.StatusCode != 200 || !bytes.Equal(pbody, body) {
		t.Errorf("POST: %d %s", pres.StatusCode, pbody)
	}
	// A blocked query: 200 with the notice and no photos.
	res, body = get(t, ts.URL+"/api/search?q="+url.QueryEscape("a boy and his dog"))
	if res.StatusCode != 200 || !strings.Contains(string(body), `"blocked":true`) || !strings.Contains(string(body), search.Notice) {
		t.Errorf("blocked: %d %s", res.StatusCode, body)
	}
	// Health.
	res, body = get(t, ts.URL+"/api/health")
	if res.StatusCode != 200 || string(body) != `{"status":"ok","photos":4,"scorer":"words in the file name"}`+"\n" {
		t.Errorf("health: %d %s", res.StatusCode, body)
	}
	// The page and its files.
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		if res, body := get(t, ts.URL+p); res.StatusCode != 200 || len(body) < 100 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: %d, %d bytes", p, res.StatusCode, len(body))
		}
	}
}

func TestAPIErrors(t *testing.T) {
	ts, s, _ := newServer(t, Options{})
	long := strings.Repeat("dog ", 300)
	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		want                      string
	}{
		{"GET", "/api/search?q=", "", "", 400, "empty query"},
		{"GET", "/api/search?q=%20%3F%21", "", "", 400, "empty query"},
		{"GET", "/api/search", "", "", 400, "want one q parameter"},
		{"GET", "/api/search?q=a&q=b", "", "", 400, "want one q parameter (the description), got 2"},
		{"GET", "/api/search?q=dog&k=0", "", "", 400, "k = 0: ask for 1 to 100 photos"},
		{"GET", "/api/search?q=dog&k=101", "", "", 400, "k = 101: ask for 1 to 100 photos"},
		{"GET", "/api/search?q=dog&k=ten", "", "", 400, `k = "ten" is not a whole number`},
		{"GET", "/api/search?q=dog&k=1&k=2", "", "", 400, "want at most one k parameter"},
		{"GET", "/api/search?q=dog&sort=asc", "", "", 400, `unknown parameter "sort"`},
		{"GET", "/api/search?q=dog&explain=maybe", "", "", 400, `explain = "maybe": want one of 1, 0, true, false`},
		{"GET", "/api/search?q=" + url.QueryEscape(long), "", "", 400, "query is 1200 characters long; the limit is 1000"},
		{"GET", "/api/search?q=dog%FF", "", "", 400, "query is not valid UTF-8 text"},
		{"DELETE", "/api/search?q=dog", "", "", 405, "use GET or POST"},
		{"POST", "/api/search", "text/plain", "dog", 415, "POST a JSON body"},
		{"POST", "/api/search", "application/json", `{"q": "dog", "k": "5"}`, 400, "not a search request"},
		{"POST", "/api/search", "application/json", `{"q": "dog", "limit": 5}`, 400, `unknown field "limit"`},
		{"POST", "/api/search", "application/json", `{"q": "dog"} {"q": "cat"}`, 400, "more than one JSON value"},
		{"POST", "/api/search", "application/json", `{"q": "` + strings.Repeat("x", MaxBody) + `"}`, 413, "request body over 16384 bytes"},
		{"POST", "/api/search", "application/json", `{"q": "dog", "k": 1000}`, 400, "k = 1000"},
		{"POST", "/api/health", "", "", 405, "use GET"},
		{"GET", "/photo/" + strings.Repeat("0", 64), "", "", 404, "no photo"},
		{"GET", "/photo/../../etc/passwd", "", "", 404, ""},
		{"GET", "/photo/" + url.PathEscape(s.Paths[0]), "", "", 404, "no photo"},
		{"PUT", "/photo/" + s.IDs[0], "", "", 405, "use GET"},
		{"GET", "/nothing-here", "", "", 404, "no such page: /nothing-here"},
		{"GET", "/index.html", "", "", 404, ""}, // FileServer would redirect; we answer 404
		{"POST", "/", "", "", 405, "the page takes GET only"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e apiError
		if res.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error == "" || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s %.60s: %d %s, want %d with %q", tc.method, tc.path, res.StatusCode, body, tc.status, tc.want)
		}
	}
	// A photo changed or removed after indexing is gone, not served.
	os.WriteFile(s.Paths[1], []byte("changed"), 0o644)
	if res, body := get(t, ts.URL+"/photo/"+s.IDs[1]); res.StatusCode != 410 || !strings.Contains(string(body), "changed since it was indexed") {
		t.Errorf("changed photo: %d %s", res.StatusCode, body)
	}
	os.Remove(s.Paths[2])
	if res, body := get(t, ts.URL+"/photo/"+s.IDs[2]); res.StatusCode != 410 || !strings.Contains(string(body), "no longer in the folder") {
		t.Errorf("removed photo: %d %s", res.StatusCode, body)
	}
}

// notUnderstood fails as GloVe does on a query without an English word.
type notUnderstood struct{ wordScorer }

func (*notUnderstood) Score(q string) ([]float32, error) {
	return nil, &search.NotUnderstoodError{Query: q}
}

func TestNotUnderstoodAndInternalErrors(t *testing.T) {
	s, sc := fixture(t)
	s.Scorer = &notUnderstood{*sc}
	srv, _ := New(s, Options{Log: log.New(io.Discard, "", 0)})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	res, body := get(t, ts.URL+"/api/search?q="+url.QueryEscape("собака в воде"))
	if res.StatusCode != 422 || !strings.Contains(string(body), "describe the scene in English") {
		t.Errorf("not understood: %d %s", res.StatusCode, body)
	}
	s.Scorer = &searchtest.WordScorer{Names: sc.Names[:1]} // gives too few scores: an internal error
	srv, _ = New(s, Options{Log: log.New(io.Discard, "", 0)})
	ts2 := httptest.NewServer(srv)
	defer ts2.Close()
	res, body = get(t, ts2.URL+"/api/search?q=dog")
	if res.StatusCode != 500 || !strings.Contains(string(body), "the server's log says why") || strings.Contains(string(body), "scores for") {
		t.Errorf("internal error: %d %s", res.StatusCode, body)
	}
}

func TestBusyAndTimeout(t *testing.T) {
	ts, _, sc := newServer(t, Options{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond, SearchTimeout: 200 * time.Millisecond})
	sc.gate = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var first int
	go func() { // holds the only slot until the gate opens, and times out
		defer wg.Done()
		res, err := http.Get(ts.URL + "/api/search?q=dog")
		if err == nil {
			first = res.StatusCode
			res.Body.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	res, body := get(t, ts.URL+"/api/search?q=cat")
	if res.StatusCode != 503 || !strings.Contains(string(body), "busy") {
		t.Errorf("second search while one runs: %d %s", res.StatusCode, body)
	}
	wg.Wait()
	if first != 503 {
		t.Errorf("a search past the timeout: %d, want 503", first)
	}
	close(sc.gate)
}

func TestGracefulShutdown(t *testing.T) {
	s, sc := fixture(t)
	sc.delay = 300 * time.Millisecond
	srv, _ := New(s, Options{Log: log.New(io.Discard, "", 0)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, srv) }()
	u := "http://" + ln.Addr().String()
	inflight := make(chan int, 1)
	go func() {
		res, err := http.Get(u + "/api/search?q=dog")
		if err != nil {
			inflight <- 0
			return
		}
		res.Body.Close()
		inflight <- res.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the search is under way
	cancel()
	if code := <-inflight; code != 200 {
		t.Errorf("the search under way at shutdown got %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := http.Get(u + "/api/health"); err == nil {
		t.Error("still answering after shutdown")
	}
}

// TestRealModels serves the search the study trained (when `make report` has trained it)
// over the dataset's first 50 photos: a description gets photos that load.
func TestRealModels(t *testing.T) {
	cfg, err := search.LoadConfig()
	if err != nil {
		t.Skip(err)
	}
	c, err := dataset.LoadDefault()
	if err != nil {
		t.Skip(err)
	}
	s, err := search.OpenPhotos(cfg, c.AllPhotos()[:50], "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	res, body := get(t, ts.URL+"/api/search?q="+url.QueryEscape("a dog running on the grass")+"&k=5")
	var ans search.Answer
	if res.StatusCode != 200 || json.Unmarshal(body, &ans) != nil || len(ans.Results) != 5 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	for i, r := range ans.Results {
		if i > 0 && r.Score > ans.Results[i-1].Score {
			t.Errorf("results out of order: %+v", ans.Results)
		}
		if res, img := get(t, ts.URL+r.URL); res.StatusCode != 200 || len(img) < 1000 {
			t.Errorf("photo %s: %d, %d bytes", r.URL, res.StatusCode, len(img))
		}
	}
}
