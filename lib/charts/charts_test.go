package charts

import (
	"math"
	"strings"
	"testing"
)

func TestChartsRenderSVG(t *testing.T) {
	for name, draw := range map[string]func() (string, error){
		"bars": func() (string, error) {
			return Bars("MAE per model", "MAE", []string{"mean", "mlp"}, []Series{{"a", []float64{0.2, 0.17}}, {"b", []float64{0.21, math.NaN()}}})
		},
		"hist": func() (string, error) { return Histogram("targets", "target", []float64{0, 0.1, 0.5, 1}, 4) },
		"scatter": func() (string, error) {
			return Scatter("pred vs true", "true", "pred", []float64{0, 1}, []float64{0.1, 0.9}, true)
		},
		"lines": func() (string, error) {
			return Lines("loss", "epoch", "loss", []Line{{"train", []float64{1, 2}, []float64{3, 2}}})
		},
	} {
		svg, err := draw()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(svg, "<svg") {
			t.Errorf("%s: not an SVG: %.80s", name, svg)
		}
	}
	if _, err := Bars("x", "y", []string{"a", "b"}, []Series{{"s", []float64{1}}}); err == nil {
		t.Error("series shorter than the categories accepted")
	}
	if _, err := Scatter("x", "a", "b", []float64{1}, nil, false); err == nil {
		t.Error("scatter of unequal lengths accepted")
	}
}

func TestLearningCurves(t *testing.T) {
	svg := LearningCurves("MLP <x>", []Panel{
		{Label: "loss", Curves: []Curve{{Name: "train", Color: "#111", Y: []float64{3, 2, math.NaN(), 1}}}},
		{Label: "MAE", Curves: []Curve{{Name: "MAE", Color: "#222", Y: []float64{0.2, 0.2}}}},
	}, 2)
	for _, want := range []string{`width="720"`, "MLP &lt;x&gt;", "epoch (loss)", "epoch (MAE)", "stroke-dasharray", "<polyline"} {
		if !strings.Contains(svg, want) {
			t.Errorf("learning curves lack %q", want)
		}
	}
	if strings.Count(svg, "<polyline") != 2 {
		t.Errorf("want one polyline per curve: %d", strings.Count(svg, "<polyline"))
	}
}
