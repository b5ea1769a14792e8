package imageenc

import (
	"container/heap"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/tfjs"
)

// human's CenterNet (MobileNetV3 backbone, COCO's 80 classes) on GoMLX. The graph is built
// by interpreting the TF.js graph model's own nodes (centernet.json: _FusedConv2D,
// DepthwiseConv2dNative, hard-swish as Add/Relu6/Mul, squeeze-excite as Mean and 1×1
// convolutions, ResizeBilinear, ConcatV2, Sigmoid), so it is the network human runs, not a
// re-typed copy. Convolutions run as patches + fused matmul (convpatch.go); the graph is
// cut at its depthwise convolutions, which run on the host between the graph's stages
// (centernet_stages.go, depthwise.go). One pass gives:
//   - the pooled backbone feature: the global average of tower_0/extern1/hard_swish/mul_1,
//     MobileNetV3's last feature map (1×1 convolution to 480 channels + hard-swish, 16×16 at
//     stride 32 for the 512×512 input), 480-d;
//   - the class presence: the maximum over the 128×128 positions of each class heatmap
//     tower_0/keypoints (after the model's own sigmoid), 80-d;
//   - the detections, decoded from the heatmap and tower_0/wh on the host exactly as the
//     graph's tail computes tower_0/detections (3×3 max-pool peaks, top 100, boxes).

// Names of the CenterNet encoders.
const (
	CenterNetPoolName       = "centernet-pool"       // global average of the last backbone map, 480-d
	CenterNetClassesName    = "centernet-classes"    // maximum of each class heatmap, 80-d
	CenterNetCountsName     = "centernet-counts"     // log(1 + objects found of each class) and "none", 81-d (Counts)
	centerNetDetectionsName = "centernet-detections" // the 100 decoded detections × 6 (cache name)
)

// CenterNet graph endpoints and sizes.
const (
	CenterNetSize      = 512 // side of the network's input
	centerNetClasses   = 80
	centerNetPoolDim   = 480
	centerNetTopK      = 100
	cnInputNode        = "tower_0/images"
	cnKeypointsNode    = "tower_0/keypoints"
	cnWHNode           = "tower_0/wh"
	cnPoolNode         = "tower_0/extern1/hard_swish/mul_1"
	cnDecodeScaleConst = "tower_0/mul_3/y" // the heatmap stride the graph's decoding multiplies by
)

// centerNetVersion changes whenever the preprocessing, the graph code or the decoding
// changes what the CenterNet encoders output, so older cached vectors are not reused.
const centerNetVersion = "human-centernet/1"

// COCOClasses are CenterNet's 80 classes in the model's order (class index 0 is "person"),
// as human's src/object/labels.ts lists them.
var COCOClasses = [centerNetClasses]string{
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
	"traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
	"horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
	"handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
	"baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
	"wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
	"bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
	"microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
	"teddy bear", "hair drier", "toothbrush",
}

// Detection is one row of tower_0/detections: a box in the 512×512 input's pixels, the
// heatmap peak's score and the class index (into COCOClasses).
type Detection struct {
	X1, Y1, X2, Y2 float32
	Score          float32
	Class          int
}

// Label is the detection's class name.
func (d Detection) Label() string { return COCOClasses[d.Class] }

// CenterNetOutputs are the results of one forward pass for a batch of images.
type CenterNetOutputs struct {
	Pool       [][]float32   // global average of the last backbone feature map (480)
	Classes    [][]float32   // maximum of each class heatmap (80, sigmoid scores)
	Detections [][]Detection // the top 100 heatmap peaks, best first
}

// CenterNetBatchSize is the number of images per forward pass (one compiled graph; a last
// partial batch is padded), and CenterNetWorkers the number of passes run at once (the Go
// backend runs most of one pass on one core).
var (
	CenterNetBatchSize = 1
	CenterNetWorkers   = runtime.GOMAXPROCS(0)
)

// CenterNet runs human's CenterNet. It is safe for concurrent use.
type CenterNet struct {
	model   *tfjs.GraphModel
	backend compute.Backend
	stride  float32 // input pixels per heatmap cell (4)

	stages func() (*cnStages, error) // planned once; each stage compiles one graph per batch size
}

