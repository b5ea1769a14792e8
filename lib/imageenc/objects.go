package imageenc

import (
	"fmt"
	"math"
	"strings"
)

// What CenterNet sees in a photo, for explanations ("dog 0.93, frisbee 0.71"), selected
// from its 100 detections as human's object module does by default (config.object):
// scores ≥ 0.2, greedy non-maximum suppression over all classes at IoU 0.4
// (tf.image.nonMaxSuppression), at most 10 objects.
const (
	ObjectMinScore = 0.2
	objectMaxIoU   = 0.4
	objectMax      = 10
)

// PhotoObjects is CenterNet's view of one photo.
type PhotoObjects struct {
	// Presence is the maximum heatmap score of each class (COCOClasses order).
	Presence []float32
	// Found are the selected detections, best first.
	Found []Detection
}

// String lists the classes found, each once with its best score, best first:
// "dog 0.93, frisbee 0.71" ("" when nothing scores ObjectMinScore).
func (o PhotoObjects) String() string {
	seen := map[int]bool{}
	var parts []string
	for _, d := range o.Found {
		if !seen[d.Class] {
			seen[d.Class] = true
			parts = append(parts, fmt.Sprintf("%s %.2f", d.Label(), d.Score))
		}
	}
	return strings.Join(parts, ", ")
}

// Objects returns CenterNet's class presence and selected detections for the image files,
// through the embedding cache (computed in the same pass as, and cached with, the
// centernet encoders' vectors). A file that cannot be decoded is an error naming it.
func Objects(paths []string) ([]PhotoObjects, error) {
	return objectsWith(paths, EmbedOptions{})
}

func objectsWith(paths []string, opt EmbedOptions) ([]PhotoObjects, error) {
	outs := make([][][]float32, 2)
	for i, name := range []string{CenterNetClassesName, centerNetDetectionsName} {
		enc, err := newCenterNetEncoder(name)
		if err != nil {
			return nil, err
		}
		if outs[i], err = EmbedFilesWith(enc, paths, opt); err != nil {
			return nil, err
		}
	}
	res := make([]PhotoObjects, len(paths))
	for i := range paths {
		flat := outs[1][i]
		dets := make([]Detection, len(flat)/6)
		for k := range dets {
			r := flat[6*k : 6*k+6]
			dets[k] = Detection{r[0], r[1], r[2], r[3], r[4], int(r[5])}
		}
		res[i] = PhotoObjects{Presence: outs[0][i], Found: SelectObjects(dets)}
	}
	return res, nil
}

// Counts is the centernet-counts embedding of selected detections (SelectObjects): for
// each of the 80 classes, log(1 + the number of its objects), so that "two dogs" and "a
// dog" differ where the class presence (centernet-classes) does not; then 1 when nothing
// was found, 0 otherwise (so that no photo's vector is zero).
func Counts(found []Detection) []float32 {
	out := make([]float32, centerNetCountsDim)
	n := make([]int, centerNetClasses)
	for _, d := range found {
		if d.Class >= 0 && d.Class < centerNetClasses {
			n[d.Class]++
		}
	}
	none := float32(1)
	for c, k := range n {
		if k > 0 {
			out[c], none = float32(math.Log1p(float64(k))), 0
		}
	}
	out[centerNetClasses] = none
	return out
}

// centerNetCountsDim is the width of Counts: the 80 classes and "nothing found".
const centerNetCountsDim = centerNetClasses + 1

// SelectObjects applies human's selection to detections sorted best first: scores ≥
// ObjectMinScore, then greedily each box that overlaps no kept box by IoU > 0.4, at most 10.
func SelectObjects(dets []Detection) []Detection {
	var kept []Detection
	for _, d := range dets {
		if d.Score < ObjectMinScore || len(kept) == objectMax {
			break
		}
		ok := true
		for _, k := range kept {
			if iou(d, k) > objectMaxIoU {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, d)
		}
	}
	return kept
}

// iou is the intersection over union of two boxes (corners in either order), 0 when
// either is empty, as tf.image.nonMaxSuppression computes it.
func iou(a, b Detection) float64 {
	ax1, ax2 := math.Min(float64(a.X1), float64(a.X2)), math.Max(float64(a.X1), float64(a.X2))
	ay1, ay2 := math.Min(float64(a.Y1), float64(a.Y2)), math.Max(float64(a.Y1), float64(a.Y2))
	bx1, bx2 := math.Min(float64(b.X1), float64(b.X2)), math.Max(float64(b.X1), float64(b.X2))
	by1, by2 := math.Min(float64(b.Y1), float64(b.Y2)), math.Max(float64(b.Y1), float64(b.Y2))
	areaA, areaB := (ax2-ax1)*(ay2-ay1), (bx2-bx1)*(by2-by1)
	if areaA <= 0 || areaB <= 0 {
		return 0
	}
	iw := math.Max(0, math.Min(ax2, bx2)-math.Max(ax1, bx1))
	ih := math.Max(0, math.Min(ay2, by2)-math.Max(ay1, by1))
	inter := iw * ih
	return inter / (areaA + areaB - inter)
}
