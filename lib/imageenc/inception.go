package imageenc

import (
	"fmt"
	"image"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/withsense/withsense/lib/train"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the Go backend, GoMLX's default here
	. "github.com/gomlx/gomlx/core/graph"  //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/nn"

	"github.com/withsense/withsense/lib/assets"
)

// nsfwjs' InceptionV3 on GoMLX. The graph is built by walking the Keras topology of
// model.min.js layer by layer (Conv2D, BatchNormalization, Activation, MaxPooling2D,
// AveragePooling2D, Concatenate, Flatten, Dense, Dropout), so it is the model nsfwjs runs,
// not a re-typed copy. For speed each Conv2D → BatchNormalization → ReLU chain is folded
// into one convolution with bias (BN with scale=False: (x − mean)/sqrt(var + ε) + β), run
// as patches + fused matmul (see convpatch.go).

// Names of the InceptionV3 encoders and of the layers they pool.
const (
	InceptionMixed5Name = "inception-mixed5" // global average of mixed5, 768-d
	InceptionPoolName   = "inception-pool"   // global average of mixed10, 2048-d
	inceptionNSFWName   = "inception-nsfw"   // the 5-class head (cache name of NSFWScores)
	mixed5Layer         = "mixed5"
	mixed10Layer        = "mixed10"
)

// InceptionBatchSize is the number of images per forward pass: one graph is compiled for
// this batch shape, and a last partial batch is padded.
var InceptionBatchSize = 8

// NSFWClasses are the classes of nsfwjs' head, in the order of NSFWScores.
var NSFWClasses = [5]string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}

// NSFWScores are the probabilities of nsfwjs' 5 classes (NSFWClasses order; they sum to 1).
type NSFWScores [5]float32

// Top returns the most probable class and its probability.
func (s NSFWScores) Top() (class string, p float32) {
	best := 0
	for i := range s {
		if s[i] > s[best] {
			best = i
		}
	}
	return NSFWClasses[best], s[best]
}

// InceptionOutputs are the results of one forward pass for a batch of images.
type InceptionOutputs struct {
	Mixed5 [][]float32  // global average of mixed5 (768)
	Pool   [][]float32  // global average of mixed10 (2048), the input of the head
	NSFW   []NSFWScores // the head's class probabilities
}

// Inception runs nsfwjs' InceptionV3. It is safe for concurrent use (calls are serialised).
type Inception struct {
	model   *TFJSModel
	backend compute.Backend
	convs   map[string]*foldedConv

	// groups (by input layer) and poolFirst (by convolution): see planGroups.
	groups    map[string]*convGroup
	poolFirst map[string]KerasLayer

	mu    sync.Mutex
	execs map[int]*Exec // by batch size
}

// foldedConv is a Conv2D with the following BatchNormalization (and ReLU) folded in:
// kernel [kh·kw·cin, cout], bias [cout].
type foldedConv struct {
	kernel, bias *tensors.Tensor
	relu         bool
	// bn and act name the folded layers: their outputs are this convolution's.
	bn, act string
}

// sharedBackend is the GoMLX backend the encoders run on (lib/train creates it once for
// the process, with every core working inside a pass).
func sharedBackend() (compute.Backend, error) { return train.EncoderBackend() }

var (
	inceptionOnce sync.Once
	inceptionVal  *Inception
	inceptionErr  error
)

// DefaultInception returns nsfwjs' InceptionV3 (fetched and verified by lib/assets), loaded
// once per process and shared by the inception encoders.
func DefaultInception() (*Inception, error) {
	inceptionOnce.Do(func() {
		dir, err := assets.NSFWJSDir()
		if err != nil {
			inceptionErr = err
			return
		}
		m, err := LoadTFJS(dir)
		if err != nil {
			inceptionErr = err
			return
		}
		backend, err := sharedBackend()
		if err != nil {
			inceptionErr = err
			return
		}
		inceptionVal, inceptionErr = NewInception(m, backend)
	})
	return inceptionVal, inceptionErr
}