// DefaultCenterNet returns human's CenterNet (fetched and verified by lib/assets), loaded
// once per process and shared by the centernet encoders.
func DefaultCenterNet() (*CenterNet, error) { return defaultCenterNet() }

var defaultCenterNet = sync.OnceValues(func() (*CenterNet, error) {
	path, err := assets.CenterNetJSON()
	if err != nil {
		return nil, err
	}
	m, err := tfjs.LoadGraphModel(path)
	if err != nil {
		return nil, err
	}
	backend, err := centerNetBackend()
	if err != nil {
		return nil, err
	}
	return NewCenterNet(m, backend)
})

// centerNetBackend is the shared backend, except that on the Go backend CenterNet gets its
// own instance that runs a pass's ops in graph order ("ops_sequential"): CenterNet gets its
// parallelism from CenterNetWorkers passes at a time (each pass also runs its depthwise
// convolutions on the host, one worker each).
func centerNetBackend() (compute.Backend, error) {
	b, err := sharedBackend()
	if err != nil || b.String() != gobackend.BackendName {
		return b, err
	}
	return gobackend.New("ops_sequential")
}

// NewCenterNet checks that the graph model has CenterNet's endpoints and prepares it for
// the backend (graphs are compiled on first use, per batch size).
func NewCenterNet(m *tfjs.GraphModel, backend compute.Backend) (*CenterNet, error) {
	for _, name := range []string{cnInputNode, cnKeypointsNode, cnWHNode, cnPoolNode} {
		if _, ok := m.Node(name); !ok {
			return nil, fmt.Errorf("CenterNet graph model: no node %q", name)
		}
	}
	scale, ok := m.Weights[cnDecodeScaleConst]
	if !ok || len(scale.Float) != 1 || scale.Float[0] <= 0 {
		return nil, fmt.Errorf("CenterNet graph model: no positive scalar %q (the decoding's heatmap stride)", cnDecodeScaleConst)
	}
	cn := &CenterNet{model: m, backend: backend, stride: scale.Float[0]}
	cn.stages = sync.OnceValues(func() (*cnStages, error) { return planCNStages(cn.model, cn.backend) })
	return cn, nil
}

// PreprocessCenterNet returns the 512×512×3 input human feeds CenterNet for img (HWC,
// values 0..255): tf.image.resizeBilinear of the float pixels to 512×512, without align
// corners or half-pixel centres, as human's centernet.predict does.
func PreprocessCenterNet(img image.Image) []float32 {
	w, h, pix := rgb8(img)
	out := make([]float32, CenterNetSize*CenterNetSize*3)
	resizeBilinearTF(pix, w, h, out, CenterNetSize, CenterNetSize, 1, false)
	return out
}

// cnBuilder interprets the graph model's nodes into one GoMLX graph; errors panic (as
// GoMLX's own do) and Forward recovers them.
type cnBuilder struct {
	m     *tfjs.GraphModel
	input *Node
	memo  map[string]*Node
	// members are the nodes this stage computes (cnStages); constants are built where read.
	members map[string]bool
}

func (b *cnBuilder) fail(n *tfjs.Node, format string, args ...any) {
	panic(fmt.Errorf("node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, args...)))
}

// value returns the output of the node named by an input reference.
func (b *cnBuilder) value(ref string) *Node {
	name, output, control := tfjs.ParseInput(ref)
	if control || output != 0 {
		panic(fmt.Errorf("input %q: only first outputs are supported", ref))
	}
	if v, ok := b.memo[name]; ok {
		return v
	}
	n, ok := b.m.Node(name)
	if !ok {
		panic(fmt.Errorf("input %q names no node", ref))
	}
	if b.members != nil && !b.members[name] && !cnFree(b.m, name) {
		b.fail(n, "read by a stage that neither computes it nor receives it (cnStages)")
	}
	v := b.eval(n)
	b.memo[name] = v
	return v
}

// weight returns the constant a node input names.
func (b *cnBuilder) weight(n *tfjs.Node, i int) *tfjs.Tensor {
	w, err := cnWeight(b.m, n, i)
	if err != nil {
		panic(err)
	}
	return w
}

func (b *cnBuilder) ints(n *tfjs.Node, i int) []int {
	w := b.weight(n, i)
	if w.Int == nil {
		b.fail(n, "input %d is not an int32 constant", i)
	}
	out := make([]int, len(w.Int))
	for j, v := range w.Int {
		out[j] = int(v)
	}
	return out
}

// fusedOps returns a fused node's fused_ops list ("BiasAdd", "Relu", ...).
func fusedOps(n *tfjs.Node) ([]string, error) {
	var v struct {
		List struct {
			S []string `json:"s"`
		} `json:"list"`
	}
	if err := json.Unmarshal(n.Attr["fused_ops"], &v); err != nil {
		return nil, fmt.Errorf("node %q: fused_ops: %w", n.Name, err)
	}
	ops := make([]string, len(v.List.S))
	for i, s := range v.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("node %q: fused_ops %q: %w", n.Name, s, err)
		}
		ops[i] = string(b)
	}
	return ops, nil
}

