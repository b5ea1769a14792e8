package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/study"
)

func init() {
	commands["search"] = command{
		summary: "print the photos that best match a description, best first",
		usage:   `search "QUERY" [-k 5] [-json] [-images DIR]`,
		run:     runSearch,
	}
	commands["index"] = command{
		summary: "build (or refresh) the search index of a folder of photos: embeddings are cached",
		usage:   "index DIR",
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

// photos returns the photos to search: a folder's readable photos (warning about the
// others), or the dataset's when dir is empty.
func photos(dir string) ([]string, error) {
	if dir == "" {
		return study.DatasetPhotos()
	}
	paths, err := search.Folder(dir)
	if err != nil {
		return nil, err
	}
	ok := search.Readable(paths, func(w string) { fmt.Fprintln(os.Stderr, "warning:", w) })
	if len(ok) == 0 {
		return nil, fmt.Errorf("no readable photo in %s", dir)
	}
	return ok, nil
}

func runSearch(args []string) error {
	fs := flags("search")
	k := fs.Int("k", 5, "number of photos to show")
	asJSON := fs.Bool("json", false, "print the answer as JSON (for scripts)")
	dir := fs.String("images", "", "folder of photos to search (default: the dataset's 1,100 photos)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want one quoted query, got %d arguments", len(pos))
	}
	paths, err := photos(*dir)
	if err != nil {
		return err
	}
	s, err := study.NewSearcher(paths)
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
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want one folder, got %d arguments", len(pos))
	}
	paths, err := photos(pos[0])
	if err != nil {
		return err
	}
	ix, err := study.BuildIndex(paths)
	if err != nil {
		return err
	}
	hidden := 0
	for _, h := range ix.Hidden() {
		if h {
			hidden++
		}
	}
	abs, _ := filepath.Abs(pos[0])
	fmt.Printf("indexed %d photos of %s with %s (%d hidden by the NSFW guard); embeddings cached\n",
		len(ix.Paths), abs, strings.Join(study.IndexEncoders(), ", "), hidden)
	return nil
}
