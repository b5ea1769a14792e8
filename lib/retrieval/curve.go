package retrieval

import "github.com/withsense/withsense/lib/charts"

// CurveSVG draws a model's learning curve as an inline SVG (it survives HTML export):
// the training loss on the left; on the right the validation Recall@1, Recall@5 and MRR
// of the held-out photos' captions among those photos; the kept epoch is marked.
func CurveSVG(title string, history []Epoch, bestEpoch int) string {
	n := len(history)
	loss, r1, r5, mrr := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, e := range history {
		loss[i], r1[i], r5[i], mrr[i] = e.TrainLoss, e.ValidR1, e.ValidR5, e.ValidMRR
	}
	return charts.LearningCurves(title, []charts.Panel{
		{Label: "training loss", Curves: []charts.Curve{{Name: "InfoNCE", Color: "#1f77b4", Y: loss}}},
		{Label: "validation", Curves: []charts.Curve{{Name: "R@1", Color: "#2ca02c", Y: r1}, {Name: "R@5", Color: "#ff7f0e", Y: r5}, {Name: "MRR", Color: "#9467bd", Y: mrr}}},
	}, bestEpoch)
}