// convSpecNode reads a convolution node's strides, padding and dilations for input x.
func (b *cnBuilder) convSpecNode(n *tfjs.Node, x *Node, kh, kw int) convSpec {
	c, err := readCNConv(n, kh, kw)
	if err != nil {
		panic(err)
	}
	s, err := c.spec(x.Shape().Dimensions)
	if err != nil {
		panic(err)
	}
	return s
}

// cnConv is a convolution node's kernel size, strides and padding mode.
type cnConv struct {
	node           *tfjs.Node
	kh, kw, sh, sw int
	padding        string // "valid" or "same"
}

// cnConvAttrs reads a convolution node's strides, padding and dilations.
func readCNConv(n *tfjs.Node, kh, kw int) (cnConv, error) {
	fail := func(format string, args ...any) (cnConv, error) {
		return cnConv{}, fmt.Errorf("node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, args...))
	}
	strides, err1 := tfjs.AttrInts(n, "strides")
	padding, err2 := tfjs.AttrString(n, "padding")
	if err := firstErr(err1, err2); err != nil {
		return cnConv{}, err
	}
	if f, err := tfjs.AttrString(n, "data_format"); err == nil && f != "NHWC" {
		return fail("data_format %q not supported", f)
	}
	if d, err := tfjs.AttrInts(n, "dilations"); err == nil && slices.ContainsFunc(d, func(v int) bool { return v != 1 }) {
		return fail("dilations %v not supported", d)
	}
	if len(strides) != 4 || strides[0] != 1 || strides[3] != 1 {
		return fail("strides %v not supported", strides)
	}
	return cnConv{node: n, kh: kh, kw: kw, sh: strides[1], sw: strides[2], padding: strings.ToLower(padding)}, nil
}

// spec is the convolution for an input of dimensions dims [N, H, W, C].
func (a cnConv) spec(dims []int) (convSpec, error) {
	if len(dims) != 4 {
		return convSpec{}, fmt.Errorf("node %q (%s): input of rank %d, want 4 (NHWC)", a.node.Name, a.node.Op, len(dims))
	}
	s := convSpec{kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw}
	var errH, errW error
	s.padTop, s.padBottom, errH = convPadding(a.padding, dims[1], a.kh, a.sh)
	s.padLeft, s.padRight, errW = convPadding(a.padding, dims[2], a.kw, a.sw)
	if err := firstErr(errH, errW); err != nil {
		return convSpec{}, fmt.Errorf("node %q (%s): %w", a.node.Name, a.node.Op, err)
	}
	return s, nil
}

// fusedTail applies a fused node's ops after the convolution: BiasAdd (the bias is the
// node's third input) and an optional Relu. It returns the bias and whether to apply Relu.
func (b *cnBuilder) fusedTail(n *tfjs.Node) (bias *tfjs.Tensor, relu bool) {
	bias, relu, err := cnFusedTail(b.m, n)
	if err != nil {
		panic(err)
	}
	return bias, relu
}

// cnFusedTail is fusedTail's reading of a fused node, with an error instead of a panic.
func cnFusedTail(m *tfjs.GraphModel, n *tfjs.Node) (bias *tfjs.Tensor, relu bool, err error) {
	ops, err := fusedOps(n)
	if err != nil {
		return nil, false, err
	}
	if k, _ := tfjs.AttrInt(n, "num_args"); k != 1 {
		return nil, false, fmt.Errorf("node %q (%s): num_args %d, want 1", n.Name, n.Op, k)
	}
	switch {
	case slices.Equal(ops, []string{"BiasAdd"}):
	case slices.Equal(ops, []string{"BiasAdd", "Relu"}):
		relu = true
	default:
		return nil, false, fmt.Errorf("node %q (%s): fused_ops %v not supported", n.Name, n.Op, ops)
	}
	bias, err = cnWeight(m, n, 2)
	return bias, relu, err
}

// cnWeight returns the constant input i of node n.
func cnWeight(m *tfjs.GraphModel, n *tfjs.Node, i int) (*tfjs.Tensor, error) {
	if i >= len(n.Inputs) {
		return nil, fmt.Errorf("node %q (%s): %d inputs, want at least %d", n.Name, n.Op, len(n.Inputs), i+1)
	}
	name, _, _ := tfjs.ParseInput(n.Inputs[i])
	w, ok := m.Weights[name]
	if !ok {
		return nil, fmt.Errorf("node %q (%s): input %d (%s) is not a constant", n.Name, n.Op, i, name)
	}
	return w, nil
}

func (b *cnBuilder) eval(n *tfjs.Node) *Node {
	g := b.input.Graph()
	switch n.Op {
	case "Placeholder":
		if n.Name != cnInputNode {
			b.fail(n, "unexpected input")
		}
		return b.input
	case "Const":
		w, ok := b.m.Weights[n.Name]
		if !ok || w.Float == nil {
			b.fail(n, "float constant without weights")
		}
		if len(w.Shape) == 0 {
			return Const(g, w.Float[0])
		}
		return Const(g, tensors.FromFlatDataAndDimensions(w.Float, w.Shape...))
	case "Identity":
		return b.value(n.Inputs[0])
	case "_FusedConv2D", "Conv2D":
		x, k := b.value(n.Inputs[0]), b.weight(n, 1)
		if len(k.Shape) != 4 || k.Shape[2] != x.Shape().Dimensions[3] {
			b.fail(n, "kernel shape %v for input %s", k.Shape, x.Shape())
		}
		spec := b.convSpecNode(n, x, k.Shape[0], k.Shape[1])
		kernel := Const(g, tensors.FromFlatDataAndDimensions(k.Float, k.Shape[0]*k.Shape[1]*k.Shape[2], k.Shape[3]))
		var bias *Node
		relu := false
		if n.Op == "_FusedConv2D" {
			var bw *tfjs.Tensor
			bw, relu = b.fusedTail(n)
			bias = Const(g, tensors.FromFlatDataAndDimensions(bw.Float, k.Shape[3]))
		}
		return conv2D(x, spec, kernel, bias, relu)
	case "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative":
		b.fail(n, "a depthwise convolution inside a graph stage: they run on the host between stages (cnStages)")
	case "Add", "AddV2", "Mul", "Sub":
		if len(n.Inputs) != 2 {
			b.fail(n, "%d inputs, want 2", len(n.Inputs))
		}
		x, y := b.value(n.Inputs[0]), b.value(n.Inputs[1])
		switch n.Op {
		case "Mul":
			return Mul(x, y)
		case "Sub":
			return Sub(x, y)
		}
		return Add(x, y)
	case "Relu":
		return activation.Relu(b.value(n.Inputs[0]))
	case "Relu6":
		return ClipScalar(b.value(n.Inputs[0]), 0, 6)
	case "Sigmoid":
		return Sigmoid(b.value(n.Inputs[0]))
	case "Mean":
		x, axes := b.value(n.Inputs[0]), b.ints(n, 1)
		for i, a := range axes {
			if a < 0 {
				axes[i] = a + x.Rank()
			}
		}
		if keep, _ := tfjs.AttrBool(n, "keep_dims"); keep {
			return ReduceAndKeep(x, ReduceMean, axes...)
		}
		return ReduceMean(x, axes...)
	case "ConcatV2":
		last := len(n.Inputs) - 1
		axis := b.ints(n, last)
		if len(axis) != 1 {
			b.fail(n, "axis %v", axis)
		}
		parts := make([]*Node, last)
		for i := range parts {
			parts[i] = b.value(n.Inputs[i])
		}
		return Concatenate(parts, axis[0])
	case "ResizeBilinear":
		x, size := b.value(n.Inputs[0]), b.ints(n, 1)
		align, _ := tfjs.AttrBool(n, "align_corners")
		half, _ := tfjs.AttrBool(n, "half_pixel_centers")
		if align || half || len(size) != 2 {
			b.fail(n, "size %v, align_corners %v, half_pixel_centers %v: only the legacy mode is supported", size, align, half)
		}
		return resizeBilinearNode(x, size[0], size[1])
	}
	b.fail(n, "op not supported")
	return nil
}

// resizeBilinearNode is tf.image.resizeBilinear(x, [oh, ow]) in TF's legacy mode (no align
// corners, no half-pixel centres) for x [N, H, W, C], separable: rows, then columns, each
// as two gathers and top + (bottom − top)·frac, the source coordinates in float32 as TF's
// CPU kernel computes them. GoMLX's Interpolate gives the same values
// (TestResizeBilinearNodeMatchesInterpolate) about 6× slower on the Go backend.
func resizeBilinearNode(x *Node, oh, ow int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	n, h, w, c := dims[0], dims[1], dims[2], dims[3]
	taps := func(in, out int) (lo, hi []int, frac []float32) {
		scale := float32(in) / float32(out)
		for i := range out {
			src := float32(i) * scale
			l := int(src)
			lo, hi = append(lo, l), append(hi, min(l+1, in-1))
			frac = append(frac, src-float32(l))
		}
		return lo, hi, frac
	}
	// lerp interpolates the rows of flat [groups·in, D] to [groups·len(lo), D].
	lerp := func(flat *Node, lo, hi []int, frac []float32, groups, in int) *Node {
		var top, bottom []int32
		for b := range groups {
			for i := range lo {
				top, bottom = append(top, int32(b*in+lo[i])), append(bottom, int32(b*in+hi[i]))
			}
		}
		d := flat.Shape().Dimensions[1]
		t := Reshape(gatherRows(flat, top), groups, len(lo), d)
		bt := Reshape(gatherRows(flat, bottom), groups, len(lo), d)
		f := Const(g, tensors.FromFlatDataAndDimensions(frac, 1, len(lo), 1))
		return Reshape(Add(t, Mul(Sub(bt, t), f)), groups*len(lo), d)
	}
	// Rows: [N·H, W·C] → [N·oh, W·C].
	lo, hi, frac := taps(h, oh)
	rows := lerp(Reshape(x, n*h, w*c), lo, hi, frac, n, h)
	// Columns: [N·oh·W, C] → [N·oh·ow, C].
	lo, hi, frac = taps(w, ow)
	cols := lerp(Reshape(rows, n*oh*w, c), lo, hi, frac, n*oh, w)
	return Reshape(cols, n, oh, ow, c)
}

// Forward runs the network on n preprocessed images (n×512×512×3 values, HWC each, as
// PreprocessCenterNet returns them): its graph stages on the backend and the depthwise
// convolutions between them on the host (cnStages).
func (cn *CenterNet) Forward(input []float32, n int) (out *CenterNetOutputs, err error) {
	const size = CenterNetSize * CenterNetSize * 3
	if n <= 0 || len(input) != n*size {
		return nil, fmt.Errorf("CenterNet: %d input values, want %d×512×512×3", len(input), n)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CenterNet: %v", r)
		}
	}()
	p, err := cn.stages()
	if err != nil {
		return nil, fmt.Errorf("CenterNet: %w", err)
	}
	flat, shapes, err := p.run(cn, input, n)
	if err != nil {
		return nil, fmt.Errorf("CenterNet: %w", err)
	}
	kd, wd := shapes[1], shapes[2]
	if kd[3] != centerNetClasses || len(flat[3]) != n*centerNetPoolDim || wd[3] != 4 || wd[1] != kd[1] || wd[2] != kd[2] {
		return nil, fmt.Errorf("CenterNet: outputs %v, %v, %v; want [%d, H, W, %d], [%d, H, W, 4], [%d, %d]",
			kd, wd, shapes[3], n, centerNetClasses, n, n, centerNetPoolDim)
	}
	out = &CenterNetOutputs{Classes: split(flat[0], n), Pool: split(flat[3], n)}
	hw := kd[1] * kd[2]
	for i := range n {
		out.Detections = append(out.Detections, decodeDetections(
			flat[1][i*hw*centerNetClasses:(i+1)*hw*centerNetClasses], flat[2][i*hw*4:(i+1)*hw*4],
			kd[1], kd[2], centerNetClasses, centerNetTopK, cn.stride))
	}
	return out, nil
}

