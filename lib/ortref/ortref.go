// Package ortref runs ONNX models with ONNX Runtime, the reference against which the
// project's GoMLX encoders are checked (parity tests) and timed (benchmarks). The runtime
// is the libonnxruntime.so.1 of npm onnxruntime-node@1.30.0 (see assets.ONNXRuntimeLib),
// loaded at run time through github.com/yalue/onnxruntime_go (which needs cgo).
//
// It is a test and benchmark tool: the encoders themselves never depend on it.
package ortref

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/project"
)

// LibEnv names the environment variable that overrides the path of libonnxruntime.so.
const LibEnv = "ONNXRUNTIME_LIB"

var (
	initOnce sync.Once
	initErr  error
	libPath  string
)

// Init loads ONNX Runtime once: $ONNXRUNTIME_LIB if set, else the library unpacked from
// the verified onnxruntime-node tarball (fetched with npm on first use). It returns the
// library's path; every call after the first returns the first call's result.
func Init() (string, error) {
	initOnce.Do(func() {
		libPath = os.Getenv(LibEnv)
		if libPath == "" {
			libPath, initErr = assets.ONNXRuntimeLib()
			if initErr != nil {
				initErr = fmt.Errorf("ONNX Runtime library: %w", initErr)
				return
			}
		}
		ort.SetSharedLibraryPath(libPath)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("%s: %w", libPath, err)
		}
	})
	return libPath, initErr
}

// Version is ONNX Runtime's version string ("1.30.0"), after Init.
func Version() string { return ort.GetVersion() }

// Session is one model loaded in ONNX Runtime, with the inputs it is fed and the outputs
// it returns fixed at creation.
type Session struct {
	name            string
	inputs, outputs []string
	s               *ort.DynamicAdvancedSession
}

// Options tune a session. The zero value uses all CPU cores.
type Options struct {
	// Threads is the number of intra-op threads; 0 means runtime.NumCPU().
	Threads int
}

// Open loads the model in file path (name is used in errors) and prepares it to compute
// outputs from inputs; empty lists mean the model's own graph inputs and outputs.
func Open(path string, inputs, outputs []string, opts Options) (*Session, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return OpenBytes(path, data, inputs, outputs, opts)
}

