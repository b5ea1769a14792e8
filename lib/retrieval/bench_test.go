package retrieval

import "testing"

// BenchmarkTwoTowerTrain is one full training with DefaultSettings on synthetic data of
// the real shape: 1,000 photos × 768 values (inception-mixed5), five texts each × 100
// values (GloVe); it reports seconds per training.
func BenchmarkTwoTowerTrain(b *testing.B) {
	img, text, of := synthetic(1000, 5, 768, 100, 0.7, 5)
	s := DefaultSettings()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(img, text, of, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/train")
}
