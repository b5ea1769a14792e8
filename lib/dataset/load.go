package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pair is one row of train_dataset.csv: a photo and a caption written for another (or
// the same) photo; QueryID is "<photo>#<n>", naming the caption in Flickr8k.
type Pair struct {
	Image, QueryID, Text string
}

// Expert is one row of ExpertAnnotations.tsv: three experts' scores on 1..4 for a pair.
type Expert struct {
	Image, QueryID string
	Scores         [3]int
}

// Crowd is one row of CrowdAnnotations.tsv: the share of crowd workers who said the
// caption describes the photo, and the yes/no counts.
type Crowd struct {
	Image, QueryID string
	ShareYes       float64
	Yes, No        int
}

// TestQuery is one row of test_queries.csv: a caption and the one test photo it describes.
type TestQuery struct {
	QueryID, Text, Image string
}

// Caption is one Flickr8k caption: ID is "<photo>#<n>", n in 0..4.
type Caption struct {
	ID, Image, Text string
}

// table reads a delimited file and checks every record has exactly len(header) fields.
// If hasHeader, the first line must equal header. It calls row for each data record with
// its 1-based line number. Tab-separated files are split on tabs alone (they are not
// quoted, and Flickr captions may hold '"'); others are parsed as CSV with quoting.
func table(path string, comma rune, header []string, hasHeader bool, row func(line int, rec []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	name := filepath.Base(path)
	next := records(f, comma)
	first := true
	for {
		line, rec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if first && hasHeader {
			first = false
			if !slices.Equal(rec, header) {
				return fmt.Errorf("%s:%d: header %q, want %q", name, line, strings.Join(rec, string(comma)), strings.Join(header, string(comma)))
			}
			continue
		}
		first = false
		if len(rec) != len(header) {
			return fmt.Errorf("%s:%d: %d columns, want %d (%s)", name, line, len(rec), len(header), strings.Join(header, ", "))
		}
		for i, v := range rec {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("%s:%d: empty %s", name, line, header[i])
			}
		}
		if err := row(line, rec); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if first {
		return fmt.Errorf("%s: empty file", name)
	}
	return nil
}

// records returns an iterator over the file's records and their line numbers.
func records(r io.Reader, comma rune) func() (int, []string, error) {
	if comma == '\t' {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		line := 0
		return func() (int, []string, error) {
			for sc.Scan() {
				line++
				text := strings.TrimSuffix(sc.Text(), "\r")
				if text == "" {
					continue
				}
				if !utf8.ValidString(text) {
					return line, nil, fmt.Errorf("not valid UTF-8 text")
				}
				return line, strings.Split(text, "\t"), nil
			}
			if err := sc.Err(); err != nil {
				return line + 1, nil, err
			}
			return line, nil, io.EOF
		}
	}
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	return func() (int, []string, error) {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return pe.StartLine, nil, pe.Err
			}
			return 0, nil, err
		}
		line, _ := cr.FieldPos(0)
		return line, rec, nil
	}
}

// pairKey identifies a (photo, caption) pair.
type pairKey struct{ image, query string }

// dupCheck returns a function that reports a pair seen twice, with the earlier line.
func dupCheck() func(line int, image, query string) error {
	seen := map[pairKey]int{}
	return func(line int, image, query string) error {
		k := pairKey{image, query}
		if prev, ok := seen[k]; ok {
			return fmt.Errorf("duplicate pair (%s, %s), first on line %d", image, query, prev)
		}
		seen[k] = line
		return nil
	}
}

func checkImageName(col, v string) error {
	if !strings.HasSuffix(v, ".jpg") || strings.ContainsAny(v, "/\\") {
		return fmt.Errorf("%s %q is not a photo file name (<id>.jpg)", col, v)
	}
	return nil
}

func checkQueryID(v string) error {
	img, n, ok := strings.Cut(v, "#")
	if !ok || checkImageName("query_id", img) != nil || len(n) != 1 || n[0] < '0' || n[0] > '4' {
		return fmt.Errorf("query_id %q is not <photo>.jpg#<0..4>", v)
	}
	return nil
}

// LoadPairs reads train_dataset.csv (header image,query_id,query_text).
func LoadPairs(path string) ([]Pair, error) {
	var out []Pair
	dup := dupCheck()
	err := table(path, ',', []string{"image", "query_id", "query_text"}, true, func(line int, r []string) error {
		if err := checkImageName("image", r[0]); err != nil {
			return err
		}
		if err := checkQueryID(r[1]); err != nil {
			return err
		}
		if err := dup(line, r[0], r[1]); err != nil {
			return err
		}
		out = append(out, Pair{Image: r[0], QueryID: r[1], Text: r[2]})
		return nil
	})
	return out, err
}