// OpenBytes is Open for a serialized model already in memory.
func OpenBytes(name string, model []byte, inputs, outputs []string, opts Options) (*Session, error) {
	if _, err := Init(); err != nil {
		return nil, err
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(inputs) == 0 {
			for _, in := range ins {
				inputs = append(inputs, in.Name)
			}
		}
		if len(outputs) == 0 {
			for _, out := range outs {
				outputs = append(outputs, out.Name)
			}
		}
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, err
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Session{name: name, inputs: inputs, outputs: outputs, s: s}, nil
}

// Inputs and Outputs are the names the session was opened with, in order.
func (s *Session) Inputs() []string  { return slices.Clone(s.inputs) }
func (s *Session) Outputs() []string { return slices.Clone(s.outputs) }

// Close frees the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// Tensor is a dense row-major tensor: exactly one of Float32 and Int64 holds its values.
type Tensor struct {
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

// Float32 and Int64 build tensors of the given shape over data (not copied).
func Float32(data []float32, shape ...int64) Tensor { return Tensor{Shape: shape, Float32: data} }
func Int64(data []int64, shape ...int64) Tensor     { return Tensor{Shape: shape, Int64: data} }

func (t Tensor) value() (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	switch {
	case t.Float32 != nil:
		return ort.NewTensor(shape, t.Float32)
	case t.Int64 != nil:
		return ort.NewTensor(shape, t.Int64)
	}
	return nil, fmt.Errorf("tensor of shape %v has no data", t.Shape)
}

// Run feeds one tensor per input (in the order of Inputs) and returns the outputs (in the
// order of Outputs), copied out of ONNX Runtime. Float outputs fill Float32, integer ones Int64.
func (s *Session) Run(inputs ...Tensor) ([]Tensor, error) {
	if s.s == nil {
		return nil, fmt.Errorf("%s: session closed", s.name)
	}
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("%s: got %d inputs, the session takes %d (%v)", s.name, len(inputs), len(s.inputs), s.inputs)
	}
	in := make([]ort.Value, len(inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, t := range inputs {
		v, err := t.value()
		if err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", s.name, s.inputs[i], err)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.outputs))
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := s.s.Run(in, out); err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	res := make([]Tensor, len(out))
	for i, v := range out {
		switch v := v.(type) {
		case *ort.Tensor[float32]:
			res[i] = Tensor{Shape: slices.Clone([]int64(v.GetShape())), Float32: slices.Clone(v.GetData())}
		case *ort.Tensor[int64]:
			res[i] = Tensor{Shape: slices.Clone([]int64(v.GetShape())), Int64: slices.Clone(v.GetData())}
		default:
			return nil, fmt.Errorf("%s: output %q has unsupported type %T", s.name, s.outputs[i], v)
		}
	}
	return res, nil
}

// WithOutputs returns the serialized model with the named intermediate values added to
// its graph outputs (ONNX Runtime only returns graph outputs), e.g. the pooled features
// that feed a classifier. Names that are already outputs are left as they are; a name
// that no node produces is an error.
func WithOutputs(model []byte, names ...string) ([]byte, error) {
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(model, m); err != nil {
		return nil, fmt.Errorf("parsing ONNX model: %w", err)
	}
	produced := map[string]bool{}
	for _, n := range m.GetGraph().GetNode() {
		for _, o := range n.GetOutput() {
			produced[o] = true
		}
	}
	isOutput := map[string]bool{}
	for _, o := range m.GetGraph().GetOutput() {
		isOutput[o.GetName()] = true
	}
	for _, name := range names {
		if isOutput[name] {
			continue
		}
		if !produced[name] {
			return nil, fmt.Errorf("no node of graph %q produces %q", m.GetGraph().GetName(), name)
		}
		m.Graph.Output = append(m.Graph.Output, &protos.ValueInfoProto{Name: name})
		isOutput[name] = true
	}
	return proto.Marshal(m)
}

// The random-weight test graphs that export_graphs.py writes under models/testgraphs.
const (
	ResNet50Graph    = "resnet50-v1-random.onnx"
	MiniLMGraph      = "minilm-l6-random.onnx"
	InceptionV3Graph = "inception-v3-random.onnx"
)

// RequireGraphsEnv names the environment variable that turns a missing test graph from a
// skipped test into a failed one (CI sets it after generating the graphs).
const RequireGraphsEnv = "WITH_SENSE_REQUIRE_TESTGRAPHS"

// TestGraph returns the path of one of the random-weight test graphs, or an error that
// says how to generate it when it is missing.
func TestGraph(name string) (string, error) {
	path := filepath.Join(project.ModelsDir(), "testgraphs", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("test graph %s missing: generate it with `/usr/bin/python3 lib/ortref/export_graphs.py` "+
			"(needs `apt-get install -y python3-torch python3-torchvision python3-onnx`)", path)
	}
	return path, nil
}

// Graph is TestGraph for tests and benchmarks: a missing graph skips tb, or fails it when
// $WITH_SENSE_REQUIRE_TESTGRAPHS is set.
func Graph(tb testing.TB, name string) string {
	tb.Helper()
	path, err := TestGraph(name)
	if err != nil {
		if os.Getenv(RequireGraphsEnv) != "" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	return path
}

// RelErr compares got with the reference want: maxRel is the largest absolute difference
// divided by the largest absolute reference value, l2Rel is ‖got−want‖₂/‖want‖₂. Slices of
// different lengths give +Inf.
func RelErr(got, want []float32) (maxRel, l2Rel float64) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1)
	}
	var maxDiff, maxRef, sumDiff2, sumRef2 float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.NaN(), math.NaN()
		}
		r := math.Abs(float64(want[i]))
		maxDiff, maxRef = max(maxDiff, d), max(maxRef, r)
		sumDiff2 += d * d
		sumRef2 += r * r
	}
	if maxRef == 0 {
		return maxDiff, math.Sqrt(sumDiff2)
	}
	return maxDiff / maxRef, math.Sqrt(sumDiff2 / sumRef2)
}

// Compare is the body of a speed benchmark against ONNX Runtime: it runs gomlx and ort once
// each to warm up (compilation, allocations) outside the timer, then both alternately b.N
// times, timing each side, and reports items/s of each side ("gomlx-<unit>/s",
// "ort-<unit>/s") and their ratio ("gomlx/ort", > 1 when GoMLX is faster), where each call
// processes items units (images, sentences).
func Compare(b *testing.B, items int, unit string, gomlx, ort func() error) {
	b.Helper()
	if err := gomlx(); err != nil {
		b.Fatal(err)
	}
	if err := ort(); err != nil {
		b.Fatal(err)
	}
	var tGo, tORT time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := gomlx(); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := ort(); err != nil {
			b.Fatal(err)
		}
		tGo, tORT = tGo+mid.Sub(start), tORT+time.Since(mid)
	}
	b.StopTimer()
	n := float64(b.N * items)
	b.ReportMetric(n/tGo.Seconds(), "gomlx-"+unit+"/s")
	b.ReportMetric(n/tORT.Seconds(), "ort-"+unit+"/s")
	b.ReportMetric(tORT.Seconds()/tGo.Seconds(), "gomlx/ort")
}
