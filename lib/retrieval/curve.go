package retrieval

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// CurveSVG draws a model's learning curve as an inline SVG (it survives HTML export):
// the training loss on the left; on the right the validation Recall@1, Recall@5 and MRR
// of the held-out photos' captions among those photos; the kept epoch is marked.
func CurveSVG(title string, history []Epoch, bestEpoch int) string {
	const w, h = 360, 220
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, 2*w, h+24)
	fmt.Fprintf(&b, `<text x="%d" y="14" text-anchor="middle" font-size="13">%s</text>`, w, html.EscapeString(title))
	n := len(history)
	xs, loss, r1, r5, mrr := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, e := range history {
		xs[i], loss[i], r1[i], r5[i], mrr[i] = float64(e.Epoch), e.TrainLoss, e.ValidR1, e.ValidR5, e.ValidMRR
	}
	panel(&b, 0, 24, w, h, "training loss", xs, []series{{"InfoNCE", "#1f77b4", loss}}, bestEpoch)
	panel(&b, w, 24, w, h, "validation", xs, []series{{"R@1", "#2ca02c", r1}, {"R@5", "#ff7f0e", r5}, {"MRR", "#9467bd", mrr}}, bestEpoch)
	b.WriteString(`</svg>`)
	return b.String()
}

type series struct {
	name, color string
	y           []float64
}

// panel draws series against epochs in a w×h box at (x0, y0), NaNs left out.
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
