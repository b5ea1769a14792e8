package regress

import (
	"math"
	"time"

	"github.com/withsense/withsense/lib/charts"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/withsense/withsense/lib/progress"
)

// CurveSVG draws a learning curve as an inline SVG (it survives HTML export): training
// and validation loss on the left, validation MAE on the right, the kept epoch marked.
func CurveSVG(title string, history []Epoch, bestEpoch int) string {
	n := len(history)
	train, valid, mae := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, e := range history {
		train[i], valid[i], mae[i] = e.TrainLoss, e.ValidLoss, e.ValidMAE
	}
	return charts.LearningCurves(title, []charts.Panel{
		{Label: "loss", Curves: []charts.Curve{{Name: "train", Color: "#1f77b4", Y: train}, {Name: "validation", Color: "#ff7f0e", Y: valid}}},
		{Label: "validation MAE", Curves: []charts.Curve{{Name: "MAE", Color: "#2ca02c", Y: mae}}},
	}, bestEpoch)
}

// liveCurve returns an OnEpoch hook that redraws the learning curve in place in a GoNB
// notebook (at most every half second) and a done func that draws the final curve;
// outside a notebook, or when progress bars are silenced, both do nothing (the terminal
// has the progress bar).
func liveCurve(name string) (update func(Epoch), done func(bestEpoch int)) {
	if !gonbui.IsNotebook || progress.Quiet {
		return func(Epoch) {}, func(int) {}
	}
	id := "mlp_curve_" + gonbui.UniqueID()
	var hist []Epoch
	var last time.Time
	best, bestMAE := 0, math.Inf(1)
	done = func(bestEpoch int) { gonbui.UpdateHTML(id, CurveSVG("MLP "+name, hist, bestEpoch)) }
	return func(e Epoch) {
		hist = append(hist, e)
		if e.ValidMAE < bestMAE {
			best, bestMAE = e.Epoch, e.ValidMAE
		}
		if time.Since(last) < 500*time.Millisecond {
			return
		}
		last = time.Now()
		gonbui.UpdateHTML(id, CurveSVG("MLP "+name, hist, best))
	}, done
}

// Curve is the MLP's learning curve of its last Fit as an inline SVG (see CurveSVG).
func (m *MLP) Curve() string { return CurveSVG("MLP "+m.Name(), m.History, m.BestEpoch) }
