// Package imageenc turns photos into feature vectors. Every encoder has a name, a
// dimension and an identity of its weights (for the embedding cache); the pipeline picks
// encoders by name from one registry, so notebooks, command line and search agree.
package imageenc

import (
	"image"

	"github.com/withsense/withsense/lib/registry"
)

// Encoder embeds a batch of decoded images into float32 vectors of length Dim().
type Encoder interface {
	Name() string
	Dim() int
	// Weights identifies the exact weights (the sha256 of the files they come from), so
	// cached embeddings are never reused across different weights.
	Weights() string
	Embed(imgs []image.Image) ([][]float32, error)
}

// Encoders is the registry of image encoders. A factory loads (and if needed fetches)
// its weights; one whose weights are missing returns an error that names the file and
// says how to get it.
var Encoders = registry.New[Encoder]("image encoder")
