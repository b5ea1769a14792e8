package search

import (
	"fmt"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

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
// The two-tower's text towers (all of an ensemble's on one batch) are batched the same way.
const (
	QueryBatch               = 32
	QueryWait  time.Duration = 0
)

// QueryCache is how many queries' vectors the search keeps (least recently used out
// first): a query asked again, by another photographer or by the page's next k, costs no
// text encoder. Each entry holds a query's vector per encoder and per projection (about
// 4 KiB with `use` and the two-tower), so the cache stays under about 16 MiB.
const QueryCache = 4096

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

// memoKey names one vector of a query: an encoder's (its name and exact weights), or a
// projection's (a scorer instance's, projectionKey).
type memoKey struct {
	query, name, weights string
}

// queryMemo keeps the normalised vectors of recent queries: the scorers of one search
// read its query's `use` vector once (a Blend of the two-tower and the label score both
// need it), Explain reads the vectors its search had, and a query asked again is not
// embedded again. Vectors are shared: callers must not change them. Two searches of a
// new query at the same moment may both embed it (same vector; the second is kept).
type queryMemo struct {
	cache *lru.Cache[memoKey, []float32]
}

func newQueryMemo(size int) *queryMemo {
	c, err := lru.New[memoKey, []float32](size)
	if err != nil {
		panic(err) // size ≤ 0: a programming error
	}
	return &queryMemo{cache: c}
}

// memo is the memo of every Searcher (queries are plain text; encoders are keyed by weights).
var memo = newQueryMemo(QueryCache)

// get returns the vector under k, computing and keeping it on a miss.
func (m *queryMemo) get(k memoKey, compute func() ([]float32, error)) ([]float32, error) {
	if v, ok := m.cache.Get(k); ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return nil, err
	}
	m.cache.Add(k, v)
	return v, nil
}

// embedQuery returns the query's normalised embedding by enc, from the memo when a
// recent search already embedded it.
func embedQuery(enc textenc.Encoder, query string) ([]float32, error) {
	return memo.get(memoKey{query, enc.Name(), enc.Weights()}, func() ([]float32, error) {
		vecs, err := enc.Embed([]string{query})
		if err != nil {
			return nil, err
		}
		return features.Normalize(vecs[0])
	})
}

// projections numbers the scorers whose projections the memo keeps (projectionKey).
var projections atomic.Int64

// projectionKey is a fresh memo name for one scorer's projection of text vectors: a
// projection is a trained model (two scorers over the same folder may differ after a
// retrain), so each instance gets its own.
func projectionKey() string { return fmt.Sprintf("projection %d", projections.Add(1)) }
