package search

// The lasting index of a photo folder: `withsense index DIR` writes it, `search` and
// `serve` read it and never decode a photo.
//
// File: a gob-encoded storedIndex (below), always replaced whole through lib/atomicfile.
// Photos are identified by the sha256 of their bytes: an unchanged file (same path, size
// and modification time) is not even read again, a moved or copied one is not embedded
// again, a new or changed one is, and a removed one is dropped. The file is rewritten
// after every batch of embedded photos, so an interrupted run (even kill -9) loses at
// most one batch and the next run resumes from the photos already stored.

import (
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
)

// indexFormat is bumped when storedIndex changes shape; an older file is an error that
// says to index the folder again.
const indexFormat = 1

type storedIndex struct {
	Format   int
	Root     string   // the folder, absolute
	Encoders []string // every photo has a vector of each
	Photos   []storedPhoto
	Skipped  []string
}

type storedPhoto struct {
	Path          string // relative to Root, with forward slashes
	Size, ModTime int64  // to skip re-reading an unchanged file (ModTime in Unix ns)
	Hash          [32]byte
	Width, Height int // as viewers show it (EXIF orientation applied)
	Vecs          map[string][]float32
	NSFW          imageenc.NSFWScores
}

// Embedder computes what an index stores for a batch of photo files: a normalised vector
// per encoder and the NSFW head's scores, in paths order.
type Embedder interface {
	Encoders() []string
	Embed(paths []string) (map[string][][]float32, []imageenc.NSFWScores, error)
}

// ModelEmbedder embeds with the named image encoders (features.ImageTable, through the
// embedding cache) and nsfwjs' head.
type ModelEmbedder struct{ Names []string }

// Encoders returns the encoder names.
func (m ModelEmbedder) Encoders() []string { return m.Names }

// Embed embeds a batch; the files must have distinct names.
func (m ModelEmbedder) Embed(paths []string) (map[string][][]float32, []imageenc.NSFWScores, error) {
	out := map[string][][]float32{}
	for _, name := range m.Names {
		t, err := features.ImageTable(name, paths)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range paths {
			out[name] = append(out[name], t.Vecs[filepath.Base(p)])
		}
	}
	nsfw, err := imageenc.NSFWFiles(paths)
	return out, nsfw, err
}

// IndexOptions tune UpdateIndex; zero values take the defaults.
type IndexOptions struct {
	BatchSize int              // photos embedded between checkpoints (default 64)
	MaxPixels int              // the decompression-bomb guard (default DefaultMaxPixels)
	Warn      func(msg string) // told about every skipped file (default: none)
}

// IndexStats says what an UpdateIndex run did.
type IndexStats struct {
	Photos, Embedded, Reused, Removed, Skipped int
}

// IndexPath is where the index of a folder lives by default:
// data/cache/index/<first 16 hex digits of sha256(absolute folder)>.idx.
func IndexPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(project.CacheDir(), "index", hex.EncodeToString(h[:8])+".idx"), nil
}

func readStored(path string) (*storedIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s storedIndex
	if err := gob.NewDecoder(f).Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: not a photo index (%v): delete it and index the folder again", path, err)
	}
	if s.Format != indexFormat {
		return nil, fmt.Errorf("%s: index format %d, this program reads %d: index the folder again", path, s.Format, indexFormat)
	}
	return &s, nil
}

func writeStored(path string, s *storedIndex) error {
	return atomicfile.Write(path, func(w io.Writer) error { return gob.NewEncoder(w).Encode(s) })
}

// hasAll reports whether the photo has a vector of every encoder.
func (p *storedPhoto) hasAll(encoders []string) bool {
	for _, e := range encoders {
		if p.Vecs[e] == nil {
			return false
		}
	}
	return true
}

