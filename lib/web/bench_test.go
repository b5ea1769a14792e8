package web

import (
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/textenc"
)

// loadResult is what one load run measured.
type loadResult struct {
	requests, errors int
	p50, p99, direct time.Duration
	seconds          float64
}

var loadOnce sync.Map // scorer kind → *loadResult

// BenchmarkServeLoad runs the server on loopback over the dataset's 1,100 photos with 32
// concurrent clients for 20 s (WITH_SENSE_LOAD_SECONDS to change), in two workloads:
//   - queries=repeated: the course's test queries that the filter lets through (331 of
//     500), asked over and over, as a hosting's popular descriptions are: after the first
//     round they come from the search's query memo (search.QueryCache) and cost no text
//     encoder;
//   - queries=new: Flickr8k training captions the filter lets through, each asked once,
//     so that every request embeds a query never seen (the text encoder's worst case).
//
// It reports the p50 and p99 latency, the request rate and the errors (which fail it),
// and p50 as a ratio to one search called in-process, measured in the same run. With the
// trained models (`make report`) it serves the product's search; without them, a GloVe
// cosine over random photo vectors stands in (scorer=synthetic). One run per process and
// workload, whatever b.N.
func BenchmarkServeLoad(b *testing.B) {
	c, err := dataset.LoadDefault()
	if err != nil {
		b.Skip(err)
	}
	paths := c.AllPhotos()
	if cfg, err := search.LoadConfig(); err == nil {
		s, err := search.OpenPhotos(cfg, paths, "")
		if err != nil {
			b.Fatal(err)
		}
		b.Run("scorer=trained/queries=repeated", func(b *testing.B) { runLoad(b, "trained repeated", s, queries(c)) })
		b.Run("scorer=trained/queries=new", func(b *testing.B) {
			caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTrain)
			if err != nil {
				b.Skip(err)
			}
			var texts []string
			seen := map[string]bool{}
			for _, cp := range caps {
				q, err := search.CheckQuery(cp.Text)
				if blocked, _ := search.Blocked(q); err == nil && !blocked && !seen[q] {
					seen[q] = true
					texts = append(texts, q)
				}
			}
			runLoad(b, "trained new", s, texts)
		})
	}
	enc, err := textenc.Encoders.Open("glove-mean")
	if err != nil {
		b.Skip(err)
	}
	b.Run("scorer=synthetic", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, 4))
		s := &search.Searcher{Paths: paths, Hidden: make([]bool, len(paths))}
		var vecs [][]float32
		for _, p := range paths {
			v := make([]float32, enc.Dim())
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			v, _ = features.Normalize(v)
			vecs = append(vecs, v)
			s.IDs = append(s.IDs, p) // ids need not be hashes for the API
		}
		s.Scorer = &search.CosineScorer{Label: "glove cosine, random photo vectors", Text: enc, Images: vecs}
		runLoad(b, "synthetic repeated", s, queries(c))
	})
}

// queries returns the texts of the course's test queries that the filter lets through
// (a blocked query costs no scoring, and a third of them are about children).
func queries(c *dataset.Course) []string {
	var out []string
	for _, q := range c.TestQueries {
		if blocked, _ := search.Blocked(q.Text); !blocked {
			out = append(out, q.Text)
		}
	}
	return out
}

func runLoad(b *testing.B, kind string, s *search.Searcher, loadQueries []string) {
	r, _ := loadOnce.LoadOrStore(kind, &loadResult{})
	res := r.(*loadResult)
	if res.requests == 0 {
		*res = measureLoad(b, s, loadQueries)
	}
	b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(res.requests)/res.seconds, "req/s")
	b.ReportMetric(float64(res.errors), "errors")
	b.ReportMetric(float64(res.p50)/float64(res.direct), "x-in-process")
	b.ReportMetric(0, "ns/op")
	if res.errors > 0 {
		b.Errorf("%d of %d requests failed", res.errors, res.requests)
	}
}

func measureLoad(b *testing.B, s *search.Searcher, loadQueries []string) loadResult {
	const clients = 32
	seconds := 20.0
	if v, err := strconv.ParseFloat(os.Getenv("WITH_SENSE_LOAD_SECONDS"), 64); err == nil && v > 0 {
		seconds = v
	}
	// The reference: the same searches in-process, one at a time.
	var direct []time.Duration
	var nu *search.NotUnderstoodError
	// It takes its queries from the end of the list, the load from the start, so that a
	// workload of new queries stays new.
	for i := len(loadQueries) - 1; i >= len(loadQueries)-50 && i >= 0; i-- {
		q := loadQueries[i]
		start := time.Now()
		if _, err := s.Search(q, 10); err != nil && !errors.As(err, &nu) {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	slices.Sort(direct)

	srv, err := New(s, Options{QueueWait: 30 * time.Second, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, srv) }()
	defer func() { cancel(); <-served }()
	base := "http://" + ln.Addr().String() + "/api/search?"
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	var next atomic.Int64 // the next query to ask: each in turn, from the start again after the last
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := int(next.Add(1)-1) % len(loadQueries)
				u := base + url.Values{"q": {loadQueries[i]}, "k": {"10"}}.Encode()
				t0 := time.Now()
				res, err := client.Get(u)
				// 200, or 422 for a test query the encoders cannot read: an answer either way.
				ok := err == nil && (res.StatusCode == 200 || res.StatusCode == 422)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if !ok {
					errs++
					if errs == 1 {
						b.Logf("first failure: %v %v", err, func() any {
							if res != nil {
								return res.Status
							}
							return nil
						}())
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	r := loadResult{requests: len(lat), errors: errs, p50: pct(0.50), p99: pct(0.99), direct: direct[len(direct)/2], seconds: elapsed}
	asked := min(r.requests, len(loadQueries))
	b.Logf("%s: %d clients × %.0f s: %d requests (%.0f/s) of %d distinct queries, %d errors, p50 %s, p99 %s; in-process p50 %s",
		s.Scorer.Name(), clients, elapsed, r.requests, float64(r.requests)/elapsed, asked, errs, r.p50, r.p99, r.direct)
	if r.requests > len(loadQueries)-50 && len(loadQueries) > 1000 {
		b.Logf("note: %d requests reached the %d queries the reference had embedded: not every request was new", r.requests, len(loadQueries)-50)
	}
	return r
}
