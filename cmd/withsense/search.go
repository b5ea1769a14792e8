package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/search"
)

func init() {
	commands["search"] = command{
		summary: "print the photos that best match a description, best first",
		usage:   `search "QUERY" [-k 5] [-json] [-images DIR | -index FILE] [-variant NAME]`,
		run:     runSearch,
	}
	commands["index"] = command{
		summary: "build (or bring up to date) the lasting search index of a folder of photos",
		usage:   "index DIR [-o FILE] [-max-pixels N] [-batch N]",
		run:     runIndex,
	}
}

// parseInterleaved parses flags that may come before or after positional arguments
// (`search "two dogs" -k 3`), returning the positional ones.
func parseInterleaved(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openSearcher opens the search over an index file, a folder's index (written by
// `withsense index`), or the dataset's 1,100 photos when both are empty.
func openSearcher(dir, indexFile, variant string) (*search.Searcher, error) {
	cfg, err := search.LoadConfig()
	if err != nil {
		return nil, err
	}
	if dir == "" && indexFile == "" {
		c, err := dataset.LoadDefault()
		if err != nil {
			return nil, err
		}
		return search.OpenPhotos(cfg, c.AllPhotos(), variant)
	}
	if indexFile == "" {
		if indexFile, err = search.IndexPath(dir); err != nil {
			return nil, err
		}
	}
	ix, err := search.LoadIndex(indexFile)
	if err != nil {
		return nil, err
	}
	return search.OpenWith(cfg, ix, variant)
}

func runSearch(args []string) error {
	fs := flags("search")
	k := fs.Int("k", 5, "number of photos to show")
	asJSON := fs.Bool("json", false, "print the answer as JSON (for scripts)")
	dir := fs.String("images", "", "indexed folder of photos to search (default: the dataset's 1,100 photos)")
	indexFile := fs.String("index", "", "index file to search (default: the folder's, under data/cache/index)")
	variant := fs.String("variant", "", "search variant: "+strings.Join(search.Variants, ", ")+" (default: the one the study measured best)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want one quoted query, got %d arguments", len(pos))
	}
	s, err := openSearcher(*dir, *indexFile, *variant)
	if err != nil {
		return err
	}
	ans, err := s.Search(pos[0], *k)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ans)
	}
	if ans.Blocked {
		fmt.Println(ans.Notice)
		return nil
	}
	fmt.Printf("%d photos for %q (scorer: %s", len(ans.Results), ans.Query, ans.Scorer)
	if ans.Hidden > 0 {
		fmt.Printf(", %d hidden by the NSFW guard", ans.Hidden)
	}
	fmt.Println(")")
	for _, r := range ans.Results {
		fmt.Printf("%3d  %8.4f  %s\n", r.Rank, r.Score, r.Path)
	}
	return nil
}

func runIndex(args []string) error {
	fs := flags("index")
	out := fs.String("o", "", "index file to write (default: data/cache/index/<hash of the folder>.idx)")
	maxPixels := fs.Int("max-pixels", search.DefaultMaxPixels, "skip photos larger than this many pixels (decompression-bomb guard)")
	batch := fs.Int("batch", 64, "photos embedded between checkpoints of the index file")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want one folder, got %d arguments", len(pos))
	}
	cfg, err := search.LoadConfig()
	if err != nil {
		return err
	}
	encoders, err := cfg.ImageEncoders()
	if err != nil {
		return err
	}
	if *out == "" {
		if *out, err = search.IndexPath(pos[0]); err != nil {
			return err
		}
	}
	ix, st, err := search.UpdateIndex(pos[0], *out, search.ModelEmbedder{Names: encoders}, search.IndexOptions{
		BatchSize: *batch, MaxPixels: *maxPixels, Warn: func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) }})
	if err != nil {
		return err
	}
	hidden := 0
	for _, h := range ix.Hidden() {
		if h {
			hidden++
		}
	}
	fmt.Printf("indexed %d photos into %s with %s: %d embedded, %d reused (unchanged, moved or copied), %d removed, %d skipped; %d hidden by the NSFW guard\n",
		st.Photos, *out, strings.Join(encoders, ", "), st.Embedded, st.Reused, st.Removed, st.Skipped, hidden)
	return nil
}
