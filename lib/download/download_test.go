package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/progress"
)

func init() { progress.Quiet = true }

func serve(t *testing.T, body []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/model.onnx" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFile(t *testing.T) {
	body := bytes.Repeat([]byte("onnx"), 3<<18) // 3 MiB
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	srv := serve(t, body)
	dir := t.TempDir()
	ctx := context.Background()

	dest := filepath.Join(dir, "sub", "ok.onnx")
	if err := File(ctx, srv.URL+"/model.onnx", dest, sha, int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, body) {
		t.Fatalf("downloaded %d bytes, want the %d served", len(got), len(body))
	}

	for name, c := range map[string]struct {
		url, sha string
		size     int64
		want     string
	}{
		"wrong sha":  {srv.URL + "/model.onnx", strings.Repeat("0", 64), 0, "sha256"},
		"wrong size": {srv.URL + "/model.onnx", sha, 12, "want 12"},
		"404":        {srv.URL + "/missing.onnx", sha, 0, "404"},
	} {
		dest := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".onnx")
		err := File(ctx, c.url, dest, c.sha, c.size)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one mentioning %q", name, err, c.want)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("%s: %s was written", name, dest)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestONNXOffline(t *testing.T) {
	srv := serve(t, nil)
	url := srv.URL + "/model.onnx"
	srv.Close() // nothing listens any more: as offline as it gets
	o := assets.ONNXFile{Name: "download-test-absent.onnx", URL: url, SHA256: strings.Repeat("0", 64), Size: 10}
	_, err := ONNX(context.Background(), o)
	if err == nil {
		t.Fatal("no error offline")
	}
	for _, want := range []string{url, "offline", "by hand", o.Path()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("offline error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(o.Path()); err == nil {
		t.Errorf("%s was written", o.Path())
	}
}
