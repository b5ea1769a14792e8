package study

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/charts"
	"github.com/withsense/withsense/lib/evaluate"
	"github.com/withsense/withsense/lib/regress"
	"github.com/withsense/withsense/lib/retrieval"
	"github.com/withsense/withsense/lib/search"
)

// The notebooks' tables, charts and conclusions, each one call: a cell shows what these
// return. Numbers are printed to the precision their spread over seeds supports: a seeded
// value always with its ± sd.

// PM formats a mean ± sd (just the mean when sd is 0, i.e. one fit of a seedless model).
func PM(format string, mean, sd float64) string {
	if sd == 0 {
		return fmt.Sprintf(format, mean)
	}
	return fmt.Sprintf(format+" ± "+format, mean, sd)
}

// EncodersLine lists the encoders a report was computed with and those unavailable.
func EncodersLine(in *Inputs) string {
	var b strings.Builder
	for _, t := range append(slices.Clone(in.Texts), in.Images...) {
		fmt.Fprintf(&b, "`%s` (%d-d) ", t.Encoder, t.Dim)
	}
	for _, m := range in.Missing {
		fmt.Fprintf(&b, "· *%s unavailable*: %s ", m.Encoder, m.Reason)
	}
	return "Encoders: " + b.String()
}

// MAEChart draws the validation MAE of every model on every encoder pair (seeded models: on
// the runoff's two pairs the mean over seeds, elsewhere one seed).
func MAEChart(r *ModelsReport) (string, error) {
	var embeddings, models []string
	byEmb := map[string]map[string]float64{}
	for _, c := range r.Table {
		e := evaluate.Embedding(c.Text, c.Image)
		if byEmb[e] == nil {
			byEmb[e] = map[string]float64{}
			embeddings = append(embeddings, e)
		}
		if !slices.Contains(models, c.Model) {
			models = append(models, c.Model)
		}
		byEmb[e][c.Model] = c.MAE
	}
	var series []charts.Series
	for _, e := range embeddings {
		v := make([]float64, len(models))
		for i, m := range models {
			var ok bool
			if v[i], ok = byEmb[e][m]; !ok || v[i] > 0.3 {
				v[i] = math.NaN() // not run here, or off the scale (least squares overfits)
			}
		}
		series = append(series, charts.Series{Name: e, Values: v})
	}
	return charts.Bars("Validation MAE per model and embedding (lower is better)", "MAE", models, series)
}

// ModelsTable is the chosen pair's models: validation MAE and RMSE, mean ± sd over seeds.
func ModelsTable(r *ModelsReport) ([]string, [][]string) {
	var rows [][]string
	for _, c := range r.Table {
		if evaluate.Embedding(c.Text, c.Image) != r.Chosen {
			continue
		}
		rows = append(rows, []string{c.Model, fmt.Sprint(c.Seeds), PM("%.4f", c.MAE, c.SD), fmt.Sprintf("%.4f", c.RMSE)})
	}
	return []string{"model (" + r.Chosen + ")", "seeds", "validation MAE", "RMSE"}, rows
}

// HoldoutChart plots the best MLP's validation predictions against the truth.
func HoldoutChart(r *ModelsReport) (string, error) {
	var truth, pred []float64
	for i := range r.Holdout.Truth {
		truth = append(truth, float64(r.Holdout.Truth[i]))
		pred = append(pred, float64(r.Holdout.Pred[i]))
	}
	b := r.BestMLP
	return charts.Scatter(fmt.Sprintf("%s, validation MAE %s", b.Model, PM("%.3f", b.MAE, b.SD)),
		"true target", "predicted", truth, pred, true)
}

// ModelsCurve is the learning curve of the best MLP's first seed.
func ModelsCurve(r *ModelsReport) string {
	return regress.CurveSVG("Learning curve of "+r.BestMLP.Model+" (first seed)", r.Curve, r.CurveBest)
}

// CorrelationTable is every model's out-of-fold MAE and benchmark correlations.
func CorrelationTable(r *ModelsReport) ([]string, [][]string) {
	var rows [][]string
	for _, c := range r.Correlation {
		tauc, taub := "—", "—"
		if c.Undefined == "" {
			tauc, taub = PM("%.1f", c.ExpertTauC, c.ExpertTauCSD), fmt.Sprintf("%.1f", c.CrowdTauB)
		}
		rows = append(rows, []string{c.Model, fmt.Sprint(c.Seeds), PM("%.4f", c.MAE, c.MAESD), tauc, taub})
	}
	return []string{"model (" + r.OOFEmbedding + ")", "seeds", "out-of-fold MAE", "τ-c Expert ×100", "τ-b crowd ×100"}, rows
}

