package ortref

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

func TestRelErr(t *testing.T) {
	maxRel, l2Rel := RelErr([]float32{1, 2, -4}, []float32{1, 2, -4})
	if maxRel != 0 || l2Rel != 0 {
		t.Errorf("equal slices: %g %g", maxRel, l2Rel)
	}
	maxRel, _ = RelErr([]float32{1, 2.5, -4}, []float32{1, 2, -4})
	if math.Abs(maxRel-0.125) > 1e-9 {
		t.Errorf("max rel err %g, want 0.5/4", maxRel)
	}
	if m, _ := RelErr([]float32{1}, []float32{1, 2}); !math.IsInf(m, 1) {
		t.Errorf("different lengths: %g, want +Inf", m)
	}
	if m, _ := RelErr([]float32{float32(math.NaN())}, []float32{1}); !math.IsNaN(m) {
		t.Errorf("NaN: %g, want NaN", m)
	}
}

// TestSession runs the random-weight ResNet50 graph with its pooled features added as an
// output, and checks the errors of bad calls.
func TestSession(t *testing.T) {
	path := Graph(t, ResNet50Graph)
	if _, err := Init(); err != nil {
		t.Fatal(err)
	}
	if v := Version(); v != "1.30.0" {
		t.Errorf("ONNX Runtime version %q, want 1.30.0", v)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WithOutputs(data, "no such value"); err == nil || !strings.Contains(err.Error(), "no such value") {
		t.Errorf("unknown output: got error %v", err)
	}
	const feat = "/Flatten_output_0"
	with, err := WithOutputs(data, feat, "logits")
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenBytes(path, with, nil, nil, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Outputs(), ","); got != "logits,"+feat {
		t.Errorf("outputs %s, want logits,%s", got, feat)
	}
	r := rand.New(rand.NewPCG(1, 1))
	in := make([]float32, 3*224*224)
	for i := range in {
		in[i] = float32(r.NormFloat64())
	}
	out, err := s.Run(Float32(in, 1, 3, 224, 224))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || len(out[0].Float32) != 1000 || len(out[1].Float32) != 2048 {
		t.Fatalf("outputs of %d tensors, shapes %v %v", len(out), out[0].Shape, out[1].Shape)
	}
	if _, err := s.Run(); err == nil {
		t.Errorf("no inputs accepted")
	}
	if _, err := s.Run(Tensor{Shape: []int64{1, 3, 224, 224}}); err == nil {
		t.Errorf("input without data accepted")
	}
	if _, err := s.Run(Float32(in[:10], 1, 3, 224, 224)); err == nil {
		t.Errorf("input of the wrong size accepted")
	}
}

// BenchmarkORT reports ONNX Runtime's own images/s and sentences/s on the random-weight
// graphs, at batch sizes 1 and 8 (images) or 32 (sentences of 32 tokens).
func BenchmarkORT(b *testing.B) {
	for _, c := range []struct {
		name, graph string
		batch       int
		side        int
	}{
		{"resnet50/batch=1", ResNet50Graph, 1, 224},
		{"resnet50/batch=8", ResNet50Graph, 8, 224},
		{"inceptionv3/batch=1", InceptionV3Graph, 1, 299},
		{"inceptionv3/batch=8", InceptionV3Graph, 8, 299},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(Graph(b, c.graph), nil, nil, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			in := make([]float32, c.batch*3*c.side*c.side)
			x := Float32(in, int64(c.batch), 3, int64(c.side), int64(c.side))
			if _, err := s.Run(x); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := s.Run(x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "img/s")
		})
	}
	b.Run("minilm/batch=32", func(b *testing.B) {
		s, err := Open(Graph(b, MiniLMGraph), []string{"input_ids", "attention_mask", "token_type_ids"}, []string{"last_hidden_state"}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ids, mask := make([]int64, 32*32), make([]int64, 32*32)
		for i := range ids {
			ids[i], mask[i] = int64(1000+i), 1
		}
		in := []Tensor{Int64(ids, 32, 32), Int64(mask, 32, 32), Int64(make([]int64, 32*32), 32, 32)}
		if _, err := s.Run(in...); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := s.Run(in...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds(), "sent/s")
	})
}
