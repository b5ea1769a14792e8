// Package web serves the search over one index as a small service a photo hosting could
// run: a JSON API (search, health), the photos of the index by content hash, and a web
// page (static/, embedded in the binary, plain HTML, CSS and JavaScript).
//
// Every request is bounded: the query's length (search.MaxQueryRunes), k (MaxK), the
// body (MaxBody), the time a search may take (Options.SearchTimeout) and the number of
// searches at once (Options.MaxConcurrent). Every bad request gets a 4xx JSON error
// {"error": "..."} saying what was wrong. No part of a request reaches the file system:
// a photo is looked up by its hash in the index, and only the index's files are served.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/withsense/withsense/lib/search"
)

//go:embed static
var static embed.FS

// MaxK is the most photos one search returns.
const MaxK = 100

// MaxBody is the largest request body accepted (a JSON search request).
const MaxBody = 16 << 10

// Options tune a Server; zero values take the defaults.
type Options struct {
	// MaxConcurrent searches run at once (default: search.QueryBatch or the number of CPUs,
	// whichever is more, so that concurrent queries fill the text encoder's batches); more
	// wait up to QueueWait, then get 503.
	MaxConcurrent int
	QueueWait     time.Duration // default 2 s
	SearchTimeout time.Duration // default 10 s
	Log           *log.Logger   // default: the standard logger
}

// Server answers the API and serves the page and the photos of one Searcher.
type Server struct {
	s     *search.Searcher
	opt   Options
	paths map[string]string // photo id → file
	slots chan struct{}
	mux   *http.ServeMux
}

// New returns the server of a searcher; its photos must have IDs (content hashes).
func New(s *search.Searcher, opt Options) (*Server, error) {
	if len(s.IDs) != len(s.Paths) {
		return nil, fmt.Errorf("web: the searcher has %d photo ids for %d photos", len(s.IDs), len(s.Paths))
	}
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = max(runtime.NumCPU(), search.QueryBatch)
	}
	if opt.QueueWait <= 0 {
		opt.QueueWait = 2 * time.Second
	}
	if opt.SearchTimeout <= 0 {
		opt.SearchTimeout = 10 * time.Second
	}
	if opt.Log == nil {
		opt.Log = log.Default()
	}
	srv := &Server{s: s, opt: opt, paths: map[string]string{}, slots: make(chan struct{}, opt.MaxConcurrent), mux: http.NewServeMux()}
	for i, id := range s.IDs {
		srv.paths[id] = s.Paths[i]
	}
	page, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	srv.mux.HandleFunc("/api/search", srv.search)
	srv.mux.HandleFunc("/api/health", srv.health)
	srv.mux.HandleFunc("/photo/", srv.photo)
	files := http.FileServerFS(page)
	srv.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			fail(w, http.StatusMethodNotAllowed, "%s %s: the page takes GET only", r.Method, r.URL.Path)
			return
		}
		if r.URL.Path != "/" && r.URL.Path != "/app.js" && r.URL.Path != "/style.css" {
			fail(w, http.StatusNotFound, "no such page: %s", r.URL.Path)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	return srv, nil
}

// ServeHTTP makes the Server an http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The page loads only its own script, style and photos (no inline code).
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	srv.mux.ServeHTTP(w, r)
}

// ShutdownGrace is how long Serve lets the requests under way finish once told to stop.
const ShutdownGrace = 15 * time.Second

// Serve answers on ln with the connection timeouts a public server needs, until ctx is
// done (cmd/withsense cancels it on SIGINT or SIGTERM); then it stops accepting, lets the
// requests under way finish (up to ShutdownGrace) and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

// Request is a search request: the query string of GET /api/search?q=...&k=..., or the
// JSON body of POST /api/search.
type Request struct {
	Query string `json:"q"`
	K     int    `json:"k"`
	// Explain asks for each result's Why (the query words that matter most for it).
	Explain bool `json:"explain"`
}