// beyond reports whether a is lower than b by more than twice their combined spread.
func beyond(a, sa, b, sb float64) bool { return b-a > 2*(sa+sb) }

// ModelsConclusion states what the comparison measured, claiming a difference only where
// it exceeds the spread over seeds.
func ModelsConclusion(r *ModelsReport) string {
	best, base, mlp := r.Best, r.Baseline, r.BestMLP
	var b strings.Builder
	fmt.Fprintf(&b, "* Encoder pair chosen on validation (%s): **%s**.\n", r.ChosenOn, r.Chosen)
	if len(r.Runoff) > 1 {
		var parts []string
		for _, c := range r.Runoff {
			parts = append(parts, fmt.Sprintf("%s + %s: %s %s", c.Text, c.Image, c.Model, PM("%.4f", c.MAE, c.SD)))
		}
		fmt.Fprintf(&b, "  Runoff over %d seeds: %s.\n", r.Runoff[0].Seeds, strings.Join(parts, "; "))
	}
	fmt.Fprintf(&b, "* The constant baseline (%s) reaches validation MAE **%.4f**; the best MLP, **%s**, **%s** over %d seeds (%.1f %% lower).\n",
		base.Model, base.MAE, mlp.Model, PM("%.4f", mlp.MAE, mlp.SD), mlp.Seeds, 100*(base.MAE-mlp.MAE)/base.MAE)
	if beyond(mlp.MAE, mlp.SD, base.MAE, base.SD) {
		b.WriteString("  The gap is far beyond the spread over seeds: the MLP clearly beats the baseline.\n")
	} else {
		b.WriteString("  The gap is within the spread over seeds: no clear win over the baseline.\n")
	}
	if best.Model != mlp.Model {
		fmt.Fprintf(&b, "* The best model overall is %s (%s).\n", best.Model, PM("%.4f", best.MAE, best.SD))
	}
	var single, ens *evaluate.Cell
	for i, c := range r.Table {
		if evaluate.Embedding(c.Text, c.Image) == r.Chosen {
			switch c.Model {
			case "mlp-product":
				single = &r.Table[i]
			case "mlp-product-ensemble":
				ens = &r.Table[i]
			}
		}
	}
	if single != nil && ens != nil {
		verdict := "within the spread of single networks: no clear gain"
		if beyond(ens.MAE, ens.SD, single.MAE, single.SD) {
			verdict = "beyond the spread of single networks"
		}
		fmt.Fprintf(&b, "* Averaging the %d seeds of mlp-product gives %s against %s for one network: %s.\n",
			ens.Seeds, PM("%.4f", ens.MAE, ens.SD), PM("%.4f", single.MAE, single.SD), verdict)
	}
	bestTau := BestCorrelation(r)
	fmt.Fprintf(&b, "* The best out-of-fold Kendall τ-c is **%s** (%s), against CLIP-S 51.2 zero-shot and human agreement 55.4.\n",
		PM("%.1f", bestTau.ExpertTauC, bestTau.ExpertTauCSD), bestTau.Model)
	b.WriteString("* The closest peer in EVALUATION.md (ResNet50 + all-MiniLM-L6-v2 → MLP) reports 0.163 against its constant 0.214; its target may differ slightly.\n")
	return b.String()
}

// statsRow formats retrieval metrics.
func statsRow(s RankStats) []string {
	return []string{fmt.Sprint(s.Queries), fmt.Sprintf("%.1f%%", 100*s.R1), fmt.Sprintf("%.1f%%", 100*s.R5),
		fmt.Sprintf("%.1f%%", 100*s.R10), fmt.Sprintf("%.3f", s.MRR), fmt.Sprintf("%.1f", s.MedianRank)}
}

var statsHeader = []string{"queries", "R@1", "R@5", "R@10", "MRR", "median rank"}

