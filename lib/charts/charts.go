// Package charts draws the project's figures as SVG with gonum/plot, so they survive the
// notebooks' HTML export and need no JavaScript. Each function returns the SVG text;
// notebooks show it with gonbui.DisplaySVG.
package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

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

func render(p *plot.Plot) (string, error) {
	c := vgsvg.New(Width, Height)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	return buf.String(), nil
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
	for i, s := range series {
		if len(s.Values) != len(categories) {
			return "", fmt.Errorf("bars %q: series %q has %d values for %d categories", title, s.Name, len(s.Values), len(categories))
		}
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if !math.IsNaN(v) {
				vals[j] = v
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
	return render(p)
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
	return render(p)
}

// Scatter draws points (x[i], y[i]), optionally with the diagonal y = x.
func Scatter(title, xlabel, ylabel string, x, y []float64, diagonal bool) (string, error) {
	if len(x) != len(y) {
		return "", fmt.Errorf("scatter %q: %d x values, %d y values", title, len(x), len(y))
	}
	p := newPlot(title, xlabel, ylabel)
	pts := make(plotter.XYs, len(x))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
		lo, hi = math.Min(lo, math.Min(x[i], y[i])), math.Max(hi, math.Max(x[i], y[i]))
	}
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
	return render(p)
}

// Lines draws curves, e.g. training and validation loss per epoch.
func Lines(title, xlabel, ylabel string, lines []Line) (string, error) {
	p := newPlot(title, xlabel, ylabel)
	for i, l := range lines {
		if len(l.X) != len(l.Y) {
			return "", fmt.Errorf("lines %q: curve %q has %d x and %d y", title, l.Name, len(l.X), len(l.Y))
		}
		pts := make(plotter.XYs, len(l.X))
		for j := range l.X {
			pts[j] = plotter.XY{X: l.X[j], Y: l.Y[j]}
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
	return render(p)
}
