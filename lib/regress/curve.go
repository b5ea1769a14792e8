package regress

import "github.com/withsense/withsense/lib/charts"

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

// Curve is the MLP's learning curve of its last Fit as an inline SVG (see CurveSVG).
func (m *MLP) Curve() string { return CurveSVG("MLP "+m.Name(), m.History, m.BestEpoch) }
