package search

import (
	"os"
	"testing"

	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/progress"
)

func TestMain(m *testing.M) {
	progress.Quiet = true
	os.Exit(m.Run())
}

func TestGuard(t *testing.T) {
	for _, tc := range []struct {
		s    imageenc.NSFWScores
		want bool
	}{
		{imageenc.NSFWScores{0, 0, 1, 0, 0}, false},
		{imageenc.NSFWScores{0, 0, 0, 0, 1}, false}, // "Sexy" alone never hides a photo
		{imageenc.NSFWScores{0, 0, 0, 1, 0}, true},
		{imageenc.NSFWScores{0, 1, 0, 0, 0}, true},
		{imageenc.NSFWScores{0, 0, 1 - GuardThreshold, GuardThreshold, 0}, false}, // at the threshold: shown
	} {
		if got := Guarded(tc.s); got != tc.want {
			t.Errorf("Guarded(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