// Run preprocesses the images (PreprocessCenterNet) and runs them CenterNetBatchSize at a
// time, CenterNetWorkers batches at once; the last partial batch is padded so one compiled
// graph serves every batch.
func (cn *CenterNet) Run(imgs []image.Image) (*CenterNetOutputs, error) {
	bs := max(1, CenterNetBatchSize)
	const size = CenterNetSize * CenterNetSize * 3
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("CenterNet: image %d is empty", i)
		}
	}
	nb := (len(imgs) + bs - 1) / bs
	results := make([]*CenterNetOutputs, nb)
	errs := make([]error, nb)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(max(1, CenterNetWorkers), nb) {
		wg.Go(func() {
			for k := range next {
				batch := imgs[k*bs : min((k+1)*bs, len(imgs))]
				input := make([]float32, bs*size)
				for i, img := range batch {
					copy(input[i*size:], PreprocessCenterNet(img))
				}
				results[k], errs[k] = cn.Forward(input, bs)
			}
		})
	}
	for k := range nb {
		next <- k
	}
	close(next)
	wg.Wait()
	out := &CenterNetOutputs{}
	for k, res := range results {
		if errs[k] != nil {
			return nil, errs[k]
		}
		n := min(bs, len(imgs)-k*bs)
		out.Pool = append(out.Pool, res.Pool[:n]...)
		out.Classes = append(out.Classes, res.Classes[:n]...)
		out.Detections = append(out.Detections, res.Detections[:n]...)
	}
	return out, nil
}

