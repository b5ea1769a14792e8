package imageenc

import (
	"fmt"
	"image"
	"math"
	"os"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	_ "github.com/gomlx/compute/gobackend" // the Go backend, GoMLX's default here
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
	"google.golang.org/protobuf/proto"

	"github.com/withsense/withsense/lib/assets"
)

// ResNet50Name is the registry name of the ImageNet ResNet50 encoder of the original study.
const ResNet50Name = "resnet50"

func init() {
	Encoders.Register(ResNet50Name, func() (Encoder, error) {
		path, err := assets.ResNet50.Available()
		if err != nil {
			return nil, err
		}
		return loadResNet50(path, assets.ResNet50.SHA256)
	})
}

// ResNet50BatchSize is how many images ResNet50.Embed runs through the network at once.
var ResNet50BatchSize = 8

// ResNet50 embeds photos with an ImageNet ResNet50 classifier in ONNX form (the model
// zoo's resnet50-v1-12.onnx), run by onnx-gomlx on the GoMLX backend that $GOMLX_BACKEND
// names (the Go backend by default). The classifier is skipped: the output is the
// 2048-d globally average-pooled feature vector that feeds the final dense layer.
// Images are preprocessed as for ImageNet (see ImageNetInput).
//
// On the Go backend two rewrites make it fast without changing the graph's results beyond
// float rounding: BatchNormalizations are folded into the convolutions before them
// (resnet50_fold.go, as ONNX Runtime does) and convolutions and pooling run as matrix
// products and strided slices (resnet50_conv.go).
type ResNet50 struct {
	path, sha string
	model     onnx.Model
	input     string // name of the image input ("data")
	features  string // name of the value that feeds the classifier
	dim       int

	mu      sync.Mutex
	backend compute.Backend
	store   *model.Store
	exec    *model.Exec
}

// LoadResNet50 loads an ONNX ResNet-style classifier (one NCHW float input of 224×224
// images, a final Gemm or MatMul classifier) from path. It finds the classifier's input,
// which becomes the encoder's output. Weights() is the file's sha256.
func LoadResNet50(path string) (*ResNet50, error) {
	sha, err := assets.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	return loadResNet50(path, sha)
}

