// Package dataset loads and validates the «With Sense» course dataset (a Flickr8k subset
// with expert and crowd match scores) and the Flickr8k caption file, defines the target of
// the regressors, and splits pairs by image. Every loader checks its input and returns an
// error that names the file, line and value at fault; see PROVENANCE.md beside the data
// for the files' quirks.
package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/project"
)

// Environment variables that point at the data folders, checked before the defaults.
const (
	DataEnv     = "WITH_SENSE_DATA"
	Flickr8kEnv = "WITH_SENSE_FLICKR8K"
)

// Files of the course archive, relative to its folder.
const (
	TrainCSV        = "train_dataset.csv"
	ExpertTSV       = "ExpertAnnotations.tsv"
	CrowdTSV        = "CrowdAnnotations.tsv"
	TestQueriesCSV  = "test_queries.csv"
	TestImagesCSV   = "test_images.csv"
	TrainImagesDir  = "train_images"
	TestImagesDir   = "test_images"
	SumsFile        = "SHA256SUMS"
	Flickr8kCaption = "Flickr8k.token.txt"
)

// ErrNotFound is wrapped by Locate's errors when no candidate folder holds the data.
var ErrNotFound = errors.New("dataset not found")

// Candidates lists, in order, the folders Locate tries for the course archive:
// $WITH_SENSE_DATA, the project's data/with_sense (made by `make data`), and
// ../shared/data/with_sense beside the project.
func Candidates() []string {
	return candidates(DataEnv, "with_sense")
}

// Flickr8kCandidates is Candidates for the Flickr8k text files.
func Flickr8kCandidates() []string {
	return candidates(Flickr8kEnv, "flickr8k_text")
}

func candidates(env, name string) []string {
	var dirs []string
	if d := os.Getenv(env); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := project.Root(); err == nil {
		dirs = append(dirs, filepath.Join(root, "data", name),
			filepath.Join(filepath.Dir(root), "shared", "data", name))
	}
	return dirs
}

// Locate returns the first candidate folder that holds the course archive's files. If none
// does, the error lists every folder it looked in and what was missing there.
func Locate() (string, error) {
	return locate(Candidates(), courseFiles, "the course archive", DataEnv)
}

// courseFiles are the files and folders of the course archive that Locate looks for.
var courseFiles = []string{TrainCSV, ExpertTSV, CrowdTSV, TestQueriesCSV, TestImagesCSV, TrainImagesDir, TestImagesDir}

// LocateFlickr8k returns the folder of the Flickr8k text files (Flickr8k.token.txt).
func LocateFlickr8k() (string, error) {
	return locate(Flickr8kCandidates(), []string{Flickr8kCaption}, "the Flickr8k text files", Flickr8kEnv)
}

func locate(dirs, need []string, what, env string) (string, error) {
	// A variable the user set is what they asked for: a wrong one is an error, never a
	// silent fallback to another copy.
	if d := os.Getenv(env); d != "" {
		dirs = dirs[:1]
	}
	if len(dirs) == 0 {
		return "", fmt.Errorf("%w: %s not found: no folder to look in (not inside the project's checkout, and $%s is not set); run from the checkout or set $%s to the folder that holds %s",
			ErrNotFound, what, env, env, strings.Join(need, ", "))
	}
	var tried []string
	for _, dir := range dirs {
		var missing []string
		for _, f := range need {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				missing = append(missing, f)
			}
		}
		if len(missing) == 0 {
			return filepath.Abs(dir)
		}
		if len(missing) == len(need) {
			tried = append(tried, fmt.Sprintf("  %s: not there or empty", dir))
		} else {
			tried = append(tried, fmt.Sprintf("  %s: missing %s", dir, strings.Join(missing, ", ")))
		}
	}
	if d := os.Getenv(env); d != "" {
		return "", fmt.Errorf("%w: $%s=%s does not hold %s:\n%s\nset $%s to the folder that holds %s, or unset it",
			ErrNotFound, env, d, what, strings.Join(tried, "\n"), env, strings.Join(need, ", "))
	}
	return "", fmt.Errorf("%w: %s not found; looked in:\n%s\nset $%s to the folder that holds %s",
		ErrNotFound, what, strings.Join(tried, "\n"), env, strings.Join(need, ", "))
}
