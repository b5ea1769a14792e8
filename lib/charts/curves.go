package charts

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Curve is one named series of a learning-curve panel, one value per epoch (NaN or Inf
// values are left out).
type Curve struct {
	Name, Color string
	Y           []float64
}

// Panel is one box of learning curves against epochs 1, 2, …
type Panel struct {
	Label  string
	Curves []Curve
}

// LearningCurves draws panels side by side as a light inline SVG (no fonts to embed, so a
// notebook can redraw it live every epoch) with the kept epoch marked by a dashed line.
func LearningCurves(title string, panels []Panel, bestEpoch int) string {
	const w, h = 360, 220
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, len(panels)*w, h+24)
	fmt.Fprintf(&b, `<text x="%d" y="14" text-anchor="middle" font-size="13">%s</text>`, len(panels)*w/2, html.EscapeString(title))
	for i, p := range panels {
		panel(&b, i*w, 24, w, h, p, bestEpoch)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// panel draws one box; its legend is a row above the box, never over the curves, and the
// value axis has 5 % headroom on both sides.
func panel(b *strings.Builder, x0, y0, w, h int, p Panel, best int) {
	const l, r, t, bot = 48, 10, 22, 28
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, s := range p.Curves {
		n = max(n, len(s.Y))
		for _, v := range s.Y {
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
	pad := 0.05 * (hi - lo)
	lo, hi = lo-pad, hi+pad
	xmax := max(float64(n), 2)
	px := func(x float64) float64 { return float64(x0+l) + (x-1)/(xmax-1)*float64(w-l-r) }
	py := func(y float64) float64 { return float64(y0+t) + (hi-y)/(hi-lo)*float64(h-t-bot) }
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, x0+l, y0+t, w-l-r, h-t-bot)
	for _, v := range []float64{lo, (lo + hi) / 2, hi} {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.3g</text>`, x0+l-4, py(v)+4, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">epoch (%s)</text>`, px((1+xmax)/2), y0+h-6, html.EscapeString(p.Label))
	if best > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#bbb" stroke-dasharray="3,3"/>`,
			px(float64(best)), px(float64(best)), y0+t, y0+h-bot)
	}
	lx := x0 + l
	for _, s := range p.Curves {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">■ %s</text>`, lx, y0+t-8, s.Color, html.EscapeString(s.Name))
		lx += 7*len([]rune(s.Name)) + 26
	}
	for _, s := range p.Curves {
		var pts []string
		for i, v := range s.Y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(i+1)), py(v)))
			}
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, s.Color, strings.Join(pts, " "))
	}
}
