package search

import (
	"sync"
	"time"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/textenc"
)

// Query batching: the scorers NewScorer builds embed queries through textenc.Batched, so
// that concurrent searches share one execution of the text encoder (and of the two-tower's
// text tower): at most QueryBatch queries, the first waiting at most QueryWait for others.
// QueryWait is 0: a batch starts at once when the encoder is idle, and the queries that
// arrive while it runs make the next one. (BenchmarkServeLoad, 32 clients on 2 cores: a
// 1–2 ms wait gave no more throughput and cost a lone search that much per batcher.)
// A server should let at least QueryBatch searches run at once for batches to fill.
const (
	QueryBatch               = 32
	QueryWait  time.Duration = 0
)

// textOpener opens each text encoder once for the parts of one scorer (a Blend's two
// scorers share the `use` weights and its batches), wrapped in textenc.Batched.
type textOpener map[string]textenc.Encoder

func (o textOpener) open(name string) (textenc.Encoder, error) {
	if enc, ok := o[name]; ok {
		return enc, nil
	}
	enc, err := textenc.Encoders.Open(name)
	if err != nil {
		return nil, err
	}
	o[name] = textenc.Batched(enc, QueryBatch, QueryWait)
	return o[name], nil
}

// queryMemo keeps the normalised embeddings of the queries being searched, per encoder, so
// that the scorers of one search embed its query once per encoder: a Blend of the
// two-tower and the label score both read the `use` vector of the query, and Explain the
// vectors its search already had. Searcher.score (and Explain) pin the query while they
// run; the vectors go when the last search of that query ends. Unpinned texts (the queries
// Explain makes by dropping words, a scorer called on its own) are embedded afresh.
type queryMemo struct {
	mu   sync.Mutex
	pins map[string]int                   // query → searches of it in progress
	vecs map[string]map[memoKey][]float32 // query → its vectors by encoder
}

// memoKey names an encoder by its name and exact weights.
type memoKey struct{ name, weights string }

// memo is the memo of every Searcher (queries are plain text; encoders are keyed by weights).
var memo = &queryMemo{pins: map[string]int{}, vecs: map[string]map[memoKey][]float32{}}

// pin keeps q's vectors until the returned function is called.
func (m *queryMemo) pin(q string) (unpin func()) {
	m.mu.Lock()
	m.pins[q]++
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.pins[q]--; m.pins[q] <= 0 {
			delete(m.pins, q)
			delete(m.vecs, q)
		}
	}
}

// embedQuery returns the query's normalised embedding by enc, from the memo while the
// query is pinned. The vector is shared: callers must not change it.
func embedQuery(enc textenc.Encoder, query string) ([]float32, error) {
	key := memoKey{enc.Name(), enc.Weights()}
	memo.mu.Lock()
	v, ok := memo.vecs[query][key]
	memo.mu.Unlock()
	if ok {
		return v, nil
	}
	vecs, err := enc.Embed([]string{query})
	if err != nil {
		return nil, err
	}
	if v, err = features.Normalize(vecs[0]); err != nil {
		return nil, err
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if memo.pins[query] > 0 {
		if memo.vecs[query] == nil {
			memo.vecs[query] = map[memoKey][]float32{}
		}
		memo.vecs[query][key] = v
	}
	return v, nil
}
