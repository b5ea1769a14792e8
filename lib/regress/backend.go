package regress

import (
	"github.com/gomlx/compute"

	"github.com/withsense/withsense/lib/train"
)

// Backend returns the GoMLX backend the models here compute on: train.Backend, the one
// of every model of the project.
func Backend() (compute.Backend, error) { return train.Backend() }