// UpdateIndex brings the index file at path up to date with the photos under dir
// (recursively: .jpg, .jpeg, .png, .gif, .webp; symbolic links are not followed) and
// returns it loaded. See the file comment for what is recomputed and when it is saved.
func UpdateIndex(dir, path string, emb Embedder, opt IndexOptions) (*Index, IndexStats, error) {
	var st IndexStats
	if opt.BatchSize <= 0 {
		opt.BatchSize = 64
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = DefaultMaxPixels
	}
	warn := func(msg string) {
		st.Skipped++
		if opt.Warn != nil {
			opt.Warn(msg)
		}
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, st, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, st, fmt.Errorf("photo folder: %w", err)
	} else if !fi.IsDir() {
		return nil, st, fmt.Errorf("photo folder %s is not a folder", root)
	}
	encoders := emb.Encoders()
	old := &storedIndex{}
	if s, err := readStored(path); err == nil {
		old = s
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, st, err
	}
	byPath := map[string]storedPhoto{}
	byHash := map[[32]byte]storedPhoto{}
	for _, p := range old.Photos {
		if p.hasAll(encoders) {
			byPath[p.Path] = p
			byHash[p.Hash] = p
		}
	}

	// Scan: reuse what is stored, queue the rest (each distinct content once).
	cur := &storedIndex{Format: indexFormat, Root: root, Encoders: encoders}
	type pending struct {
		photo storedPhoto
		path  string // the photo's file
		name  string // the name of the file embedded: its own, or <hash>.png for a turned photo's copy
	}
	var queue []pending
	queued := map[[32]byte]bool{}
	var dups []storedPhoto // copies of a queued photo, filled in once it is embedded
	walked := map[string]bool{}
	tmp, err := os.MkdirTemp("", "withsense-index-")
	if err != nil {
		return nil, st, err
	}
	defer os.RemoveAll(tmp)
	skip := func(err error) {
		warn(fmt.Sprintf("skipping %v", err))
		cur.Skipped = append(cur.Skipped, err.Error())
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			warn(fmt.Sprintf("skipping %v", err))
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !photoExts[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			warn(fmt.Sprintf("skipping %v", err))
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		walked[rel] = true
		if o, ok := byPath[rel]; ok && o.Size == fi.Size() && o.ModTime == fi.ModTime().UnixNano() {
			cur.Photos = append(cur.Photos, o)
			st.Reused++
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			warn(fmt.Sprintf("skipping %v", err))
			return nil
		}
		ph := storedPhoto{Path: rel, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Hash: sha256.Sum256(data)}
		if o, ok := byHash[ph.Hash]; ok {
			ph.Width, ph.Height, ph.Vecs, ph.NSFW = o.Width, o.Height, o.Vecs, o.NSFW
			cur.Photos = append(cur.Photos, ph)
			st.Reused++
			return nil
		}
		if queued[ph.Hash] {
			dups = append(dups, ph)
			return nil
		}
		if _, err := checkDims(p, data, opt.MaxPixels); err != nil {
			skip(err)
			return nil
		}
		name := filepath.Base(p)
		if Orientation(data) != 1 {
			name = hex.EncodeToString(ph.Hash[:]) + ".png"
		}
		queued[ph.Hash] = true
		queue = append(queue, pending{ph, p, name})
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	for _, p := range old.Photos {
		if !walked[p.Path] {
			st.Removed++
		}
	}

	// Embed in batches, saving after each.
	if err := writeStored(path, cur); err != nil {
		return nil, st, err
	}
	if len(queue) > 0 {
		bar := progress.New("indexing "+root, len(queue))
		defer bar.Done()
		for len(queue) > 0 {
			// A batch of distinct file names (the embedding table is keyed by name).
			var batch []pending
			names := map[string]bool{}
			rest := queue[:0:0]
			for _, q := range queue {
				if len(batch) < opt.BatchSize && !names[q.name] {
					names[q.name] = true
					batch = append(batch, q)
				} else {
					rest = append(rest, q)
				}
			}
			queue = rest
			// Decode each photo in full (a corrupt one is skipped) and write the turned
			// ones' copies, for this batch only.
			var files []string
			ready := batch[:0]
			for _, q := range batch {
				file, w, h, err := preparePhotoFile(q.path, hex.EncodeToString(q.photo.Hash[:]), opt.MaxPixels, tmp)
				if err != nil {
					skip(err)
					continue
				}
				q.photo.Width, q.photo.Height = w, h
				files = append(files, file)
				ready = append(ready, q)
			}
			bar.Add(len(batch) - len(ready))
			batch = ready
			if len(batch) == 0 {
				continue
			}
			vecs, nsfw, err := emb.Embed(files)
			for _, f := range files {
				if filepath.Dir(f) == tmp {
					os.Remove(f)
				}
			}
			if err == nil && len(nsfw) != len(batch) {
				err = fmt.Errorf("embedder gave %d NSFW scores for %d photos", len(nsfw), len(batch))
			}
			if err != nil {
				return nil, st, fmt.Errorf("indexing %s (%d photos stored, %d to go: run again to resume): %w", root, len(cur.Photos), len(queue)+len(batch), err)
			}
			for i, q := range batch {
				q.photo.Vecs = map[string][]float32{}
				for _, e := range encoders {
					if len(vecs[e]) != len(batch) {
						return nil, st, fmt.Errorf("embedder gave %d %s vectors for %d photos", len(vecs[e]), e, len(batch))
					}
					q.photo.Vecs[e] = vecs[e][i]
				}
				q.photo.NSFW = nsfw[i]
				cur.Photos = append(cur.Photos, q.photo)
				byHash[q.photo.Hash] = q.photo
				st.Embedded++
			}
			if err := writeStored(path, sortStored(cur)); err != nil {
				return nil, st, err
			}
			bar.Add(len(batch))
		}
	}
	for _, d := range dups {
		o, ok := byHash[d.Hash]
		if !ok { // its first copy was skipped
			skip(fmt.Errorf("%s: same content as a skipped photo", filepath.Join(root, d.Path)))
			continue
		}
		d.Width, d.Height, d.Vecs, d.NSFW = o.Width, o.Height, o.Vecs, o.NSFW
		cur.Photos = append(cur.Photos, d)
		st.Reused++
	}
	if err := writeStored(path, sortStored(cur)); err != nil {
		return nil, st, err
	}
	st.Photos = len(cur.Photos)
	if st.Photos == 0 {
		return nil, st, fmt.Errorf("%s: no JPEG, PNG, GIF or WebP photo to index (%d files skipped)", root, st.Skipped)
	}
	ix, err := cur.index(path)
	return ix, st, err
}

func sortStored(s *storedIndex) *storedIndex {
	slices.SortFunc(s.Photos, func(a, b storedPhoto) int { return strings.Compare(a.Path, b.Path) })
	return s
}

// index turns the stored photos into a search Index (paths absolute).
func (s *storedIndex) index(file string) (*Index, error) {
	ix := &Index{Vecs: map[string][][]float32{}, Skipped: s.Skipped}
	for _, e := range s.Encoders {
		ix.Vecs[e] = make([][]float32, 0, len(s.Photos))
	}
	for _, p := range s.Photos {
		if !p.hasAll(s.Encoders) {
			return nil, fmt.Errorf("%s: photo %s lacks vectors of %v: index the folder again", file, p.Path, s.Encoders)
		}
		ix.Paths = append(ix.Paths, filepath.Join(s.Root, filepath.FromSlash(p.Path)))
		ix.IDs = append(ix.IDs, hex.EncodeToString(p.Hash[:]))
		ix.NSFW = append(ix.NSFW, p.NSFW)
		for _, e := range s.Encoders {
			ix.Vecs[e] = append(ix.Vecs[e], p.Vecs[e])
		}
	}
	return ix, nil
}

// LoadIndex reads an index file written by UpdateIndex. An index without photos is an
// error (nothing to search).
func LoadIndex(path string) (*Index, error) {
	s, err := readStored(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no photo index at %s: run `withsense index DIR` first", path)
	}
	if err != nil {
		return nil, err
	}
	if len(s.Photos) == 0 {
		return nil, fmt.Errorf("%s: the index of %s has no photos", path, s.Root)
	}
	return s.index(path)
}