func loadResNet50(path, sha string) (*ResNet50, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pm protos.ModelProto
	if err := proto.Unmarshal(data, &pm); err != nil {
		return nil, fmt.Errorf("%s: parsing ONNX model: %w", path, err)
	}
	features, dim, err := classifierInput(&pm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := foldBatchNorm(&pm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if data, err = proto.Marshal(&pm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pm.Reset()
	m, err := parser.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	inputs, inShapes := m.Inputs()
	if len(inputs) != 1 || inShapes[0].Rank() != 4 || inShapes[0].Dimensions[1] != 3 {
		return nil, fmt.Errorf("%s: want one NCHW image input [N,3,H,W], got inputs %v with shapes %v", path, inputs, inShapes)
	}
	backend, err := compute.New()
	if err != nil {
		return nil, fmt.Errorf("GoMLX backend: %w", err)
	}
	backend = withIm2colConv(backend) // fast convolutions on the Go backend (resnet50_conv.go)
	store := model.NewStore()
	if err := m.VariablesToScope(store.RootScope()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &ResNet50{path: path, sha: sha, model: m, input: inputs[0], features: features, dim: dim,
		backend: backend, store: store}
	r.exec, err = model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
		out := m.CallGraph(scope, images.Graph(), map[string]*Node{r.input: images}, r.features)[0]
		return Reshape(out, out.Shape().Dimensions[0], -1) // [N,C,1,1] → [N,C] if not flattened yet
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ClassifierInput finds, in a serialized ONNX classifier, the value that feeds its final
// dense layer: the first input of the Gemm (or MatMul, possibly followed by Add, Softmax)
// that produces the graph's first output. dim is the classifier's input width (2048 for
// ResNet50), read from its weight.
func ClassifierInput(onnxModel []byte) (name string, dim int, err error) {
	var m protos.ModelProto
	if err := proto.Unmarshal(onnxModel, &m); err != nil {
		return "", 0, fmt.Errorf("parsing ONNX model: %w", err)
	}
	return classifierInput(&m)
}

func classifierInput(m *protos.ModelProto) (name string, dim int, err error) {
	g := m.GetGraph()
	if len(g.GetOutput()) == 0 {
		return "", 0, fmt.Errorf("graph %q has no outputs", g.GetName())
	}
	producer := map[string]*protos.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	weights := map[string]*protos.TensorProto{}
	for _, t := range g.GetInitializer() {
		weights[t.GetName()] = t
	}
	out := g.GetOutput()[0].GetName()
	for range 4 {
		n := producer[out]
		if n == nil {
			break
		}
		switch n.GetOpType() {
		case "Softmax", "Add", "Identity":
			// Walk back through a final softmax or a bias added after MatMul: follow the
			// input that is not a weight.
			next := ""
			for _, in := range n.GetInput() {
				if _, isWeight := weights[in]; !isWeight && in != "" {
					next = in
					break
				}
			}
			out = next
			continue
		case "Gemm", "MatMul":
			if len(n.GetInput()) < 2 {
				break
			}
			w := weights[n.GetInput()[1]]
			if w == nil || len(w.GetDims()) != 2 {
				return "", 0, fmt.Errorf("classifier %s %q: weight %q is not a 2-D initializer", n.GetOpType(), n.GetName(), n.GetInput()[1])
			}
			dim = int(w.GetDims()[0])
			if n.GetOpType() == "Gemm" {
				for _, a := range n.GetAttribute() {
					if a.GetName() == "transB" && a.GetI() != 0 {
						dim = int(w.GetDims()[1])
					}
				}
			}
			return n.GetInput()[0], dim, nil
		}
		break
	}
	return "", 0, fmt.Errorf("graph %q: output %q does not come from a Gemm/MatMul classifier", g.GetName(), g.GetOutput()[0].GetName())
}

func (r *ResNet50) Name() string    { return ResNet50Name }
func (r *ResNet50) Dim() int        { return r.dim }
func (r *ResNet50) Weights() string { return r.sha }

// Features runs the network on n preprocessed images (NCHW float32, n×3×H×W values, as
// ImageNetInput returns them) and returns n feature vectors of length Dim().
func (r *ResNet50) Features(input []float32, n int) (feats [][]float32, err error) {
	if n <= 0 || len(input)%(n*3) != 0 {
		return nil, fmt.Errorf("%s: %d input values do not hold %d 3-channel images", r.path, len(input), n)
	}
	side := isqrt(len(input) / (n * 3))
	if side*side*n*3 != len(input) {
		return nil, fmt.Errorf("%s: %d input values are not %d square 3-channel images", r.path, len(input), n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if e := recover(); e != nil { // GoMLX graph building reports errors by panicking
			err = fmt.Errorf("%s: %v", r.path, e)
		}
	}()
	out, err := r.exec.Call1(tensors.FromFlatDataAndDimensions(input, n, 3, side, side))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.path, err)
	}
	defer out.FinalizeAll()
	flat, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		return nil, err
	}
	if len(flat) != n*r.dim {
		return nil, fmt.Errorf("%s: features %s, want [%d,%d]", r.path, out.Shape(), n, r.dim)
	}
	feats = make([][]float32, n)
	for i := range feats {
		feats[i] = flat[i*r.dim : (i+1)*r.dim : (i+1)*r.dim]
	}
	return feats, nil
}

// Embed preprocesses the images (ImageNetInput) and returns their features, running
// ResNet50BatchSize images at a time.
func (r *ResNet50) Embed(imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, 0, len(imgs))
	for start := 0; start < len(imgs); start += ResNet50BatchSize {
		batch := imgs[start:min(start+ResNet50BatchSize, len(imgs))]
		input, err := ImageNetInput(batch)
		if err != nil {
			return nil, fmt.Errorf("image %d..%d: %w", start, start+len(batch)-1, err)
		}
		feats, err := r.Features(input, len(batch))
		if err != nil {
			return nil, err
		}
		out = append(out, feats...)
	}
	return out, nil
}

func isqrt(n int) int { return int(math.Sqrt(float64(n)) + 0.5) }
