package imageenc

// The embedding cache: EmbedFiles computes each photo's vector once per (encoder name,
// encoder weights, encoder version, sha256 of the image file) and reuses it afterwards in
// notebooks, the command line and search.
//
// Location: <project>/data/cache/embeddings/<encoder name>-<key>.emb, one file per encoder
// and weights, where key is the first 16 hex digits of sha256(name "\x00" weights "\x00"
// version); version is the encoder's Version() label followed by the hash of the code that
// computes the vectors (this package's sources and those of the lib packages it imports, as
// lib/cachekey hashes them), so a change to that code recomputes them without any hand-bumped
// version.
//
// File format (all integers little-endian):
//
//	magic    8 bytes  "WSEMB01\n"
//	hlen     uint32   length of the header
//	header   hlen bytes of JSON: {"encoder": name, "weights": weights, "version": version,
//	         "dim": D, "count": N}
//	N records, sorted by image sha256, each:
//	  sha256 32 bytes  sha256 of the image file's bytes
//	  vector D float32 (IEEE 754)
//
// A file is always replaced whole through lib/atomicfile, so a reader sees either the old
// or the new version; a run flushes what it computed every EmbedOptions.FlushEvery images
// (merging with what another process may have written meanwhile), so a crash keeps all
// but the last few batches and the next run resumes from there. A file whose header does
// not match its name's encoder, weights or dimension is an error, never silently reused.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/cachekey"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
)

// JointEncoder is an Encoder whose forward pass also yields the vectors of other named
// outputs (nsfwjs' InceptionV3: mixed5, pool and the NSFW head). EmbedFiles caches all of
// them, so a dataset runs through the network once for all.
type JointEncoder interface {
	Encoder
	// Joint lists every output of the shared pass (this encoder's own included); they
	// share Weights() and Version().
	Joint() []JointOutput
	// EmbedJoint returns the vectors of every output of Joint(), by name.
	EmbedJoint(imgs []image.Image) (map[string][][]float32, error)
}

// JointOutput names one output of a JointEncoder.
type JointOutput struct {
	Name string
	Dim  int
}

// EmbedOptions tune EmbedFilesWith; zero values take the defaults.
type EmbedOptions struct {
	// Dir holds the cache files (default project.CacheDir()/embeddings).
	Dir string
	// BatchSize is the number of images decoded and embedded at a time (default 32).
	BatchSize int
	// FlushEvery is the number of newly computed images between cache writes (default 256).
	FlushEvery int
	// Label of the progress bar (default "embedding with <encoder>").
	Label string
}

const cacheMagic = "WSEMB01\n"

type cacheHeader struct {
	Encoder string `json:"encoder"`
	Weights string `json:"weights"`
	Version string `json:"version"`
	Dim     int    `json:"dim"`
	Count   int    `json:"count"`
}

// CacheDir is the default folder of the embedding cache.
func CacheDir() string { return filepath.Join(project.CacheDir(), "embeddings") }

// encoderVersion is the code's part of a cache key (lib/cachekey): the encoder's own label
// (Version, if it has one) and the hash of the sources of this package and of every lib
// package it imports, so a change to the code that computes embeddings recomputes them.
func encoderVersion(enc Encoder) string {
	v := ""
	if x, ok := enc.(interface{ Version() string }); ok {
		v = x.Version()
	}
	return v + "+src:" + sourcesKey()
}

// sourcesKey hashes this package's code once per process ("unknown" outside a checkout,
// where the cache folder cannot be found either).
var sourcesKey = sync.OnceValue(func() string {
	src, err := cachekey.Sources("lib/imageenc")
	if err != nil {
		return "unknown"
	}
	return src[:16]
})

// CachePath returns the cache file of an encoder output in dir (CacheDir() if empty).
func CachePath(dir, name, weights, version string) string {
	if dir == "" {
		dir = CacheDir()
	}
	h := sha256.Sum256([]byte(name + "\x00" + weights + "\x00" + version))
	return filepath.Join(dir, fmt.Sprintf("%s-%s.emb", name, hex.EncodeToString(h[:8])))
}

// cacheFile is the in-memory content of one cache file.
type cacheFile struct {
	path   string
	header cacheHeader
	vecs   map[[32]byte][]float32
	dirty  bool
}

// cacheLocks serialises the use of each cache file within the process.
var cacheLocks sync.Map // path -> *sync.Mutex