// NewInception prepares the model for the backend, folding every Conv2D → BatchNorm →
// ReLU chain of the topology.
func NewInception(m *TFJSModel, backend compute.Backend) (*Inception, error) {
	inc := &Inception{model: m, backend: backend, convs: map[string]*foldedConv{}, execs: map[int]*Exec{}}
	consumers := map[string][]KerasLayer{}
	for _, l := range m.Layers {
		for _, in := range l.Inbound {
			consumers[in] = append(consumers[in], l)
		}
	}
	for _, l := range m.Layers {
		if l.ClassName != "Conv2D" {
			continue
		}
		fc, err := inc.foldConv(l, consumers)
		if err != nil {
			return nil, fmt.Errorf("nsfwjs InceptionV3: layer %s: %w", l.Name, err)
		}
		inc.convs[l.Name] = fc
	}
	inc.planGroups()
	for _, name := range []string{mixed5Layer, mixed10Layer} {
		if len(consumers[name]) == 0 {
			return nil, fmt.Errorf("nsfwjs InceptionV3: no layer %q with consumers in the topology", name)
		}
	}
	return inc, nil
}

// convSpecOf reads a Conv2D's kernel, strides and paddings (input size needed for "same").
func convSpecOf(l KerasLayer, h, w int) (convSpec, error) {
	c := l.Config
	if len(c.KernelSize) != 2 || len(c.Strides) != 2 {
		return convSpec{}, fmt.Errorf("kernel_size %v, strides %v: want 2 values each", c.KernelSize, c.Strides)
	}
	if c.DataFormat != "" && c.DataFormat != "channels_last" {
		return convSpec{}, fmt.Errorf("data_format %q not supported", c.DataFormat)
	}
	for _, d := range c.DilationRate {
		if d != 1 {
			return convSpec{}, fmt.Errorf("dilation_rate %v not supported", c.DilationRate)
		}
	}
	s := convSpec{kh: c.KernelSize[0], kw: c.KernelSize[1], sh: c.Strides[0], sw: c.Strides[1]}
	var err error
	if s.padTop, s.padBottom, err = convPadding(c.Padding, h, s.kh, s.sh); err != nil {
		return s, err
	}
	if s.padLeft, s.padRight, err = convPadding(c.Padding, w, s.kw, s.sw); err != nil {
		return s, err
	}
	return s, nil
}

func (inc *Inception) weight(name string, shape ...int) (*Weight, error) {
	w, ok := inc.model.Weights[name]
	if !ok {
		return nil, fmt.Errorf("weight %q missing", name)
	}
	if !slices.Equal(w.Shape, shape) {
		return nil, fmt.Errorf("weight %q has shape %v, want %v", name, w.Shape, shape)
	}
	return w, nil
}

