package imageenc

import (
	"slices"
	"testing"
)

func TestNSFWStats(t *testing.T) {
	s := []NSFWScores{{0, 0, 1, 0, 0}, {0, 0, 0.2, 0.8, 0}, {0, 0, 0.6, 0.4, 0}}
	c := CountAbove(s, []float32{0.3, 0.5})
	if !slices.Equal(c[3], []int{2, 1}) || !slices.Equal(c[2], []int{2, 2}) || !slices.Equal(c[0], []int{0, 0}) {
		t.Errorf("CountAbove = %v", c)
	}
	if got := MostLikely(s, 3, 2); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("MostLikely = %v", got)
	}
}