func lockCache(path string) func() {
	m, _ := cacheLocks.LoadOrStore(path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// openCache reads the cache file of (name, weights, version, dim), or starts an empty one.
func openCache(dir, name, weights, version string, dim int) (*cacheFile, error) {
	c := &cacheFile{
		path:   CachePath(dir, name, weights, version),
		header: cacheHeader{Encoder: name, Weights: weights, Version: version, Dim: dim},
		vecs:   map[[32]byte][]float32{},
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load merges the file's records into c (missing file: nothing to merge).
func (c *cacheFile) load() error {
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	h, recs, err := parseCache(data)
	if err != nil {
		return fmt.Errorf("%s: %w (delete it to recompute)", c.path, err)
	}
	if h.Encoder != c.header.Encoder || h.Weights != c.header.Weights || h.Version != c.header.Version || h.Dim != c.header.Dim {
		return fmt.Errorf("%s: header says encoder %q weights %q version %q dim %d, want %q %q %q %d (delete it to recompute)",
			c.path, h.Encoder, h.Weights, h.Version, h.Dim, c.header.Encoder, c.header.Weights, c.header.Version, c.header.Dim)
	}
	for k, v := range recs {
		if _, ok := c.vecs[k]; !ok {
			c.vecs[k] = v
		}
	}
	return nil
}

// parseCache decodes a cache file.
func parseCache(data []byte) (cacheHeader, map[[32]byte][]float32, error) {
	var h cacheHeader
	if len(data) < len(cacheMagic)+4 || string(data[:len(cacheMagic)]) != cacheMagic {
		return h, nil, fmt.Errorf("not an embedding cache file (magic %q)", cacheMagic)
	}
	data = data[len(cacheMagic):]
	hlen := int(binary.LittleEndian.Uint32(data))
	data = data[4:]
	if hlen > len(data) {
		return h, nil, fmt.Errorf("header length %d beyond the end of the file", hlen)
	}
	if err := json.Unmarshal(data[:hlen], &h); err != nil {
		return h, nil, fmt.Errorf("header: %w", err)
	}
	data = data[hlen:]
	recSize := 32 + 4*h.Dim
	if h.Dim <= 0 || h.Count < 0 || len(data) != h.Count*recSize {
		return h, nil, fmt.Errorf("%d bytes of records, want %d records of dim %d (%d bytes): truncated?", len(data), h.Count, h.Dim, h.Count*recSize)
	}
	recs := make(map[[32]byte][]float32, h.Count)
	for i := range h.Count {
		rec := data[i*recSize : (i+1)*recSize]
		var key [32]byte
		copy(key[:], rec[:32])
		v := make([]float32, h.Dim)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(rec[32+4*j:]))
		}
		recs[key] = v
	}
	return h, recs, nil
}

// flush merges what is on disk (another process may have added records) and rewrites
// the file atomically.
func (c *cacheFile) flush() error {
	if !c.dirty {
		return nil
	}
	if err := c.load(); err != nil {
		return err
	}
	keys := make([][32]byte, 0, len(c.vecs))
	for k := range c.vecs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	h := c.header
	h.Count = len(keys)
	hj, err := json.Marshal(h)
	if err != nil {
		return err
	}
	err = atomicfile.Write(c.path, func(w io.Writer) error {
		buf := make([]byte, 0, len(cacheMagic)+4+len(hj)+len(keys)*(32+4*h.Dim))
		buf = append(buf, cacheMagic...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(hj)))
		buf = append(buf, hj...)
		for _, k := range keys {
			buf = append(buf, k[:]...)
			for _, x := range c.vecs[k] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
		}
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	c.dirty = false
	return nil
}

// EmbedFiles returns the vectors of the image files at paths (JPEG or PNG), computing
// only those not in the cache. See EmbedFilesWith.
func EmbedFiles(enc Encoder, paths []string) ([][]float32, error) {
	return EmbedFilesWith(enc, paths, EmbedOptions{})
}

// EmbedFilesWith is EmbedFiles with options. Files are identified by the sha256 of their
// bytes (a renamed or copied photo is not recomputed). A file that cannot be decoded
// (truncated, corrupt, not JPEG/PNG, empty) stops the run with an error naming it, after
// what was computed so far is saved; grayscale, CMYK and paletted images are converted to
// RGB. A vector with a NaN or infinity, or all zeros, is an error naming its file.
func EmbedFilesWith(enc Encoder, paths []string, opt EmbedOptions) ([][]float32, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 32
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 256
	}
	if opt.Label == "" {
		opt.Label = "embedding with " + enc.Name()
	}
	outputs := []JointOutput{{enc.Name(), enc.Dim()}}
	joint, isJoint := enc.(JointEncoder)
	if isJoint {
		outputs = joint.Joint()
	}
	weights, version := enc.Weights(), encoderVersion(enc)
	caches := make([]*cacheFile, len(outputs))
	self := -1
	for i, o := range outputs {
		unlock := lockCache(CachePath(opt.Dir, o.Name, weights, version))
		defer unlock()
		c, err := openCache(opt.Dir, o.Name, weights, version, o.Dim)
		if err != nil {
			return nil, err
		}
		caches[i] = c
		if o.Name == enc.Name() {
			self = i
		}
	}
	if self < 0 {
		return nil, fmt.Errorf("encoder %s: its joint outputs do not include itself", enc.Name())
	}
	mine := caches[self]

	// Hash every file; collect the ones to compute (each distinct content once).
	keys := make([][32]byte, len(paths))
	var todo []int
	queued := map[[32]byte]bool{}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		keys[i] = sha256.Sum256(data)
		if _, ok := mine.vecs[keys[i]]; !ok && !queued[keys[i]] {
			queued[keys[i]] = true
			todo = append(todo, i)
		}
	}

	flushAll := func() error {
		for _, c := range caches {
			if err := c.flush(); err != nil {
				return err
			}
		}
		return nil
	}
	if len(todo) > 0 {
		bar := progress.New(opt.Label, len(todo))
		defer bar.Done()
		// Decode the next batch while the encoder works on this one.
		type decoded struct {
			batch []int
			imgs  []image.Image
			err   error
		}
		batches := make(chan decoded, 1)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			defer close(batches)
			for start := 0; start < len(todo); start += opt.BatchSize {
				d := decoded{batch: todo[start:min(start+opt.BatchSize, len(todo))]}
				d.imgs = make([]image.Image, len(d.batch))
				for j, i := range d.batch {
					if d.imgs[j], d.err = dataset.LoadImage(paths[i]); d.err != nil {
						break
					}
				}
				select {
				case batches <- d:
				case <-stop:
					return
				}
				if d.err != nil {
					return
				}
			}
		}()
		sinceFlush := 0
		for d := range batches {
			if d.err != nil {
				return nil, errors.Join(d.err, flushAll())
			}
			batch := d.batch
			var results map[string][][]float32
			var err error
			if isJoint {
				results, err = joint.EmbedJoint(d.imgs)
			} else {
				var v [][]float32
				v, err = enc.Embed(d.imgs)
				results = map[string][][]float32{enc.Name(): v}
			}
			if err != nil {
				return nil, errors.Join(fmt.Errorf("%s..%s: %w", paths[batch[0]], paths[batch[len(batch)-1]], err), flushAll())
			}
			for ci, o := range outputs {
				vecs := results[o.Name]
				if len(vecs) != len(batch) {
					return nil, errors.Join(fmt.Errorf("encoder %s returned %d vectors for %d images", o.Name, len(vecs), len(batch)), flushAll())
				}
				for j, i := range batch {
					if err := checkVector(vecs[j], o.Dim); err != nil {
						return nil, errors.Join(fmt.Errorf("%s: %s: %w", paths[i], o.Name, err), flushAll())
					}
					caches[ci].vecs[keys[i]] = vecs[j]
					caches[ci].dirty = true
				}
			}
			bar.Add(len(batch))
			sinceFlush += len(batch)
			if sinceFlush >= opt.FlushEvery {
				if err := flushAll(); err != nil {
					return nil, err
				}
				sinceFlush = 0
			}
		}
		if err := flushAll(); err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(paths))
	for i := range paths {
		v, ok := mine.vecs[keys[i]]
		if !ok {
			return nil, fmt.Errorf("%s: not in the cache after embedding (internal error)", paths[i])
		}
		out[i] = v
	}
	return out, nil
}

// checkVector rejects vectors that cannot be features.
func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("vector of length %d, want %d", len(v), dim)
	}
	zero := true
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is %v", i, x)
		}
		zero = zero && x == 0
	}
	if zero {
		return fmt.Errorf("all-zero vector")
	}
	return nil
}

// NSFWFiles returns nsfwjs' class probabilities for the image files, through the cache
// (computed in the same pass as, and cached with, the InceptionV3 features).
func NSFWFiles(paths []string) ([]NSFWScores, error) {
	enc, err := NSFWEncoder()
	if err != nil {
		return nil, err
	}
	vecs, err := EmbedFiles(enc, paths)
	if err != nil {
		return nil, err
	}
	out := make([]NSFWScores, len(vecs))
	for i, v := range vecs {
		copy(out[i][:], v)
	}
	return out, nil
}