// peak is a candidate of the top-k: a heatmap value and its flat index.
type peak struct {
	v   float32
	idx int
}

// peakHeap is a min-heap on (value, then larger index first): its root is the candidate
// the next better one replaces (TF's TopKV2 prefers the lower index among equal values).
type peakHeap []peak

func (h peakHeap) Len() int { return len(h) }
func (h peakHeap) Less(i, j int) bool {
	return h[i].v < h[j].v || (h[i].v == h[j].v && h[i].idx > h[j].idx)
}
func (h peakHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *peakHeap) Push(x any)   { *h = append(*h, x.(peak)) }
func (h *peakHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// decodeDetections computes tower_0/detections from one image's heatmap kp [H, W, C] and
// box offsets wh [H, W, 4], as the graph's tail does: the heatmap keeps only the values equal
// to their 3×3 max-pool ("SAME", so edges pool over fewer cells) and is zero elsewhere; the
// top k of the flattened [H·W·C] values (sorted, the lower index first among equal
// values); flat index i gives class i mod C, cell y = (i / C) / W, x = (i / C) mod W, and
// the box (x·s − wh₀, y·s − wh₁, x·s + wh₂, y·s + wh₃) with s the heatmap stride.
func decodeDetections(kp, wh []float32, h, w, c, k int, stride float32) []Detection {
	isPeak := func(i int) bool {
		v := kp[i]
		ch, pos := i%c, i/c
		y, x := pos/w, pos%w
		for yy := max(0, y-1); yy <= min(h-1, y+1); yy++ {
			for xx := max(0, x-1); xx <= min(w-1, x+1); xx++ {
				if kp[(yy*w+xx)*c+ch] > v {
					return false
				}
			}
		}
		return true
	}
	top := make(peakHeap, 0, k+1)
	for i, v := range kp {
		if len(top) == k && v <= top[0].v {
			continue // not better than the worst kept (ties keep the lower index)
		}
		if !isPeak(i) {
			continue
		}
		heap.Push(&top, peak{v, i})
		if len(top) > k {
			heap.Pop(&top)
		}
	}
	// Fewer than k peaks: the suppressed cells (value 0) follow in index order.
	for i := 0; len(top) < k && i < len(kp); i++ {
		if !isPeak(i) {
			heap.Push(&top, peak{0, i})
		}
	}
	slices.SortFunc(top, func(a, b peak) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return a.idx - b.idx
	})
	dets := make([]Detection, len(top))
	for j, p := range top {
		pos := p.idx / c
		y, x := float32(pos/w), float32(pos%w)
		o := wh[4*pos : 4*pos+4]
		dets[j] = Detection{x*stride - o[0], y*stride - o[1], x*stride + o[2], y*stride + o[3], p.v, p.idx % c}
	}
	return dets
}

