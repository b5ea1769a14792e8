package study

import (
	"fmt"
	"strconv"

	"github.com/withsense/withsense/lib/charts"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/gallery"
)

// Notebook 01's tables, charts, galleries and conclusion, one call each over a DataReport.

// DataReport is what notebook 01 measures on the course data: the loaded archive, its
// samples with the expert target, their counts and the experts' agreement.
type DataReport struct {
	Course    *dataset.Course
	Samples   []dataset.Sample
	Summary   dataset.Summary
	Agreement dataset.Agreement
}

// Data loads the course archive (located, loaded and cross-checked) and measures it; the
// target is the experts' alone (crowd weight 0), as in the original study.
func Data() (*DataReport, error) {
	c, err := dataset.LoadDefault()
	var samples []dataset.Sample
	if err == nil {
		samples, err = c.Samples(0)
	}
	if err != nil {
		return nil, err
	}
	return &DataReport{Course: c, Samples: samples, Summary: dataset.Summarize(samples), Agreement: dataset.Agree(samples)}, nil
}

// DataLine says where the data was loaded from and what it holds.
func DataLine(d *DataReport) string {
	return fmt.Sprintf("Loaded from `%s`: %s.", d.Course.Dir, d.Summary)
}

// CountsTable is the rows, photos and captions of each of the archive's tables.
func CountsTable(d *DataReport) ([]string, [][]string) {
	s, c, itoa := d.Summary, d.Course, strconv.Itoa
	return []string{"table", "rows", "photos", "captions"}, [][]string{
		{"train_dataset.csv + ExpertAnnotations.tsv", itoa(s.Pairs), itoa(s.Photos), itoa(s.Captions)},
		{"CrowdAnnotations.tsv", itoa(len(c.Crowd)), "", ""},
		{"test_queries.csv", itoa(len(c.TestQueries)), itoa(len(c.TestImages)), itoa(len(c.TestQueries))},
	}
}

// histogramBars draws a histogram (value → count) as one series of bars, categories in
// increasing order of value, each labelled by label.
func histogramBars[K int | float64](title, ylabel, series string, h map[K]int, label func(K) string) (string, error) {
	var labels []string
	var counts []float64
	for _, k := range dataset.SortedKeys(h) {
		labels = append(labels, label(k))
		counts = append(counts, float64(h[k]))
	}
	return charts.Bars(title, ylabel, labels, []charts.Series{{Name: series, Values: counts}})
}

// PairsPerPhotoChart is how many photos have each number of scored pairs.
func PairsPerPhotoChart(d *DataReport) (string, error) {
	return histogramBars("Scored pairs per photo", "photos", "photos", d.Summary.PairsPerPhoto, strconv.Itoa)
}

// ScoresChart is how often each expert gave each score.
func ScoresChart(d *DataReport) (string, error) {
	var series []charts.Series
	for e, counts := range d.Summary.ScoreCounts {
		var v []float64
		for s := 1; s <= 4; s++ {
			v = append(v, float64(counts[s]))
		}
		series = append(series, charts.Series{Name: fmt.Sprintf("expert %d", e+1), Values: v})
	}
	return charts.Bars("Scores given by each expert", "pairs", []string{"1", "2", "3", "4"}, series)
}

// TargetChart is how many pairs have each value of the target.
func TargetChart(d *DataReport) (string, error) {
	return histogramBars("Target: mean expert score rescaled to [0, 1]", "pairs", "pairs", d.Summary.TargetCounts,
		func(k float64) string { return fmt.Sprintf("%.2f", k) })
}

// AgreementTable is every pair of experts' exact and within-one agreement and correlation,
// then each expert's correlation with the mean of the other two.
func AgreementTable(d *DataReport) ([]string, [][]string) {
	a := d.Agreement
	var rows [][]string
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			rows = append(rows, []string{fmt.Sprintf("expert %d vs %d", i+1, j+1),
				fmt.Sprintf("%.1f%%", 100*a.Exact[i][j]), fmt.Sprintf("%.1f%%", 100*a.Within1[i][j]), fmt.Sprintf("%.3f", a.Pearson[i][j])})
		}
	}
	for i := range 3 {
		rows = append(rows, []string{fmt.Sprintf("expert %d vs mean of others", i+1), "", "", fmt.Sprintf("%.3f", a.LeaveOneOut[i])})
	}
	return []string{"pair of raters", "same score", "within 1", "Pearson r"}, rows
}

