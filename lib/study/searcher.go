package study

import (
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/search"
)

// WriteSearchConfig records the retrieval report's models (the final two-tower's every
// seed when validation chose their ensemble) and default variant as the search's
// configuration (search.WriteConfig), for the command line and the server.
func WriteSearchConfig(r *RetrievalReport) error {
	return search.WriteConfig(searchConfig(r.Default, r.SearchTwoTowers(), r))
}

// DatasetPhotos returns the dataset's 1,100 photos.
func DatasetPhotos() ([]string, error) {
	c, err := dataset.LoadDefault()
	if err != nil {
		return nil, err
	}
	return c.AllPhotos(), nil
}

// NewSearcher opens the search the study trained over the photos, with its default
// variant (the notebooks' way to run the product's search).
func NewSearcher(paths []string) (*search.Searcher, error) {
	cfg, err := search.LoadConfig()
	if err != nil {
		return nil, err
	}
	return search.OpenPhotos(cfg, paths, "")
}