func init() {
	for _, name := range []string{CenterNetPoolName, CenterNetClassesName, CenterNetCountsName} {
		Encoders.Register(name, func() (Encoder, error) { return newCenterNetEncoder(name) })
	}
}

// centerNetDims are the widths of the four outputs of one CenterNet pass.
var centerNetDims = map[string]int{
	CenterNetPoolName: centerNetPoolDim, CenterNetClassesName: centerNetClasses, CenterNetCountsName: centerNetCountsDim,
	centerNetDetectionsName: 6 * centerNetTopK,
}

// centerNetEncoder is one output of CenterNet as an Encoder; all four outputs (pooled
// feature, class presence, object counts, detections) come from the same pass and are
// cached together (see JointEncoder).
type centerNetEncoder struct {
	cn   *CenterNet
	name string
}

func newCenterNetEncoder(name string) (*centerNetEncoder, error) {
	cn, err := DefaultCenterNet()
	if err != nil {
		return nil, err
	}
	return &centerNetEncoder{cn: cn, name: name}, nil
}

func (e *centerNetEncoder) Name() string    { return e.name }
func (e *centerNetEncoder) Weights() string { return "sha256:" + e.cn.model.SHA256 }
func (e *centerNetEncoder) Version() string { return centerNetVersion }
func (e *centerNetEncoder) Dim() int        { return centerNetDims[e.name] }

