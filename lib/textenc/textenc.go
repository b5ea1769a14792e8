// Package textenc turns descriptions into feature vectors. Every encoder has a name and a
// dimension; the pipeline picks encoders by name from one registry, so notebooks, command
// line and search agree.
package textenc

import "github.com/withsense/withsense/lib/registry"

// Encoder embeds a batch of texts into float32 vectors of length Dim().
type Encoder interface {
	Name() string
	Dim() int
	// Weights identifies the exact weights (the sha256 of the files they come from).
	Weights() string
	Embed(texts []string) ([][]float32, error)
}

// Encoders is the registry of text encoders. A factory loads (and if needed fetches) its
// weights; one whose weights are missing returns an error that names the file and says
// how to get it. A name "a+b" opens the registered encoders a and b joined (Join).
var Encoders = registry.New[Encoder]("text encoder")