// foldConv prepares a Conv2D and, when its only consumer is a BatchNormalization (itself
// followed only by a ReLU Activation), folds them into the kernel and bias.
func (inc *Inception) foldConv(l KerasLayer, consumers map[string][]KerasLayer) (*foldedConv, error) {
	c := l.Config
	if len(c.KernelSize) != 2 {
		return nil, fmt.Errorf("kernel_size %v", c.KernelSize)
	}
	kw, ok := inc.model.Weights[l.Name+"/kernel"]
	if !ok || len(kw.Shape) != 4 || kw.Shape[0] != c.KernelSize[0] || kw.Shape[1] != c.KernelSize[1] || kw.Shape[3] != c.Filters {
		return nil, fmt.Errorf("kernel %s/kernel missing or not [%v, cin, %d]", l.Name, c.KernelSize, c.Filters)
	}
	k, cout := kw.Shape[0]*kw.Shape[1]*kw.Shape[2], kw.Shape[3]
	kernel := make([]float64, len(kw.Data))
	for i, v := range kw.Data {
		kernel[i] = float64(v)
	}
	bias := make([]float64, cout)
	if c.UseBias {
		b, err := inc.weight(l.Name+"/bias", cout)
		if err != nil {
			return nil, err
		}
		for i, v := range b.Data {
			bias[i] = float64(v)
		}
	}
	fc := &foldedConv{}
	relu := false
	switch c.Activation {
	case "linear", "":
	case "relu":
		relu = true
	default:
		return nil, fmt.Errorf("activation %q not supported", c.Activation)
	}
	if next := consumers[l.Name]; !relu && len(next) == 1 && next[0].ClassName == "BatchNormalization" {
		bn := next[0]
		if err := checkBN(bn); err != nil {
			return nil, fmt.Errorf("%s: %w", bn.Name, err)
		}
		mean, err1 := inc.weight(bn.Name+"/moving_mean", cout)
		variance, err2 := inc.weight(bn.Name+"/moving_variance", cout)
		beta, err3 := inc.weight(bn.Name+"/beta", cout)
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		var gamma *Weight
		var err error
		if bn.Config.Scale == nil || *bn.Config.Scale {
			if gamma, err = inc.weight(bn.Name+"/gamma", cout); err != nil {
				return nil, err
			}
		}
		for o := range cout {
			s := 1 / math.Sqrt(float64(variance.Data[o])+bn.Config.Epsilon)
			if gamma != nil {
				s *= float64(gamma.Data[o])
			}
			for i := range k {
				kernel[i*cout+o] *= s
			}
			bias[o] = (bias[o]-float64(mean.Data[o]))*s + float64(beta.Data[o])
		}
		fc.bn = bn.Name
		if after := consumers[bn.Name]; len(after) == 1 && after[0].ClassName == "Activation" && after[0].Config.Activation == "relu" {
			relu = true
			fc.act = after[0].Name
		}
	}
	fc.relu = relu
	k32 := make([]float32, len(kernel))
	for i, v := range kernel {
		k32[i] = float32(v)
	}
	b32 := make([]float32, cout)
	for i, v := range bias {
		b32[i] = float32(v)
	}
	fc.kernel = tensors.FromFlatDataAndDimensions(k32, k, cout)
	fc.bias = tensors.FromFlatDataAndDimensions(b32, cout)
	return fc, nil
}

