package textenc

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingEncoder is a deterministic encoder that records the size of every Embed call
// and fails a whole batch that holds the text "bad".
type countingEncoder struct {
	mu    sync.Mutex
	sizes []int
}

func (c *countingEncoder) Name() string    { return "counting" }
func (c *countingEncoder) Dim() int        { return 2 }
func (c *countingEncoder) Weights() string { return "none" }

func (c *countingEncoder) Embed(texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(texts))
	c.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, s := range texts {
		if s == "bad" {
			return nil, fmt.Errorf("text %d is bad", i)
		}
		out[i] = []float32{float32(len(s)), float32(strings.Count(s, "a"))}
	}
	return out, nil
}

// embedAll embeds each text from its own goroutine, all at once, and returns the vectors
// and errors in text order.
func embedAll(enc Encoder, texts []string) ([][]float32, []error) {
	vecs, errs := make([][]float32, len(texts)), make([]error, len(texts))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range texts {
		wg.Go(func() {
			<-start
			v, err := enc.Embed([]string{s})
			errs[i] = err
			if err == nil {
				vecs[i] = v[0]
			}
		})
	}
	close(start)
	wg.Wait()
	return vecs, errs
}

// TestBatchedMerges sends 64 one-text calls at once to a Batched encoder of batch 8 with a
// wait far longer than the test: each batch must fire when 8 texts wait, so the encoder
// sees exactly 8 calls of 8 texts, and every caller gets its own text's vector.
func TestBatchedMerges(t *testing.T) {
	c := &countingEncoder{}
	enc := Batched(c, 8, time.Minute)
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = strings.Repeat("a", i) + strings.Repeat("b", 64-i)
	}
	vecs, errs := embedAll(enc, texts)
	for i := range texts {
		if errs[i] != nil {
			t.Fatalf("text %d: %v", i, errs[i])
		}
		want, _ := c.Embed(texts[i : i+1])
		if !slices.Equal(vecs[i], want[0]) {
			t.Errorf("text %d: vector %v, want %v", i, vecs[i], want[0])
		}
	}
	c.mu.Lock()
	sizes := c.sizes[:len(c.sizes)-len(texts)] // the reference calls above come last
	c.mu.Unlock()
	if len(sizes) != 8 || slices.ContainsFunc(sizes, func(n int) bool { return n != 8 }) {
		t.Errorf("encoder calls of %v texts, want 8 calls of 8", sizes)
	}
}

// TestBatchedBadText checks that one caller's bad text fails that caller only, and that a
// lone caller does not wait for a batch to fill (maxWait bounds it).
func TestBatchedBadText(t *testing.T) {
	c := &countingEncoder{}
	enc := Batched(c, 8, time.Minute)
	texts := []string{"a cat", "bad", "a dog", "abc", "x", "banana", "a", "aa"}
	vecs, errs := embedAll(enc, texts)
	for i, s := range texts {
		if s == "bad" {
			if errs[i] == nil {
				t.Errorf("text %q: no error", s)
			}
			continue
		}
		if errs[i] != nil || vecs[i][0] != float32(len(s)) {
			t.Errorf("text %q: vector %v, error %v", s, vecs[i], errs[i])
		}
	}
	short := Batched(c, 8, time.Millisecond)
	v, err := short.Embed([]string{"alone"})
	if err != nil || v[0][0] != 5 {
		t.Errorf("lone call: %v, %v", v, err)
	}
	if _, err := short.Embed([]string{"bad"}); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("lone bad call: error %v", err)
	}
}

// TestBatcherPanic checks that a panic of the batch function reaches every caller of the
// batch as an error instead of leaving them waiting.
func TestBatcherPanic(t *testing.T) {
	b := NewBatcher(func(in []int) ([]int, error) { panic("boom") }, 4, time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.Do([]int{i}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("caller %d: error %v", i, err)
		}
	}
}

// TestBatchedUSE embeds 96 Flickr8k captions through Batched(USE) from 96 goroutines and one
// by one: the vectors agree within 1e-5 per component (USE pads a batch to its longest
// text and masks the padding, so only float rounding may differ), and the encoder ran
// fewer executions than texts.
func TestBatchedUSE(t *testing.T) {
	u := loadUSE(t)
	caps := flickr8kCaptions(t)
	var texts []string
	for i := 0; i < len(caps) && len(texts) < 96; i += 401 {
		texts = append(texts, caps[i].Text)
	}
	calls := 0
	var mu sync.Mutex
	counted := NewBatcher(func(in []string) ([][]float32, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return u.Embed(in)
	}, 32, 20*time.Millisecond)
	enc := &batched{Encoder: u, b: counted}
	vecs, errs := embedAll(enc, texts)
	worst := 0.0
	for i, s := range texts {
		if errs[i] != nil {
			t.Fatalf("text %d: %v", i, errs[i])
		}
		alone, err := u.Embed([]string{s})
		if err != nil {
			t.Fatal(err)
		}
		for j := range alone[0] {
			worst = max(worst, math.Abs(float64(alone[0][j]-vecs[i][j])))
		}
	}
	t.Logf("%d texts in %d executions; largest difference to one by one %.2g", len(texts), calls, worst)
	if worst > 1e-5 {
		t.Errorf("batched vectors differ from one-by-one ones by up to %g, want ≤ 1e-5", worst)
	}
	if calls >= len(texts) {
		t.Errorf("%d executions for %d concurrent texts: nothing was batched", calls, len(texts))
	}
	if _, err := enc.Embed([]string{""}); err == nil {
		t.Error("empty text: no error through Batched")
	}
}

// TestBatchedNoWait: with no wait, 16 goroutines making 50 calls each (of 1 to 3 texts)
// each get their own vectors, and no merged call exceeds the batch size.
func TestBatchedNoWait(t *testing.T) {
	c := &countingEncoder{}
	enc := Batched(c, 8, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				texts := []string{strings.Repeat("a", g), strings.Repeat("b", i), "ab"}[:1+(g+i)%3]
				vecs, err := enc.Embed(texts)
				if err == nil && len(vecs) != len(texts) {
					err = fmt.Errorf("%d vectors for %d texts", len(vecs), len(texts))
				}
				for k := 0; err == nil && k < len(texts); k++ {
					if vecs[k][0] != float32(len(texts[k])) || vecs[k][1] != float32(strings.Count(texts[k], "a")) {
						err = fmt.Errorf("goroutine %d call %d text %q: vector %v", g, i, texts[k], vecs[k])
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("800 calls in %d encoder calls", len(c.sizes))
	if slices.Max(c.sizes) > 8 {
		t.Errorf("an encoder call of %d texts, more than the batch of 8", slices.Max(c.sizes))
	}
}
