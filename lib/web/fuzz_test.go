package web

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAPI: any query string and k sent to /api/search get a 200 answer or a 4xx JSON
// error, never a 5xx or a body that is not JSON.
// Run: go test -tags noxla -run '^$' -fuzz FuzzAPI -fuzztime 10s ./lib/web/
func FuzzAPI(f *testing.F) {
	for _, q := range []string{"dog water", "a boy", "", "%zz", "\xff", strings.Repeat("x ", 600)} {
		f.Add(q, "3", "0")
	}
	f.Add("dog", "-1", "yes")
	f.Add("dog", "1e3", "1")
	s, _ := fixture(f)
	srv, err := New(s, Options{Log: log.New(io.Discard, "", 0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q, k, explain string) {
		v := url.Values{"q": {q}, "k": {k}, "explain": {explain}}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/search?"+v.Encode(), nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
		}
		switch {
		case rec.Code == 200:
			if _, ok := body["results"]; !ok {
				t.Errorf("200 without results: %v", body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if e, _ := body["error"].(string); e == "" {
				t.Errorf("%d without an error text: %v", rec.Code, body)
			}
		default:
			t.Errorf("q=%q k=%q explain=%q: status %d %v", q, k, explain, rec.Code, body)
		}
	})
}