func checkBN(l KerasLayer) error {
	switch l.Config.Axis.(type) {
	case float64:
		if a := l.Config.Axis.(float64); a != 3 && a != -1 {
			return fmt.Errorf("axis %v: only the channels axis is supported", a)
		}
	case []any:
		if a := l.Config.Axis.([]any); len(a) != 1 || (a[0] != 3.0 && a[0] != -1.0) {
			return fmt.Errorf("axis %v: only the channels axis is supported", a)
		}
	default:
		return fmt.Errorf("axis %v not supported", l.Config.Axis)
	}
	if l.Config.Center != nil && !*l.Config.Center {
		return fmt.Errorf("center=false not supported")
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// buildOptions selects how the graph is built.
type buildOptions struct {
	// unfolded computes each Conv2D, BatchNormalization and Activation separately
	// (slower), so every layer's output exists (for per-layer checks).
	unfolded bool
}

// chanView is channels [off, off+c) of x (NHWC): the output of one convolution of a
// merged group, copied out only where a consumer needs it on its own.
type chanView struct {
	x      *Node
	off, c int
	own    *Node // the materialised copy, once made
}

func fullView(x *Node) *chanView {
	return &chanView{x: x, c: x.Shape().Dimensions[x.Rank()-1], own: x}
}

// node returns the view as its own tensor.
func (v *chanView) node() *Node {
	if v.own == nil {
		total := v.x.Shape().Dimensions[3]
		v.own = Pad(v.x, ScalarZero(v.x.Graph(), v.x.DType()), compute.PadAxis{}, compute.PadAxis{}, compute.PadAxis{},
			compute.PadAxis{Start: -v.off, End: -(total - v.off - v.c)})
	}
	return v.own
}

// patches is im2col for a view: the crop of the channels and the spatial zero padding
// are one Pad (one copy) before the Gather.
func (v *chanView) patches(spec convSpec) *Node {
	if v.own != nil || spec.padTop+spec.padBottom+spec.padLeft+spec.padRight == 0 {
		return im2col(v.node(), spec)
	}
	total := v.x.Shape().Dimensions[3]
	padded := Pad(v.x, ScalarZero(v.x.Graph(), v.x.DType()), compute.PadAxis{},
		compute.PadAxis{Start: spec.padTop, End: spec.padBottom},
		compute.PadAxis{Start: spec.padLeft, End: spec.padRight},
		compute.PadAxis{Start: -v.off, End: -(total - v.off - v.c)})
	spec.padTop, spec.padBottom, spec.padLeft, spec.padRight = 0, 0, 0, 0
	return im2col(padded, spec)
}

// convGroup is a set of folded 1×1 convolutions reading the same input (the first
// convolutions of an Inception block's branches), run as one wider matmul.
type convGroup struct {
	members      []string
	offsets      []int
	kernel, bias *tensors.Tensor
	relu         bool
}

// planGroups finds the 1×1 convolutions to merge (by input layer) and the
// AveragePooling2D → 1×1 Conv2D pairs to reorder: conv1x1(avgpool(x)) = avgpool(conv1x1(x))
// (both linear; the mean's divisor is per position), and the pool then runs on the
// convolution's fewer channels. Bias and ReLU come after the pool.
func (inc *Inception) planGroups() {
	inc.groups = map[string]*convGroup{}
	inc.poolFirst = map[string]KerasLayer{}
	byName := map[string]KerasLayer{}
	consumers := map[string][]KerasLayer{}
	for _, l := range inc.model.Layers {
		byName[l.Name] = l
		for _, in := range l.Inbound {
			consumers[in] = append(consumers[in], l)
		}
	}
	is1x1 := func(l KerasLayer) bool {
		c := l.Config
		return l.ClassName == "Conv2D" && len(c.KernelSize) == 2 && c.KernelSize[0] == 1 && c.KernelSize[1] == 1 &&
			len(c.Strides) == 2 && c.Strides[0] == 1 && c.Strides[1] == 1
	}
	for _, l := range inc.model.Layers {
		if !is1x1(l) {
			continue
		}
		pool, ok := byName[l.Inbound[0]]
		c := pool.Config
		if ok && pool.ClassName == "AveragePooling2D" && len(consumers[pool.Name]) == 1 && c.Padding == "same" &&
			len(c.Strides) == 2 && c.Strides[0] == 1 && c.Strides[1] == 1 {
			inc.poolFirst[l.Name] = pool
		}
	}
	byInput := map[string][]string{}
	for _, l := range inc.model.Layers {
		if is1x1(l) {
			if _, ok := inc.poolFirst[l.Name]; !ok {
				byInput[l.Inbound[0]] = append(byInput[l.Inbound[0]], l.Name)
			}
		}
	}
	for in, members := range byInput {
		if len(members) < 2 {
			continue
		}
		relu := inc.convs[members[0]].relu
		same := true
		for _, m := range members {
			same = same && inc.convs[m].relu == relu
		}
		if !same {
			continue
		}
		cin := inc.convs[members[0]].kernel.Shape().Dimensions[0]
		total := 0
		grp := &convGroup{members: members, relu: relu}
		for _, m := range members {
			grp.offsets = append(grp.offsets, total)
			total += inc.convs[m].kernel.Shape().Dimensions[1]
		}
		kernel := make([]float32, cin*total)
		var bias []float32
		for i, m := range members {
			fc := inc.convs[m]
			cout := fc.kernel.Shape().Dimensions[1]
			k := tensors.MustCopyFlatData[float32](fc.kernel)
			for r := range cin {
				copy(kernel[r*total+grp.offsets[i]:], k[r*cout:(r+1)*cout])
			}
			bias = append(bias, tensors.MustCopyFlatData[float32](fc.bias)...)
		}
		grp.kernel = tensors.FromFlatDataAndDimensions(kernel, cin, total)
		grp.bias = tensors.FromFlatDataAndDimensions(bias, total)
		inc.groups[in] = grp
	}
}

// build returns the named layers' outputs for the NHWC input x [N, 299, 299, 3] (values
// 0..1). Names may be layer names or "gap:<layer>" for a global average over H and W.
func (inc *Inception) build(x *Node, names []string, opts buildOptions) []*Node {
	g := x.Graph()
	values := map[string]*chanView{}
	// aliases maps a folded layer's name (a BatchNormalization or ReLU) to the convolution
	// whose output is also its own.
	aliases := map[string]string{}
	inputView := func(l KerasLayer, i int) *chanView {
		name := l.Inbound[i]
		if a, ok := aliases[name]; ok {
			name = a
		}
		v, ok := values[name]
		if !ok {
			panic(fmt.Errorf("layer %s: input %s not computed (folded into a convolution whose output it is not)", l.Name, l.Inbound[i]))
		}
		return v
	}
	input := func(l KerasLayer, i int) *Node { return inputView(l, i).node() }
	needed := map[string]bool{}
	for _, n := range names {
		needed[strings.TrimPrefix(n, "gap:")] = true
	}
	foldAliases := func(name string) {
		fc := inc.convs[name]
		if fc.bn != "" {
			aliases[fc.bn] = name
		}
		if fc.act != "" {
			aliases[fc.act] = name
		}
	}
	for _, l := range inc.model.Layers {
		if len(needed) == 0 {
			break
		}
		if _, done := values[l.Name]; done {
			continue // computed with its group
		}
		var out *Node
		switch l.ClassName {
		case "InputLayer":
			out = x
		case "Conv2D":
			fc := inc.convs[l.Name]
			if pool, ok := inc.poolFirst[l.Name]; ok && !opts.unfolded {
				// 1×1 conv on the pool's input, then the mean pool, then bias and ReLU.
				in := inputView(pool, 0).node()
				y := nn.Dense(in, ConstTensor(g, fc.kernel), nil, compute.DenseLayoutInputOutputs)
				c := pool.Config
				pooled, err := windowPool(y, false, c.PoolSize[0], c.PoolSize[1], 1, 1, "same")
				if err != nil {
					panic(fmt.Errorf("layer %s: %w", pool.Name, err))
				}
				out = Add(pooled, Reshape(ConstTensor(g, fc.bias), 1, 1, 1, -1))
				if fc.relu {
					out = activation.Relu(out)
				}
				foldAliases(l.Name)
				break
			}
			if grp, ok := inc.groups[l.Inbound[0]]; ok && !opts.unfolded {
				in := inputView(l, 0).node()
				act := activation.TypeNone
				if grp.relu {
					act = activation.TypeRelu
				}
				y := nn.Dense(in, ConstTensor(g, grp.kernel), ConstTensor(g, grp.bias), compute.DenseLayoutInputOutputs, act)
				for i, m := range grp.members {
					values[m] = &chanView{x: y, off: grp.offsets[i], c: inc.convs[m].kernel.Shape().Dimensions[1]}
					foldAliases(m)
					delete(needed, m)
				}
				continue
			}
			in := inputView(l, 0)
			dims := in.x.Shape().Dimensions
			spec, err := convSpecOf(l, dims[1], dims[2])
			if err != nil {
				panic(fmt.Errorf("layer %s: %w", l.Name, err))
			}
			if opts.unfolded {
				out = inc.plainConv(in.node(), l, spec)
			} else {
				act := activation.TypeNone
				if fc.relu {
					act = activation.TypeRelu
				}
				out = nn.Dense(in.patches(spec), ConstTensor(g, fc.kernel), ConstTensor(g, fc.bias), compute.DenseLayoutInputOutputs, act)
				foldAliases(l.Name)
			}
		case "BatchNormalization":
			if _, folded := aliases[l.Name]; folded {
				continue
			}
			out = inc.batchNorm(input(l, 0), l)
		case "Activation":
			if _, folded := aliases[l.Name]; folded {
				continue
			}
			out = applyActivation(input(l, 0), l.Config.Activation, l.Name)
		case "MaxPooling2D", "AveragePooling2D":
			c := l.Config
			if len(c.PoolSize) != 2 || len(c.Strides) != 2 {
				panic(fmt.Errorf("layer %s: pool_size %v, strides %v", l.Name, c.PoolSize, c.Strides))
			}
			if !opts.unfolded && l.ClassName == "AveragePooling2D" && inc.pooledLater(l.Name) {
				continue // computed after its convolution (poolFirst)
			}
			var err error
			out, err = windowPool(input(l, 0), l.ClassName == "MaxPooling2D", c.PoolSize[0], c.PoolSize[1], c.Strides[0], c.Strides[1], c.Padding)
			if err != nil {
				panic(fmt.Errorf("layer %s: %w", l.Name, err))
			}
		case "Concatenate":
			if a, ok := l.Config.Axis.(float64); !ok || (a != 3 && a != -1) {
				panic(fmt.Errorf("layer %s: concatenation axis %v not supported", l.Name, l.Config.Axis))
			}
			ins := make([]*Node, len(l.Inbound))
			for i := range ins {
				ins[i] = input(l, i)
			}
			out = Concatenate(ins, -1)
		case "Flatten":
			in := input(l, 0)
			out = Reshape(in, in.Shape().Dimensions[0], -1)
		case "Dropout":
			out = input(l, 0)
		case "Dense":
			in := input(l, 0)
			cin := in.Shape().Dimensions[in.Rank()-1]
			k, err := inc.weight(l.Name+"/kernel", cin, l.Config.Units)
			if err != nil {
				panic(fmt.Errorf("layer %s: %w", l.Name, err))
			}
			var bias *Node
			if l.Config.UseBias {
				b, err := inc.weight(l.Name+"/bias", l.Config.Units)
				if err != nil {
					panic(fmt.Errorf("layer %s: %w", l.Name, err))
				}
				bias = Const(g, tensors.FromFlatDataAndDimensions(b.Data, l.Config.Units))
			}
			kernel := Const(g, tensors.FromFlatDataAndDimensions(k.Data, cin, l.Config.Units))
			switch l.Config.Activation {
			case "relu":
				out = nn.Dense(in, kernel, bias, compute.DenseLayoutInputOutputs, activation.TypeRelu)
			default:
				out = applyActivation(nn.Dense(in, kernel, bias, compute.DenseLayoutInputOutputs), l.Config.Activation, l.Name)
			}
		default:
			panic(fmt.Errorf("layer %s: class %s not supported", l.Name, l.ClassName))
		}
		values[l.Name] = fullView(out)
		delete(needed, l.Name)
	}
	outs := make([]*Node, len(names))
	for i, n := range names {
		layer := strings.TrimPrefix(n, "gap:")
		if a, ok := aliases[layer]; ok {
			layer = a
		}
		v, ok := values[layer]
		if !ok {
			panic(fmt.Errorf("layer %q not in the model (or folded away)", layer))
		}
		outs[i] = v.node()
		if strings.HasPrefix(n, "gap:") {
			outs[i] = ReduceMean(outs[i], 1, 2)
		}
	}
	return outs
}

// pooledLater reports whether the AveragePooling2D layer runs after its consumer's 1×1
// convolution (see planGroups).
func (inc *Inception) pooledLater(pool string) bool {
	for _, p := range inc.poolFirst {
		if p.Name == pool {
			return true
		}
	}
	return false
}

// plainConv is a Conv2D without folding (per-layer checks): kernel and optional bias.
func (inc *Inception) plainConv(x *Node, l KerasLayer, spec convSpec) *Node {
	g := x.Graph()
	w := inc.model.Weights[l.Name+"/kernel"]
	k := w.Shape[0] * w.Shape[1] * w.Shape[2]
	kernel := Const(g, tensors.FromFlatDataAndDimensions(w.Data, k, w.Shape[3]))
	var bias *Node
	if l.Config.UseBias {
		b := inc.model.Weights[l.Name+"/bias"]
		bias = Const(g, tensors.FromFlatDataAndDimensions(b.Data, w.Shape[3]))
	}
	return conv2D(x, spec, kernel, bias, l.Config.Activation == "relu")
}

// batchNorm is an inference BatchNormalization over the channels axis.
func (inc *Inception) batchNorm(x *Node, l KerasLayer) *Node {
	g := x.Graph()
	if err := checkBN(l); err != nil {
		panic(fmt.Errorf("layer %s: %w", l.Name, err))
	}
	c := x.Shape().Dimensions[x.Rank()-1]
	get := func(suffix string) *Node {
		w, err := inc.weight(l.Name+"/"+suffix, c)
		if err != nil {
			panic(fmt.Errorf("layer %s: %w", l.Name, err))
		}
		return Const(g, tensors.FromFlatDataAndDimensions(w.Data, 1, 1, 1, c))
	}
	y := Mul(Sub(x, get("moving_mean")), Rsqrt(AddScalar(get("moving_variance"), l.Config.Epsilon)))
	if l.Config.Scale == nil || *l.Config.Scale {
		y = Mul(y, get("gamma"))
	}
	return Add(y, get("beta"))
}

func applyActivation(x *Node, act, layer string) *Node {
	switch act {
	case "linear", "":
		return x
	case "relu":
		return activation.Relu(x)
	case "softmax":
		return Softmax(x, -1)
	}
	panic(fmt.Errorf("layer %s: activation %q not supported", layer, act))
}

// exec returns the compiled forward pass (mixed5 and mixed10 pooled, head) for batch n.
func (inc *Inception) exec(n int) (*Exec, error) {
	if e, ok := inc.execs[n]; ok {
		return e, nil
	}
	e, err := NewExec(inc.backend, func(x *Node) []*Node {
		return inc.build(x, []string{"gap:" + mixed5Layer, "gap:" + mixed10Layer, inc.model.Outputs[0]}, buildOptions{})
	})
	if err != nil {
		return nil, err
	}
	inc.execs[n] = e
	return e, nil
}

// Forward runs the network on n preprocessed images (n×299×299×3 values, HWC each, as
// PreprocessNSFWJS returns them).
func (inc *Inception) Forward(input []float32, n int) (out *InceptionOutputs, err error) {
	const size = NSFWJSSize * NSFWJSSize * 3
	if n <= 0 || len(input) != n*size {
		return nil, fmt.Errorf("nsfwjs InceptionV3: %d input values, want %d×299×299×3", len(input), n)
	}
	inc.mu.Lock()
	defer inc.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("nsfwjs InceptionV3: %v", r)
		}
	}()
	e, err := inc.exec(n)
	if err != nil {
		return nil, fmt.Errorf("nsfwjs InceptionV3: %w", err)
	}
	flat, dims, err := execFlat(e, tensors.FromFlatDataAndDimensions(input, n, NSFWJSSize, NSFWJSSize, 3))
	if err != nil {
		return nil, fmt.Errorf("nsfwjs InceptionV3: %w", err)
	}
	out = &InceptionOutputs{
		Mixed5: split(flat[0], n),
		Pool:   split(flat[1], n),
		NSFW:   make([]NSFWScores, n),
	}
	if len(flat[2]) != 5*n {
		return nil, fmt.Errorf("nsfwjs InceptionV3: head output %v, want [%d, 5]", dims[2], n)
	}
	for i := range n {
		copy(out.NSFW[i][:], flat[2][5*i:])
	}
	return out, nil
}

