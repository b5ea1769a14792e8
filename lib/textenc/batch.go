package textenc

import (
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// Batcher merges the calls of a batch function that many goroutines make at about the
// same time into one call (dynamic batching, as inference servers do it): a GoMLX
// execution of 32 rows costs far less than 32 executions of one (USE: about 30 ms against
// 32 × 3.5 ms). The first caller of a batch waits at most maxWait for others (less once
// maxBatch inputs wait), then for the batch before it to finish, and runs every input that
// arrived meanwhile: up to maxBatch, and a power of two of them where the calls allow it,
// so that a compiled model sees few batch shapes; a call is never split. Each caller gets
// its own inputs' outputs, in order. If the merged call fails, each call of the batch is
// run alone, so that one caller's bad input fails only that caller.
type Batcher[In, Out any] struct {
	fn       func([]In) ([]Out, error)
	maxBatch int
	maxWait  time.Duration

	run sync.Mutex // held while fn runs a batch: one batch at a time

	mu      sync.Mutex
	pending []*batchCall[In, Out]
	size    int           // inputs in pending
	leading bool          // pending[0] has been told to lead the next batch
	full    chan struct{} // signalled when size reaches maxBatch
}

// batchCall is one caller's part of a batch.
type batchCall[In, Out any] struct {
	in   []In
	out  []Out
	err  error
	lead chan struct{} // this call is to run the next batch
	done chan struct{} // out and err are set
}

// NewBatcher returns a Batcher of fn; maxBatch below 1 stands for 1 (no merging).
func NewBatcher[In, Out any](fn func([]In) ([]Out, error), maxBatch int, maxWait time.Duration) *Batcher[In, Out] {
	return &Batcher[In, Out]{fn: fn, maxBatch: max(1, maxBatch), maxWait: max(0, maxWait), full: make(chan struct{}, 1)}
}

// Do returns fn(in), computed in a batch with the inputs of concurrent calls. A call of
// MaxBatch inputs or more, or of none, runs on its own.
func (b *Batcher[In, Out]) Do(in []In) ([]Out, error) {
	if len(in) == 0 || len(in) >= b.maxBatch {
		return b.call(in)
	}
	c := &batchCall[In, Out]{in: in, lead: make(chan struct{}, 1), done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	b.size += len(in)
	if !b.leading {
		b.leading = true
		c.lead <- struct{}{}
	}
	if b.size >= b.maxBatch {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	for {
		select {
		case <-c.done:
			return c.out, c.err
		case <-c.lead:
			b.runBatch()
		}
	}
}

// runBatch waits for the batch to fill (at most maxWait) and for the previous batch to
// finish, takes the waiting calls (up to the largest power of two of inputs waiting, at
// most maxBatch), hands the lead of the rest to
// the first of them, and runs the batch.
func (b *Batcher[In, Out]) runBatch() {
	b.mu.Lock()
	size := b.size
	b.mu.Unlock()
	if size < b.maxBatch && b.maxWait > 0 {
		t := time.NewTimer(b.maxWait)
		select {
		case <-t.C:
		case <-b.full:
		}
		t.Stop()
	}
	b.run.Lock()
	defer b.run.Unlock()
	b.mu.Lock()
	var batch []*batchCall[In, Out]
	n, limit := 0, min(b.maxBatch, 1<<(bits.Len(uint(b.size))-1))
	for len(b.pending) > 0 && (n == 0 || n+len(b.pending[0].in) <= limit) {
		batch = append(batch, b.pending[0])
		n += len(b.pending[0].in)
		b.pending = b.pending[1:]
	}
	b.size -= n
	select { // a signal of the batch just taken
	case <-b.full:
	default:
	}
	if len(b.pending) > 0 {
		b.pending[0].lead <- struct{}{}
	} else {
		b.leading = false
	}
	b.mu.Unlock()
	b.exec(batch, n)
}

// exec runs a batch of calls holding n inputs in all and hands each call its outputs.
func (b *Batcher[In, Out]) exec(batch []*batchCall[In, Out], n int) {
	in := make([]In, 0, n)
	for _, c := range batch {
		in = append(in, c.in...)
	}
	out, err := b.call(in)
	if err == nil && len(out) != n {
		err = fmt.Errorf("batch of %d inputs gave %d outputs", n, len(out))
	}
	for _, c := range batch {
		switch {
		case err != nil && len(batch) > 1:
			c.out, c.err = b.call(c.in)
		case err != nil:
			c.err = err
		default:
			c.out, out = out[:len(c.in):len(c.in)], out[len(c.in):]
		}
		close(c.done)
	}
}

// call is fn, with a panic turned into an error (callers of a batch must not wait forever).
func (b *Batcher[In, Out]) call(in []In) (out []Out, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("batch of %d inputs: %v", len(in), r)
		}
	}()
	return b.fn(in)
}

// Batched returns enc with its Embed calls from concurrent goroutines merged into one Embed
// of enc (Batcher), at most maxBatch texts each, the first waiting at most maxWait. The
// vectors are enc's: an encoder whose vector of a text does not depend on the other texts
// of its batch (every one here, beyond float rounding) gives the same answers batched.
func Batched(enc Encoder, maxBatch int, maxWait time.Duration) Encoder {
	return &batched{Encoder: enc, b: NewBatcher(enc.Embed, maxBatch, maxWait)}
}

// batched is an Encoder whose Embed goes through a Batcher.
type batched struct {
	Encoder
	b *Batcher[string, []float32]
}

// Embed returns enc's vectors of the texts, computed in a batch with concurrent calls.
func (e *batched) Embed(texts []string) ([][]float32, error) { return e.b.Do(texts) }
