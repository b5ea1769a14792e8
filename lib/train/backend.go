package train

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend" // the pure Go backend: always there, nothing to download
)

// Backend returns the GoMLX backend every model of the project is trained and evaluated on,
// created once: the one $GOMLX_BACKEND names if set (e.g. "go", or "xla:cuda" in a program
// that links XLA), else the pure Go backend.
//
// On the Go backend each op of a training step runs on one worker ("intra_call_parallelism=1"):
// the backend splits some reductions (the bias gradient of a dense layer) over its workers
// and adds the parts in the order they finish, so a step's result would depend on how busy
// the machine is. With one worker per op, training is bit-for-bit reproducible whatever
// the scheduling (TestMLPDeterministicConcurrent, make repro); the cores are used by
// training several models at once (ensemble members, seeds, folds: Each).
func Backend() (compute.Backend, error) {
	backendOnce.Do(func() {
		backendVal, backendErr = newBackend(trainingConfig(os.Getenv(compute.ConfigEnvVar)))
	})
	return backendVal, backendErr
}

// EncoderBackend returns the backend the pretrained encoders run their forward passes on,
// created once: $GOMLX_BACKEND's, with every core working inside one pass on the Go
// backend (a forward pass reduces each output inside one worker, so its results do not
// depend on the scheduling).
func EncoderBackend() (compute.Backend, error) {
	encoderOnce.Do(func() {
		encoderVal, encoderErr = newBackend(os.Getenv(compute.ConfigEnvVar))
	})
	return encoderVal, encoderErr
}

var (
	backendOnce sync.Once
	backendVal  compute.Backend
	backendErr  error

	encoderOnce sync.Once
	encoderVal  compute.Backend
	encoderErr  error
)

// trainingConfig returns the backend configuration for training: config with one worker per
// op when it names the Go backend (or nothing, which selects it).
func trainingConfig(config string) string {
	name, opts, _ := strings.Cut(config, ":")
	if name != "" && name != gobackend.BackendName {
		return config
	}
	if strings.Contains(opts, "intra_call_parallelism") {
		return config
	}
	if opts != "" {
		opts += ","
	}
	return gobackend.BackendName + ":" + opts + "intra_call_parallelism=1"
}

func newBackend(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil { // compute.NewWithConfig panics on an unknown name
			b, err = nil, fmt.Errorf("GoMLX backend %q: %v (registered: %v)", config, r, compute.List())
		}
	}()
	if config == "" {
		b, err = compute.New()
	} else {
		b, err = compute.NewWithConfig(config)
	}
	if err != nil {
		return nil, fmt.Errorf("GoMLX backend %q: %w", config, err)
	}
	return b, nil
}
