package headless

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPage loads a page from a loopback server and reads what its script wrote.
func TestPage(t *testing.T) {
	if _, err := Find(); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><body><p id="out"></p><script>document.getElementById("out").textContent = 6*7</script></body></html>`))
	}))
	defer srv.Close()
	ctx, cancel, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text("#out"))
	if err != nil {
		t.Fatal(err)
	}
	if got != "42" {
		t.Fatalf("page script wrote %q, want 42", got)
	}
}
