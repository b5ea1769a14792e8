package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
)

func init() {
	commands["embed"] = command{
		summary: "embed the dataset's photos with the image encoders (cached under data/cache/embeddings)",
		usage:   "embed [-encoders a,b]",
		run:     embed,
	}
}

func embed(args []string) error {
	fs := flags("embed")
	names := fs.String("encoders", strings.Join(features.ImageEncoders, ","), "image encoders, comma-separated (have: "+strings.Join(imageenc.Encoders.Names(), ", ")+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := dataset.LoadDefault()
	if err != nil {
		return err
	}
	paths := c.AllPhotos()
	for _, name := range strings.Split(*names, ",") {
		enc, err := imageenc.Encoders.Open(strings.TrimSpace(name))
		if err != nil {
			fmt.Fprintf(os.Stderr, "skipping %s: %v\n", name, err)
			continue
		}
		start := time.Now()
		if _, err := imageenc.EmbedFiles(enc, paths); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d photos × %d dims in %s\n", enc.Name(), len(paths), enc.Dim(), time.Since(start).Round(time.Millisecond))
	}
	return nil
}
