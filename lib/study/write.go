package study

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/withsense/withsense/lib/results"
)

// BestCorrelation returns the model with the highest out-of-fold τ-c.
func BestCorrelation(r *ModelsReport) ModelCorrelation {
	best := ModelCorrelation{}
	best.ExpertTauC = -101
	for _, c := range r.Correlation {
		if c.Undefined == "" && c.ExpertTauC > best.ExpertTauC {
			best = c
		}
	}
	return best
}

// OOFFile is the out-of-fold predictions' file under results/.
const OOFFile = "oof_predictions.csv"

// WriteModels records the report in results/: the "models" section of metrics.json and
// the out-of-fold predictions of every model (image, query_id, target, one column per
// model) in OOFFile.
func WriteModels(in *Inputs, r *ModelsReport) error {
	if err := results.Update("models", map[string]any{
		"provenance":       r.Provenance,
		"settings":         in.Run,
		"protocol":         "GroupShuffleSplit by photo, 70/30, seed; MAE on the target (mean expert score − 1) / 3; seeded models: mean ± sd over seeds",
		"table":            r.Table,
		"chosen_embedding": r.Chosen,
		"chosen_on":        r.ChosenOn,
		"baseline":         r.Baseline,
		"best":             r.Best,
		"best_mlp":         r.BestMLP,
		"oof_embedding":    r.OOFEmbedding,
		"correlation":      r.Correlation,
		"unavailable":      in.Missing,
	}); err != nil {
		return err
	}
	return WriteOOF(in, r.OOF)
}

// WriteOOF writes out-of-fold predictions by model name, columns in sorted name order.
func WriteOOF(in *Inputs, oof map[string][]float32) error {
	var names []string
	for n, p := range oof {
		if len(p) != len(in.Samples) {
			return fmt.Errorf("model %s: %d out-of-fold predictions for %d samples", n, len(p), len(in.Samples))
		}
		names = append(names, n)
	}
	slices.Sort(names)
	header := append([]string{"image", "query_id", "target"}, names...)
	rows := make([][]string, len(in.Samples))
	for i, s := range in.Samples {
		row := []string{s.Image, s.QueryID, strconv.FormatFloat(s.Target, 'f', 6, 64)}
		for _, n := range names {
			row = append(row, strconv.FormatFloat(float64(oof[n][i]), 'f', 6, 32))
		}
		rows[i] = row
	}
	return results.WriteCSV(OOFFile, header, rows)
}