func split(flat []float32, n int) [][]float32 {
	d := len(flat) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out
}

// Run preprocesses the images (PreprocessNSFWJS) and runs them InceptionBatchSize at a time;
// the last partial batch is padded so one compiled graph serves every batch.
func (inc *Inception) Run(imgs []image.Image) (*InceptionOutputs, error) {
	out := &InceptionOutputs{}
	bs := max(1, InceptionBatchSize)
	const size = NSFWJSSize * NSFWJSSize * 3
	for start := 0; start < len(imgs); start += bs {
		batch := imgs[start:min(start+bs, len(imgs))]
		input := make([]float32, bs*size)
		for i, img := range batch {
			if img == nil || img.Bounds().Empty() {
				return nil, fmt.Errorf("nsfwjs InceptionV3: image %d is empty", start+i)
			}
			copy(input[i*size:], PreprocessNSFWJS(img))
		}
		res, err := inc.Forward(input, bs)
		if err != nil {
			return nil, err
		}
		out.Mixed5 = append(out.Mixed5, res.Mixed5[:len(batch)]...)
		out.Pool = append(out.Pool, res.Pool[:len(batch)]...)
		out.NSFW = append(out.NSFW, res.NSFW[:len(batch)]...)
	}
	return out, nil
}

// layerOutputs runs the graph on n preprocessed images and returns the named layers'
// outputs (NHWC) as flat float32 slices, with their shapes (for per-layer checks).
func (inc *Inception) layerOutputs(input []float32, n int, names []string, opts buildOptions) (vals [][]float32, dims [][]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	res, err := ExecOnceN(inc.backend, func(x *Node) []*Node { return inc.build(x, names, opts) },
		tensors.FromFlatDataAndDimensions(input, n, NSFWJSSize, NSFWJSSize, 3))
	if err != nil {
		return nil, nil, err
	}
	for _, t := range res {
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, nil, err
		}
		vals = append(vals, v)
		dims = append(dims, t.Shape().Dimensions)
		t.FinalizeAll()
	}
	return vals, dims, nil
}