// parseRequest reads a search request, or says what is wrong with it.
func parseRequest(w http.ResponseWriter, r *http.Request) (Request, int, error) {
	req := Request{K: 10}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		for name := range q {
			if name != "q" && name != "k" && name != "explain" {
				return req, http.StatusBadRequest, fmt.Errorf("unknown parameter %q (want q, k and explain)", name)
			}
		}
		if len(q["q"]) != 1 {
			return req, http.StatusBadRequest, fmt.Errorf("want one q parameter (the description), got %d", len(q["q"]))
		}
		req.Query = q.Get("q")
		if ks := q["k"]; len(ks) > 1 {
			return req, http.StatusBadRequest, fmt.Errorf("want at most one k parameter, got %d", len(ks))
		} else if len(ks) == 1 {
			k, err := strconv.Atoi(ks[0])
			if err != nil {
				return req, http.StatusBadRequest, fmt.Errorf("k = %q is not a whole number", ks[0])
			}
			req.K = k
		}
		if e := q["explain"]; len(e) > 0 {
			b, err := strconv.ParseBool(e[0])
			if err != nil || len(e) > 1 {
				return req, http.StatusBadRequest, fmt.Errorf("explain = %q: want one of 1, 0, true, false", strings.Join(e, ","))
			}
			req.Explain = b
		}
	case http.MethodPost:
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
			return req, http.StatusUnsupportedMediaType, fmt.Errorf("POST a JSON body (Content-Type: application/json), not %q", r.Header.Get("Content-Type"))
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return req, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", MaxBody)
			}
			return req, http.StatusBadRequest, fmt.Errorf("request body is not a search request {\"q\": \"...\", \"k\": 10}: %v", err)
		}
		if dec.More() {
			return req, http.StatusBadRequest, fmt.Errorf("request body has more than one JSON value")
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		return req, http.StatusMethodNotAllowed, fmt.Errorf("%s /api/search: use GET or POST", r.Method)
	}
	if req.K < 1 || req.K > MaxK {
		return req, http.StatusBadRequest, fmt.Errorf("k = %d: ask for 1 to %d photos", req.K, MaxK)
	}
	return req, 0, nil
}

func (srv *Server) search(w http.ResponseWriter, r *http.Request) {
	req, status, err := parseRequest(w, r)
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	if _, err := search.CheckQuery(req.Query); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), srv.opt.SearchTimeout)
	defer cancel()
	wait := time.NewTimer(srv.opt.QueueWait)
	defer wait.Stop()
	select {
	case srv.slots <- struct{}{}:
	case <-wait.C:
		fail(w, http.StatusServiceUnavailable, "the server is busy (%d searches running): try again in a moment", cap(srv.slots))
		return
	case <-ctx.Done():
		return
	}
	type result struct {
		ans search.Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-srv.slots }()
		ans, err := srv.s.Search(req.Query, req.K)
		if err == nil && req.Explain {
			err = srv.s.Explain(&ans)
		}
		done <- result{ans, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		fail(w, http.StatusServiceUnavailable, "the search took longer than %s", srv.opt.SearchTimeout)
		return
	}
	var nu *search.NotUnderstoodError
	switch {
	case errors.As(res.err, &nu):
		fail(w, http.StatusUnprocessableEntity, "%v", res.err)
		return
	case res.err != nil:
		srv.opt.Log.Printf("search %q: %v", req.Query, res.err)
		fail(w, http.StatusInternalServerError, "the search failed; the server's log says why")
		return
	}
	for i := range res.ans.Results {
		res.ans.Results[i].URL = "/photo/" + res.ans.Results[i].ID
		res.ans.Results[i].Path = filepath.Base(res.ans.Results[i].Path) // the server's folders are its own
	}
	writeJSON(w, http.StatusOK, res.ans)
}

// Health is the answer of GET /api/health.
type Health struct {
	Status string `json:"status"`
	Photos int    `json:"photos"`
	Scorer string `json:"scorer"`
}

func (srv *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(w, http.StatusMethodNotAllowed, "%s /api/health: use GET", r.Method)
		return
	}
	writeJSON(w, http.StatusOK, Health{Status: "ok", Photos: len(srv.s.Paths), Scorer: srv.s.Scorer.Name()})
}

// photoTypes are the content types of the formats an index holds.
var photoTypes = map[string]string{".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}

func (srv *Server) photo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(w, http.StatusMethodNotAllowed, "%s %s: use GET", r.Method, r.URL.Path)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/photo/")
	path, ok := srv.paths[id]
	if !ok {
		fail(w, http.StatusNotFound, "no photo %q in the index (photo ids are the 64 hex digits of a content hash)", id)
		return
	}
	etag := `"` + id + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		srv.opt.Log.Printf("photo %s: %v", id, err)
		fail(w, http.StatusGone, "photo %s is no longer in the folder: index it again", id)
		return
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != id {
		fail(w, http.StatusGone, "photo %s has changed since it was indexed: index the folder again", id)
		return
	}
	ct := photoTypes[strings.ToLower(filepath.Ext(path))]
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", etag)
	// The URL names the content, so it never changes: cache for a year.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(data)
}