// TrialsTable is every two-tower encoder pair on the validation photos.
func TrialsTable(r *RetrievalReport) ([]string, [][]string) {
	var rows [][]string
	for _, t := range r.Trials {
		mark := ""
		if t.Image == r.Encoders[0] && t.Text == r.Encoders[1] {
			mark = " ✓"
		}
		rows = append(rows, append([]string{t.Image + " + " + t.Text + mark}, statsRow(t.Allowed)...))
	}
	return append([]string{"two-tower encoders (validation)"}, statsHeader...), rows
}

// spreadRow formats retrieval metrics as mean ± sd (no median rank).
func spreadRow(s RankSpread) []string {
	return []string{fmt.Sprint(s.Queries), PM("%.1f", 100*s.R1.Mean, 100*s.R1.SD) + "%", PM("%.1f", 100*s.R5.Mean, 100*s.R5.SD) + "%",
		PM("%.1f", 100*s.R10.Mean, 100*s.R10.SD) + "%", PM("%.3f", s.MRR.Mean, s.MRR.SD), "—"}
}

// ValidationTable is every search variant on the validation photos with the chosen
// encoders, after the two-tower's choices: the runoff of the two best encoder pairs, one
// model (mean ± sd over the validation seeds) or the mean cosine of every seed's model (±
// its jackknife spread), then the hubness correction's β.
func ValidationTable(r *RetrievalReport) ([]string, [][]string) {
	var rows [][]string
	for _, t := range r.Runoff {
		name := fmt.Sprintf("runoff: %s + %s, one model (mean ± sd over %d seeds)", t.Image, t.Text, t.Single.Seeds)
		if t.Image == r.Encoders[0] && t.Text == r.Encoders[1] {
			name += " ✓"
		}
		rows = append(rows, append(append([]string{name}, spreadRow(t.Single)...), "—"))
	}
	if e := r.EnsembleValid; e != nil {
		one, ens := fmt.Sprintf("two-tower: one model (mean ± sd over %d seeds)", e.Single.Seeds),
			fmt.Sprintf("two-tower: ensemble, mean cosine of %d seeds (± jackknife)", e.Ensemble.Seeds)
		if r.Ensemble {
			ens += " ✓"
		} else {
			one += " ✓"
		}
		rows = append(rows, append(append([]string{one}, spreadRow(e.Single)...), "—"),
			append(append([]string{ens}, spreadRow(e.Ensemble)...), "—"))
	}
	for _, h := range r.HubnessTrials {
		name := "two-tower: plain cosine"
		if h.Scale > 0 {
			name = fmt.Sprintf("two-tower: hubness-corrected, β %g", h.Scale)
		}
		if h.Scale == r.HubnessScale {
			name += " ✓"
		}
		rows = append(rows, append(append([]string{name}, statsRow(h.Allowed)...), "—"))
	}
	for _, v := range r.Validation {
		tau := "—"
		if v.ExpertTauC != nil {
			tau = fmt.Sprintf("%.1f", *v.ExpertTauC)
		}
		var notes []string
		if v.LabelWeight > 0 {
			notes = append(notes, fmt.Sprintf("label weight %g", v.LabelWeight))
		}
		if r.Ensemble && v.Variant != search.VariantMLP {
			notes = append(notes, fmt.Sprintf("two-tower ×%d", len(r.ValidSeeds)))
		}
		if r.HubnessScale > 0 && v.Variant != search.VariantMLP {
			notes = append(notes, fmt.Sprintf("hubness β %g", r.HubnessScale))
		}
		name := v.Variant
		if len(notes) > 0 {
			name += " (" + strings.Join(notes, ", ") + ")"
		}
		if v.Variant == r.Default {
			name += " ✓ (default)"
		}
		rows = append(rows, append(append([]string{name}, statsRow(v.Allowed)...), tau))
	}
	return append(append([]string{"variant (validation, allowed queries)"}, statsHeader...), "out-of-fold τ-c"), rows
}

