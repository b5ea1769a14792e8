// Package charts draws the project's figures as SVG with gonum/plot, so they survive the
// notebooks' HTML export and need no JavaScript. Each function returns the SVG text;
// notebooks show it with gonbui.DisplaySVG.
package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Size of every figure.
var (
	Width  = 7 * vg.Inch
	Height = 3.6 * vg.Inch
)

// Series is a named list of values, one per category or per point.
type Series struct {
	Name   string
	Values []float64
}

// Line is a named curve.
type Line struct {
	Name string
	X, Y []float64
}

// palette is colour-blind-friendly (Okabe–Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{86, 180, 233, 255}, color.RGBA{213, 94, 0, 255},
	color.RGBA{240, 228, 66, 255}, color.RGBA{0, 0, 0, 255},
}

// Color returns the i-th colour of the palette.
func Color(i int) color.Color { return palette[i%len(palette)] }

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	return p
}

// render draws the plot as SVG; a legend (where the plot has one) goes in a strip below
// the data, never over it.
func render(p *plot.Plot, legendRows int) (string, error) {
	c := vgsvg.New(Width, Height)
	dc := draw.New(c)
	if legendRows > 0 {
		l := p.Legend
		p.Legend = plot.NewLegend()
		rows := vg.Length(legendRows)
		strip := rows*(l.TextStyle.Font.Size+l.Padding+vg.Points(2)) + vg.Points(8)
		p.Draw(draw.Crop(dc, 0, 0, strip, 0))
		l.Top, l.Left = true, true
		l.XOffs = vg.Points(48)
		l.Draw(draw.Crop(dc, 0, 0, 0, -(Height - strip)))
	} else {
		p.Draw(dc)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// headroom widens an axis so that every value lies inside it with a margin: bars and counts
// start at zero, other axes get 5 % of their range on each side.
func headroom(a *plot.Axis, lo, hi float64, fromZero bool) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return
	}
	if fromZero {
		lo = math.Min(0, lo)
	}
	pad := 0.05 * (hi - lo)
	if pad == 0 {
		pad = math.Max(0.05*math.Abs(hi), 0.05)
	}
	a.Min, a.Max = lo-pad, hi+2*pad
	if fromZero && lo >= 0 {
		a.Min = 0
	}
}

// Bars draws grouped bars: one group per category, one bar per series. Series values
// must have one value per category; NaN leaves a gap.
func Bars(title, ylabel string, categories []string, series []Series) (string, error) {
	p := newPlot(title, "", ylabel)
	n := len(series)
	if n == 0 {
		return "", fmt.Errorf("bars %q: no series", title)
	}
	w := vg.Points(math.Min(20, 300/float64(n*len(categories)+1)))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		if len(s.Values) != len(categories) {
			return "", fmt.Errorf("bars %q: series %q has %d values for %d categories", title, s.Name, len(s.Values), len(categories))
		}
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if !math.IsNaN(v) {
				vals[j] = v
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return "", err
		}
		b.Color = Color(i)
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(b)
		if n > 1 {
			p.Legend.Add(s.Name, b)
		}
	}
	p.NominalX(categories...)
	p.Add(plotter.NewGrid())
	headroom(&p.Y, lo, hi, true)
	p.X.Min, p.X.Max = -0.6, float64(len(categories))-0.4 // room for every group's outer bars
	if long := slices.ContainsFunc(categories, func(c string) bool { return len(c) > 60/len(categories) }); long {
		p.X.Tick.Label.Rotation = math.Pi / 8 // labels that would run into each other
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
	rows := 0
	if n > 1 {
		rows = n
	}
	return render(p, rows)
}

// Histogram draws the distribution of values in bins.
func Histogram(title, xlabel string, values []float64, bins int) (string, error) {
	p := newPlot(title, xlabel, "count")
	h, err := plotter.NewHist(plotter.Values(values), bins)
	if err != nil {
		return "", err
	}
	h.FillColor = Color(0)
	h.LineStyle.Color = color.White
	p.Add(h)
	return render(p, 0)
}

// Scatter draws points (x[i], y[i]), optionally with the diagonal y = x.
func Scatter(title, xlabel, ylabel string, x, y []float64, diagonal bool) (string, error) {
	if len(x) != len(y) {
		return "", fmt.Errorf("scatter %q: %d x values, %d y values", title, len(x), len(y))
	}
	p := newPlot(title, xlabel, ylabel)
	pts := make(plotter.XYs, len(x))
	lo, hi := math.Inf(1), math.Inf(-1)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
		lo, hi = math.Min(lo, math.Min(x[i], y[i])), math.Max(hi, math.Max(x[i], y[i]))
		xlo, xhi, ylo, yhi = math.Min(xlo, x[i]), math.Max(xhi, x[i]), math.Min(ylo, y[i]), math.Max(yhi, y[i])
	}
	headroom(&p.X, xlo, xhi, false)
	headroom(&p.Y, ylo, yhi, false)
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return "", err
	}
	s.GlyphStyle.Color = color.RGBA{0, 114, 178, 90}
	s.GlyphStyle.Radius = vg.Points(1.8)
	s.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(s)
	if diagonal && lo < hi {
		d, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
		d.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		d.Color = color.Gray{120}
		p.Add(d)
	}
	return render(p, 0)
}

// Lines draws curves, e.g. training and validation loss per epoch.
func Lines(title, xlabel, ylabel string, lines []Line) (string, error) {
	p := newPlot(title, xlabel, ylabel)
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, l := range lines {
		if len(l.X) != len(l.Y) {
			return "", fmt.Errorf("lines %q: curve %q has %d x and %d y", title, l.Name, len(l.X), len(l.Y))
		}
		pts := make(plotter.XYs, len(l.X))
		for j := range l.X {
			pts[j] = plotter.XY{X: l.X[j], Y: l.Y[j]}
			xlo, xhi, ylo, yhi = math.Min(xlo, l.X[j]), math.Max(xhi, l.X[j]), math.Min(ylo, l.Y[j]), math.Max(yhi, l.Y[j])
		}
		ln, err := plotter.NewLine(pts)
		if err != nil {
			return "", err
		}
		ln.Color = Color(i)
		ln.Width = vg.Points(1.5)
		ln.Dashes = plotutil.Dashes(i / len(palette))
		p.Add(ln)
		p.Legend.Add(l.Name, ln)
	}
	p.Add(plotter.NewGrid())
	headroom(&p.Y, ylo, yhi, false)
	p.X.Min, p.X.Max = xlo, xhi
	rows := 0
	if len(lines) > 1 {
		rows = len(lines)
	}
	return render(p, rows)
}