// AgreementLine is the share of pairs on which all three experts agree.
func AgreementLine(d *DataReport) string {
	return fmt.Sprintf("All three experts give the same score on **%.1f%%** of the pairs.", 100*d.Agreement.AllSame)
}

// CrowdChart plots the crowd's yes-share against the expert target for the pairs both rated.
func CrowdChart(d *DataReport) (string, error) {
	expert, crowd := dataset.CrowdVsExpert(d.Samples)
	return charts.Scatter(fmt.Sprintf("Crowd yes-share vs expert target (%d pairs, r = %.3f)", len(expert), dataset.Pearson(expert, crowd)),
		"expert target", "crowd yes-share", expert, crowd, true)
}

// Kinds of example pairs for ExamplesGallery.
const (
	ExamplesFit      = "fit"      // scored 4, 4, 4
	ExamplesMisfit   = "misfit"   // scored 1, 1, 1
	ExamplesDisagree = "disagree" // scores 1 and 4 on the same pair
)

// examplesKeep are the kinds' predicates.
var examplesKeep = map[string]func(dataset.Sample) bool{
	ExamplesFit:    func(s dataset.Sample) bool { return s.Target == 1 },
	ExamplesMisfit: func(s dataset.Sample) bool { return s.Target == 0 },
	ExamplesDisagree: func(s dataset.Sample) bool {
		e := s.Experts
		return min(e[0], e[1], e[2]) == 1 && max(e[0], e[1], e[2]) == 4
	},
}

// examplePairs returns the first n samples of a kind, in sample order.
func examplePairs(samples []dataset.Sample, kind string, n int) ([]dataset.Sample, error) {
	keep, ok := examplesKeep[kind]
	if !ok {
		return nil, fmt.Errorf("examples of kind %q: want %s, %s or %s", kind, ExamplesFit, ExamplesMisfit, ExamplesDisagree)
	}
	var out []dataset.Sample
	for _, s := range samples {
		if len(out) == n {
			break
		}
		if keep(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// ExamplesGallery shows the first n pairs of a kind (ExamplesFit, ExamplesMisfit,
// ExamplesDisagree): the photo, its scores and target, and the caption.
func ExamplesGallery(d *DataReport, kind string, n int) (string, error) {
	pairs, err := examplePairs(d.Samples, kind, n)
	if err != nil {
		return "", err
	}
	items := make([]gallery.Item, len(pairs))
	for i, s := range pairs {
		items[i] = gallery.Item{Path: d.Course.TrainPath(s.Image),
			Title: fmt.Sprintf("experts %v → target %.2f", s.Experts, s.Target), Lines: []string{s.Text}}
	}
	return gallery.HTML(items, 4), nil
}

// TestQueriesGallery shows the first n test photos with their queries.
func TestQueriesGallery(d *DataReport, n int) string {
	byImage := map[string][]string{}
	for _, q := range d.Course.TestQueries {
		byImage[q.Image] = append(byImage[q.Image], q.Text)
	}
	var items []gallery.Item
	for _, img := range d.Course.TestImages[:min(n, len(d.Course.TestImages))] {
		items = append(items, gallery.Item{Path: d.Course.TestPath(img), Title: img, Lines: byImage[img]})
	}
	return gallery.HTML(items, 4)
}

// DataConclusion states what notebook 01 measured that matters for the models.
func DataConclusion(d *DataReport) string {
	s, a := d.Summary, d.Agreement
	positive, ownPositive := 0, 0
	for _, x := range d.Samples {
		if x.Target > 0 {
			positive++
			if x.OwnCaption() {
				ownPositive++
			}
		}
	}
	return fmt.Sprintf(`* The target is skewed: **%.0f%%** of the pairs have target 0 (all three experts said "does not describe"),
so a constant predictor is already a strong baseline for MAE.
* Experts agree with each other at r ≈ %.2f (one against the mean of the others): this is the ceiling a model's
correlation can hope for.
* Only %d of %d pairs pair a photo with its own caption; of the %d pairs with a target above 0, %d are such pairs and
%d pair a photo with a caption written for another photo.`,
		100*float64(s.TargetCounts[0])/float64(max(s.Pairs, 1)), (a.LeaveOneOut[0]+a.LeaveOneOut[1]+a.LeaveOneOut[2])/3,
		s.OwnCaptions, s.Pairs, positive, ownPositive, positive-ownPositive)
}