// TestTable is the final evaluation: the default variant on the test queries with the
// chosen two-tower: the ensemble of the final seeds (± its jackknife spread) when
// validation chose it, and each seed's model alone (mean ± sd over the seeds).
func TestTable(r *RetrievalReport) ([]string, [][]string) {
	row := func(name, seeds string, s RankSpread) []string {
		cells := spreadRow(s) // queries, R@1, R@5, R@10, MRR, median rank
		return append([]string{name, cells[0], seeds}, cells[1:5]...)
	}
	const allowed, all = "allowed by the filter (what the search answers)", "all, blocked ones ranked as if allowed"
	t := r.Test
	var rows [][]string
	if e := t.Ensemble; e != nil {
		seeds := fmt.Sprintf("ensemble of %d (± jackknife)", e.Allowed.Seeds)
		rows = append(rows, row("✓ ensemble, "+allowed, seeds, e.Allowed), row("✓ ensemble, "+all, seeds, e.All))
		rows = append(rows, row("one model, "+allowed, fmt.Sprint(t.Allowed.Seeds), t.Allowed), row("one model, "+all, fmt.Sprint(t.All.Seeds), t.All))
	} else {
		rows = append(rows, row(allowed, fmt.Sprint(t.Allowed.Seeds), t.Allowed), row(all, fmt.Sprint(t.All.Seeds), t.All))
	}
	return []string{"test queries (" + t.Variant + ")", "queries", "seeds", "R@1", "R@5", "R@10", "MRR"}, rows
}

// EnsembleConclusion says what averaging the two-tower's seeds did, on validation (where
// it was chosen) and on the test queries, claiming a difference only beyond twice the
// combined spread.
func EnsembleConclusion(r *RetrievalReport) string {
	e := r.EnsembleValid
	if e == nil {
		return "* The two-tower was trained with one seed: no ensemble to compare.\n"
	}
	verdict := func(one, sOne, ens, sEns float64) string {
		switch {
		case beyond(one, sOne, ens, sEns):
			return "the ensemble is better, beyond twice the combined spread"
		case beyond(ens, sEns, one, sOne):
			return "one model is better, beyond twice the combined spread"
		}
		return "within twice the combined spread: no clear difference"
	}
	var b strings.Builder
	choice := "one model (the first seed's)"
	if r.Ensemble {
		choice = fmt.Sprintf("the ensemble of the final two-tower's %d seeds", len(r.TwoTowerSeeds))
	}
	fmt.Fprintf(&b, "* Validation (two-tower variant, allowed queries): one model MRR **%s** (R@1 %s %%, mean ± sd over %d seeds); the mean cosine of the %d seeds MRR **%s** (R@1 %s %%, ± jackknife): %s. The search scores with %s (chosen by the higher MRR).\n",
		PM("%.3f", e.Single.MRR.Mean, e.Single.MRR.SD), PM("%.1f", 100*e.Single.R1.Mean, 100*e.Single.R1.SD), e.Single.Seeds, e.Ensemble.Seeds,
		PM("%.3f", e.Ensemble.MRR.Mean, e.Ensemble.MRR.SD), PM("%.1f", 100*e.Ensemble.R1.Mean, 100*e.Ensemble.R1.SD),
		verdict(e.Single.MRR.Mean, e.Single.MRR.SD, e.Ensemble.MRR.Mean, e.Ensemble.MRR.SD), choice)
	if t := r.Test; t.Ensemble != nil {
		one, ens := t.Allowed, t.Ensemble.Allowed
		fmt.Fprintf(&b, "* Test (%s, allowed queries, once, after every choice): the ensemble R@1 **%s %%**, MRR %s (± jackknife); one model R@1 %s %%, MRR %s (mean ± sd over %d seeds): R@1 %s.\n",
			t.Variant, PM("%.1f", 100*ens.R1.Mean, 100*ens.R1.SD), PM("%.3f", ens.MRR.Mean, ens.MRR.SD),
			PM("%.1f", 100*one.R1.Mean, 100*one.R1.SD), PM("%.3f", one.MRR.Mean, one.MRR.SD), one.Seeds,
			verdict(one.R1.Mean, one.R1.SD, ens.R1.Mean, ens.R1.SD))
	}
	return b.String()
}

// TwoTowerCurve is the learning curve of the chosen encoders' validation two-tower.
func TwoTowerCurve(r *RetrievalReport) string {
	return retrieval.CurveSVG(fmt.Sprintf("Two-tower %s + %s, trained without the validation photos", r.Encoders[0], r.Encoders[1]), r.Curve, r.CurveBest)
}

// BlockedCount is how many test queries the filter blocks.
func BlockedCount(r *RetrievalReport) (blocked, total int) {
	return count(r.Test.Blocked), len(r.Test.Blocked)
}
