package train

import (
	"errors"
	"runtime"
	"sync"
)

// Each calls fn(0), …, fn(n−1), at most workers at a time (runtime.NumCPU() when
// workers ≤ 0), and returns their errors joined in index order. fn writes its results by index, so that they never
// depend on the scheduling: with each model seeded by its own index, n models trained
// at once give the bits they give one after the other.
func Each(n, workers int, fn func(i int) error) error {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	errs := make([]error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
