package train

import (
	"fmt"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the pure Go backend: always there, nothing to download
)

var (
	backendOnce sync.Once
	backendVal  compute.Backend
	backendErr  error
)

// Backend returns the GoMLX backend every model of the project computes on, created
// once: the one $GOMLX_BACKEND names if set (e.g. "go", or "xla:cuda" in a program that
// links XLA), else the pure Go backend.
func Backend() (compute.Backend, error) {
	backendOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil { // compute.NewWithConfig panics on an unknown name
				backendErr = fmt.Errorf("GoMLX backend: %v (registered: %v)", r, compute.List())
			}
		}()
		backendVal, backendErr = compute.New()
		if backendErr != nil {
			backendErr = fmt.Errorf("GoMLX backend: %w", backendErr)
		}
	})
	return backendVal, backendErr
}
