package imageenc

import (
	"fmt"
	"image"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
)

// cpuSeconds is the process' user + system CPU time: on a machine shared with other jobs
// it varies less than the wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkInception measures nsfwjs' InceptionV3 forward pass (features and head in one
// pass, preprocessing excluded) on the configured GoMLX backend, per batch size; it
// reports images/s.
func BenchmarkInception(b *testing.B) {
	m := loadTestModel(b)
	backend, err := sharedBackend()
	if err != nil {
		b.Fatal(err)
	}
	inc, err := NewInception(m, backend)
	if err != nil {
		b.Fatal(err)
	}
	for _, bs := range benchBatches {
		b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
			input := make([]float32, bs*NSFWJSSize*NSFWJSSize*3)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range input {
				input[i] = r.Float32()
			}
			if _, err := inc.Forward(input, bs); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for b.Loop() {
				if _, err := inc.Forward(input, bs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bs*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(bs*b.N), "cpu-s/image")
		})
	}
}

// benchBatches are the batch sizes BenchmarkInception measures.
var benchBatches = []int{1, 8}

// BenchmarkInceptionPhotos measures the whole path of the encoders on 16 dataset photos:
// JPEG decoding, nsfwjs preprocessing and the forward pass (cache not involved); it
// reports images/s and CPU seconds per image.
func BenchmarkInceptionPhotos(b *testing.B) {
	data := dataDir(b)
	paths, _ := filepath.Glob(filepath.Join(data, "test_images", "*.jpg"))
	if len(paths) < 16 {
		b.Skipf("%d test photos, want 16", len(paths))
	}
	paths = paths[:16]
	inc, err := DefaultInception()
	if err != nil {
		b.Fatal(err)
	}
	run := func() {
		imgs := make([]image.Image, len(paths))
		for i, p := range paths {
			if imgs[i], err = dataset.LoadImage(p); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := inc.Run(imgs); err != nil {
			b.Fatal(err)
		}
	}
	run() // compile outside the timing
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(len(paths)*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric((cpuSeconds()-cpu0)/float64(len(paths)*b.N), "cpu-s/image")
}
