// Package download fetches the pretrained ONNX files of the original study (ImageNet
// ResNet50, all-MiniLM-L6-v2) on a machine with internet, for `make models-onnx`. Each file
// is streamed to a temporary file beside its destination while its sha256 is computed, and
// renamed into place only when size and sha256 match the pin in lib/assets; a file already
// there and verified is not fetched again. Offline, it fails with an error that names the
// file, the URL and how to place the file by hand.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/progress"
)

// Files are the ONNX files `make models-onnx` fetches.
var Files = []assets.ONNXFile{assets.ResNet50, assets.MiniLM}

// Client is the HTTP client used; its transport gives up on unreachable hosts quickly,
// but a download itself has no time limit.
var Client = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
}}

// ONNX makes sure o is present and verified at o.Path(), downloading it if needed, and
// returns its path.
func ONNX(ctx context.Context, o assets.ONNXFile) (string, error) {
	path := o.Path()
	if _, err := os.Stat(path); err == nil {
		if err := assets.VerifySHA256(path, o.SHA256); err != nil {
			return "", fmt.Errorf("%w: delete it to download it again", err)
		}
		return path, nil
	}
	if err := File(ctx, o.URL, path, o.SHA256, o.Size); err != nil {
		return "", fmt.Errorf("%w\n(without internet, copy %s, sha256 %s, to %s by hand)", err, o.Name, o.SHA256, path)
	}
	return path, nil
}

// All fetches every file of Files (for `make models-onnx`), and returns the first error
// after trying them all.
func All(ctx context.Context) error {
	var errs []error
	for _, o := range Files {
		path, err := ONNX(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: ok (sha256 %s)\n", path, o.SHA256)
	}
	return errors.Join(errs...)
}

// File downloads url to dest atomically: the content must have the given size (when
// size > 0) and sha256 (hex), else nothing is written. A progress bar counts megabytes.
func File(ctx context.Context, url, dest, sha string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", url, err)
	}
	resp, err := Client.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w (is this machine offline?)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: HTTP %s", url, resp.Status)
	}
	total := size
	if total <= 0 {
		total = resp.ContentLength
	}
	const mb = 1 << 20
	bar := progress.New("download "+dest, int((total+mb-1)/mb))
	defer bar.Done()
	return atomicfile.Write(dest, func(w io.Writer) error {
		h := sha256.New()
		cw := &countingWriter{bar: bar}
		n, err := io.Copy(io.MultiWriter(w, h, cw), resp.Body)
		if err != nil {
			return fmt.Errorf("downloading %s: %w after %d bytes", url, err, n)
		}
		if size > 0 && n != size {
			return fmt.Errorf("downloading %s: got %d bytes, want %d", url, n, size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sha {
			return fmt.Errorf("downloading %s: sha256 %s, want %s", url, got, sha)
		}
		return nil
	})
}

// countingWriter advances the bar by one unit per MiB written.
type countingWriter struct {
	bar        *progress.Bar
	n, counted int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if mbs := c.n >> 20; mbs > c.counted {
		c.bar.Add(int(mbs - c.counted))
		c.counted = mbs
	}
	return len(p), nil
}
