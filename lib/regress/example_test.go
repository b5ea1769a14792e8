package regress_test

import (
	"fmt"

	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/regress"
)

// The comparison loop: every model behind one interface, fitted on the training rows
// (groups = each row's photo) and scored on held-out rows. Rows are [text | image];
// textDim tells the pair-interaction MLPs where the text part ends.
func Example() {
	var (
		Xtrain, Xvalid [][]float32
		ytrain, yvalid []float32
		groups         []string
		textDim        = 100
	)
	models := []regress.Model{
		&regress.Median{},
		regress.NewRidge(),
		regress.NewMLP("mlp-seed", regress.DefaultMLPSettings(regress.ArchConcat, textDim)),
		regress.NewMLP("mlp-product", regress.DefaultMLPSettings(regress.ArchProduct, textDim)),
	}
	for _, m := range models {
		if err := m.Fit(Xtrain, ytrain, groups); err != nil {
			fmt.Println(err)
			continue
		}
		pred, err := m.Predict(Xvalid)
		if err != nil {
			fmt.Println(err)
			continue
		}
		mae, _ := metrics.MAE(yvalid, pred)
		fmt.Printf("%-12s MAE %.3f\n", m.Name(), mae)
	}
}
