package regress

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/withsense/withsense/lib/progress"
)

// CurveSVG draws a learning curve as an inline SVG (it survives HTML export): training
// and validation loss on the left, validation MAE on the right, the kept epoch marked.
func CurveSVG(title string, history []Epoch, bestEpoch int) string {
	const w, h = 360, 220
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, 2*w, h+24)
	fmt.Fprintf(&b, `<text x="%d" y="14" text-anchor="middle" font-size="13">%s</text>`, w, html.EscapeString(title))
	xs := make([]float64, len(history))
	train, valid, mae := make([]float64, len(history)), make([]float64, len(history)), make([]float64, len(history))
	for i, e := range history {
		xs[i], train[i], valid[i], mae[i] = float64(e.Epoch), e.TrainLoss, e.ValidLoss, e.ValidMAE
	}
	panel(&b, 0, 24, w, h, "loss", xs, []series{{"train", "#1f77b4", train}, {"validation", "#ff7f0e", valid}}, bestEpoch)
	panel(&b, w, 24, w, h, "validation MAE", xs, []series{{"MAE", "#2ca02c", mae}}, bestEpoch)
	b.WriteString(`</svg>`)
	return b.String()
}

type series struct {
	name, color string
	y           []float64
}

func panel(b *strings.Builder, x0, y0, w, h int, label string, xs []float64, ss []series, best int) {
	const l, r, t, bot = 48, 10, 10, 28
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if lo > hi {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-12 {
		lo, hi = lo-0.5*math.Abs(lo)-1e-3, hi+0.5*math.Abs(hi)+1e-3
	}
	xmax := max(float64(len(xs)), 2)
	px := func(x float64) float64 { return float64(x0+l) + (x-1)/(xmax-1)*float64(w-l-r) }
	py := func(y float64) float64 { return float64(y0+t) + (hi-y)/(hi-lo)*float64(h-t-bot) }
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, x0+l, y0+t, w-l-r, h-t-bot)
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.3g</text>`, x0+l-4, py(v)+4, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">epoch (%s)</text>`, px((1+xmax)/2), y0+h-6, html.EscapeString(label))
	if best > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#bbb" stroke-dasharray="3,3"/>`,
			px(float64(best)), px(float64(best)), y0+t, y0+h-bot)
	}
	for k, s := range ss {
		var pts []string
		for i, v := range s.y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(v)))
			}
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, s.color, strings.Join(pts, " "))
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s" text-anchor="end">%s</text>`, x0+w-r-4, y0+t+14+14*k, s.color, html.EscapeString(s.name))
	}
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