// LoadExpert reads ExpertAnnotations.tsv (no header: image, query_id, three scores 1..4).
func LoadExpert(path string) ([]Expert, error) {
	var out []Expert
	dup := dupCheck()
	cols := []string{"image", "query_id", "expert1", "expert2", "expert3"}
	err := table(path, '\t', cols, false, func(line int, r []string) error {
		if err := checkImageName("image", r[0]); err != nil {
			return err
		}
		if err := checkQueryID(r[1]); err != nil {
			return err
		}
		e := Expert{Image: r[0], QueryID: r[1]}
		for i := range 3 {
			v, err := strconv.Atoi(r[2+i])
			if err != nil || v < 1 || v > 4 {
				return fmt.Errorf("%s score %q not in 1..4", cols[2+i], r[2+i])
			}
			e.Scores[i] = v
		}
		if err := dup(line, r[0], r[1]); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// LoadCrowd reads CrowdAnnotations.tsv (no header: image, query_id, share of yes in 0..1,
// yes count, no count), checking that the share matches the counts.
func LoadCrowd(path string) ([]Crowd, error) {
	var out []Crowd
	dup := dupCheck()
	cols := []string{"image", "query_id", "share_yes", "n_yes", "n_no"}
	err := table(path, '\t', cols, false, func(line int, r []string) error {
		if err := checkImageName("image", r[0]); err != nil {
			return err
		}
		if err := checkQueryID(r[1]); err != nil {
			return err
		}
		c := Crowd{Image: r[0], QueryID: r[1]}
		var err error
		if c.ShareYes, err = strconv.ParseFloat(r[2], 64); err != nil || c.ShareYes < 0 || c.ShareYes > 1 {
			return fmt.Errorf("share_yes %q not in 0..1", r[2])
		}
		if c.Yes, err = strconv.Atoi(r[3]); err != nil || c.Yes < 0 {
			return fmt.Errorf("n_yes %q is not a count", r[3])
		}
		if c.No, err = strconv.Atoi(r[4]); err != nil || c.No < 0 {
			return fmt.Errorf("n_no %q is not a count", r[4])
		}
		if n := c.Yes + c.No; n == 0 || abs(float64(c.Yes)/float64(n)-c.ShareYes) > 0.01 {
			return fmt.Errorf("share_yes %s does not match n_yes %d, n_no %d", r[2], c.Yes, c.No)
		}
		if err := dup(line, r[0], r[1]); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// LoadTestQueries reads test_queries.csv: '|'-separated, quoted where a text holds '"',
// with an unnamed index column first (header "|query_id|query_text|image").
func LoadTestQueries(path string) ([]TestQuery, error) {
	var out []TestQuery
	seen := map[string]int{}
	err := table(path, '|', []string{"", "query_id", "query_text", "image"}, true, func(line int, r []string) error {
		if _, err := strconv.Atoi(r[0]); err != nil {
			return fmt.Errorf("index %q is not a number", r[0])
		}
		if err := checkQueryID(r[1]); err != nil {
			return err
		}
		if err := checkImageName("image", r[3]); err != nil {
			return err
		}
		if prev, ok := seen[r[1]]; ok {
			return fmt.Errorf("duplicate query_id %s, first on line %d", r[1], prev)
		}
		seen[r[1]] = line
		out = append(out, TestQuery{QueryID: r[1], Text: r[2], Image: r[3]})
		return nil
	})
	return out, err
}

// LoadTestImages reads test_images.csv (header image).
func LoadTestImages(path string) ([]string, error) {
	var out []string
	seen := map[string]int{}
	err := table(path, ',', []string{"image"}, true, func(line int, r []string) error {
		if err := checkImageName("image", r[0]); err != nil {
			return err
		}
		if prev, ok := seen[r[0]]; ok {
			return fmt.Errorf("duplicate image %s, first on line %d", r[0], prev)
		}
		seen[r[0]] = line
		out = append(out, r[0])
		return nil
	})
	return out, err
}

// LoadCaptions reads Flickr8k.token.txt ("<photo>.jpg#<n>\t<caption>"), skipping the
// file's one known bogus id (2258277193_586949ec62.jpg.1, which has no photo).
func LoadCaptions(path string) ([]Caption, error) {
	var out []Caption
	seen := map[string]int{}
	err := table(path, '\t', []string{"id", "caption"}, false, func(line int, r []string) error {
		if strings.HasPrefix(r[0], "2258277193_586949ec62.jpg.1#") {
			return nil
		}
		if err := checkQueryID(r[0]); err != nil {
			return err
		}
		if prev, ok := seen[r[0]]; ok {
			return fmt.Errorf("duplicate caption id %s, first on line %d", r[0], prev)
		}
		seen[r[0]] = line
		img, _, _ := strings.Cut(r[0], "#")
		out = append(out, Caption{ID: r[0], Image: img, Text: r[1]})
		return nil
	})
	return out, err
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
