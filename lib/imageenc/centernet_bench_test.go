package imageenc

import (
	"fmt"
	"testing"
)

// centerNetBenchPhotos is the number of dataset photos BenchmarkCenterNet runs.
const centerNetBenchPhotos = 16

// BenchmarkCenterNet measures CenterNet on 16 dataset photos already decoded: the Go port
// (preprocessing, forward pass and decoding; one pass at a time, and CenterNetWorkers at once) against TF.js 4.22's wasm
// backend in Node on the same pixels (resize and model, timed by centernetref/ref.cjs after
// one warm-up image), both in this run. It reports images/s, CPU seconds per image and
// speedup: TF.js' time per image over ours.
func BenchmarkCenterNet(b *testing.B) {
	_, imgs := centerNetPhotos(b, centerNetBenchPhotos)
	cn, err := DefaultCenterNet()
	if err != nil {
		b.Fatal(err)
	}
	_, nodeMs := runCenterNetNode(b, imgs, false)
	b.Logf("TF.js wasm in Node: %.1f ms per image", nodeMs)
	saved := CenterNetWorkers
	defer func() { CenterNetWorkers = saved }()
	for _, workers := range []int{1, saved} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			CenterNetWorkers = workers
			if _, err := cn.Run(imgs[:1]); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for b.Loop() {
				if _, err := cn.Run(imgs); err != nil {
					b.Fatal(err)
				}
			}
			perImage := b.Elapsed().Seconds() / float64(len(imgs)*b.N)
			b.ReportMetric(1/perImage, "images/s")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(len(imgs)*b.N), "cpu-s/image")
			b.ReportMetric(nodeMs/1000/perImage, "speedup")
		})
	}
}