func (e *centerNetEncoder) Embed(imgs []image.Image) ([][]float32, error) {
	all, err := e.EmbedJoint(imgs)
	if err != nil {
		return nil, err
	}
	return all[e.name], nil
}

// Joint lists the four outputs of the shared pass.
func (e *centerNetEncoder) Joint() []JointOutput {
	return []JointOutput{
		{CenterNetPoolName, centerNetPoolDim}, {CenterNetClassesName, centerNetClasses}, {CenterNetCountsName, centerNetCountsDim},
		{centerNetDetectionsName, 6 * centerNetTopK},
	}
}

// EmbedJoint runs the images once and returns every output by encoder name; the
// detections are flattened as tower_0/detections rows (x1, y1, x2, y2, score, class).
func (e *centerNetEncoder) EmbedJoint(imgs []image.Image) (map[string][][]float32, error) {
	out, err := e.cn.Run(imgs)
	if err != nil {
		return nil, err
	}
	dets := make([][]float32, len(out.Detections))
	counts := make([][]float32, len(out.Detections))
	for i, ds := range out.Detections {
		for _, d := range ds {
			dets[i] = append(dets[i], d.X1, d.Y1, d.X2, d.Y2, d.Score, float32(d.Class))
		}
		counts[i] = Counts(SelectObjects(ds))
	}
	return map[string][][]float32{CenterNetPoolName: out.Pool, CenterNetClassesName: out.Classes, CenterNetCountsName: counts,
		centerNetDetectionsName: dets}, nil
}

// execFlat runs e on the inputs and returns its outputs as float32 slices with their
// dimensions; the output tensors are freed.
func execFlat(e *Exec, inputs ...any) (flat [][]float32, dims [][]int, err error) {
	res, err := e.Exec(inputs...)
	if err != nil {
		return nil, nil, err
	}
	return flatten(res)
}

// flatten returns tensors as float32 slices with their dimensions, and frees them.
func flatten(res []*tensors.Tensor) (flat [][]float32, dims [][]int, err error) {
	defer func() {
		for _, t := range res {
			t.FinalizeAll()
		}
	}()
	for _, t := range res {
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, nil, err
		}
		flat, dims = append(flat, v), append(dims, t.Shape().Dimensions)
	}
	return flat, dims, nil
}