// inceptionVersion changes whenever the preprocessing or the graph changes what the
// InceptionV3 encoders output, so cached embeddings of older code are not reused.
const inceptionVersion = "nsfwjs-inceptionv3/1"

func init() {
	for _, name := range []string{InceptionMixed5Name, InceptionPoolName} {
		Encoders.Register(name, func() (Encoder, error) { return newInceptionEncoder(name) })
	}
}

// inceptionEncoder is one output of nsfwjs' InceptionV3 as an Encoder; all three outputs
// (mixed5, pool, nsfw) come from the same forward pass (see JointEncoder).
type inceptionEncoder struct {
	inc  *Inception
	name string
}

func newInceptionEncoder(name string) (*inceptionEncoder, error) {
	inc, err := DefaultInception()
	if err != nil {
		return nil, err
	}
	return &inceptionEncoder{inc: inc, name: name}, nil
}

// NSFWEncoder returns the 5-class head of nsfwjs as an Encoder of 5-d vectors (the
// NSFWClasses probabilities). It is not in Encoders (it is a moderation signal, not image
// features); EmbedFiles caches it with the features of the same pass. See NSFWFiles.
func NSFWEncoder() (Encoder, error) { return newInceptionEncoder(inceptionNSFWName) }

func (e *inceptionEncoder) Name() string    { return e.name }
func (e *inceptionEncoder) Weights() string { return "sha256:" + e.inc.model.SHA256 }
func (e *inceptionEncoder) Version() string { return inceptionVersion }
func (e *inceptionEncoder) Dim() int        { return inceptionDims[e.name] }

var inceptionDims = map[string]int{InceptionMixed5Name: 768, InceptionPoolName: 2048, inceptionNSFWName: 5}

func (e *inceptionEncoder) Embed(imgs []image.Image) ([][]float32, error) {
	all, err := e.EmbedJoint(imgs)
	if err != nil {
		return nil, err
	}
	return all[e.name], nil
}

// Joint lists the three outputs of the shared forward pass.
func (e *inceptionEncoder) Joint() []JointOutput {
	return []JointOutput{{InceptionMixed5Name, 768}, {InceptionPoolName, 2048}, {inceptionNSFWName, 5}}
}

// EmbedJoint runs the images once and returns every output by encoder name.
func (e *inceptionEncoder) EmbedJoint(imgs []image.Image) (map[string][][]float32, error) {
	out, err := e.inc.Run(imgs)
	if err != nil {
		return nil, err
	}
	nsfw := make([][]float32, len(out.NSFW))
	for i := range out.NSFW {
		nsfw[i] = out.NSFW[i][:]
	}
	return map[string][][]float32{InceptionMixed5Name: out.Mixed5, InceptionPoolName: out.Pool, inceptionNSFWName: nsfw}, nil
}
