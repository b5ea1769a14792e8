package imageenc

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with the dot import
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/withsense/withsense/lib/tfjs"
)

// CenterNet in stages. The graph model's nodes are put in one topological order and cut at
// each depthwise convolution: the nodes between two cuts form one GoMLX graph (a stage),
// and each depthwise convolution runs on the host (depthwise.go) between the stage that
// computes its input and the next. A stage receives the values of earlier stages and
// convolutions that it reads (the image among them) and returns those of its values that a
// later stage or convolution reads; the last stage returns the encoders' results. Each value
// is computed once; constants are built inside every stage that reads them.

// cnStage is one graph of the cut: inputs and outputs are node names (values).
type cnStage struct {
	inputs, outputs []string
	exec            *Exec        // nil for a stage without nodes
	depthwise       *cnDepthwise // run on the host after the stage; nil after the last
	release         []string     // values no later step reads, dropped after this step
}

// cnStages is CenterNet's graph cut into stages.
type cnStages struct {
	m       *tfjs.GraphModel
	stages  []*cnStage
	scratch sync.Pool // of *cnScratch
}

func isDepthwise(n *tfjs.Node) bool {
	return n.Op == "DepthwiseConv2dNative" || n.Op == "FusedDepthwiseConv2dNative"
}

// cnFree reports whether a node is a constant (or an identity of one): such nodes are built
// in every stage that reads them instead of being passed between stages.
func cnFree(m *tfjs.GraphModel, name string) bool {
	n, ok := m.Node(name)
	if !ok {
		return false
	}
	switch n.Op {
	case "Const":
		return true
	case "Identity":
		in, _, _ := tfjs.ParseInput(n.Inputs[0])
		return cnFree(m, in)
	}
	return false
}

// cnDeps returns the values node n reads (constants left out).
func cnDeps(m *tfjs.GraphModel, n *tfjs.Node) ([]string, error) {
	var deps []string
	for _, ref := range n.Inputs {
		name, output, control := tfjs.ParseInput(ref)
		if control || output != 0 {
			return nil, fmt.Errorf("node %q: input %q: only first outputs are supported", n.Name, ref)
		}
		if _, ok := m.Node(name); !ok {
			return nil, fmt.Errorf("node %q: input %q names no node", n.Name, ref)
		}
		if !cnFree(m, name) {
			deps = append(deps, name)
		}
	}
	return deps, nil
}

// cnResults are the values the encoders' results are computed from.
var cnResults = []string{cnKeypointsNode, cnWHNode, cnPoolNode}

// planCNStages cuts the graph model into stages and prepares each stage's graph for backend.
func planCNStages(m *tfjs.GraphModel, backend compute.Backend) (*cnStages, error) {
	// A topological order: depth-first, each node after the values it reads.
	var order []*tfjs.Node
	deps := map[string][]string{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("node %q: the graph has a cycle", name)
		case 2:
			return nil
		}
		state[name] = 1
		n, _ := m.Node(name)
		d, err := cnDeps(m, n)
		if err != nil {
			return err
		}
		deps[name] = d
		for _, v := range d {
			if err := visit(v); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, n)
		return nil
	}
	for _, r := range cnResults {
		if err := visit(r); err != nil {
			return nil, err
		}
	}

	// The cut: stageOf is a node's stage, or -1 for the values the host computes (the
	// image and the depthwise convolutions, the latter after stage hostAfter).
	p := &cnStages{m: m, stages: []*cnStage{{}}}
	stageOf := map[string]int{}
	readyAfter := map[string]int{} // host values: available from this stage on
	var members [][]string = [][]string{nil}
	for _, n := range order {
		last := len(p.stages) - 1
		switch {
		case n.Op == "Placeholder":
			if n.Name != cnInputNode {
				return nil, fmt.Errorf("node %q: unexpected input", n.Name)
			}
			stageOf[n.Name], readyAfter[n.Name] = -1, 0
		case isDepthwise(n):
			stageOf[n.Name], readyAfter[n.Name] = -1, last+1
			dw, err := readCNDepthwise(m, n)
			if err != nil {
				return nil, err
			}
			p.stages[last].depthwise = dw
			p.stages = append(p.stages, &cnStage{})
			members = append(members, nil)
		default:
			stageOf[n.Name] = last
			members[last] = append(members[last], n.Name)
		}
	}
	// What each step reads from other steps: a stage its members' inputs computed elsewhere
	// (the last one also the results' values), a depthwise convolution its input.
	needs := func(k int) []string {
		var in []string
		add := func(v string) {
			if stageOf[v] != k && !slices.Contains(in, v) {
				in = append(in, v)
			}
		}
		for _, name := range members[k] {
			for _, v := range deps[name] {
				add(v)
			}
		}
		if k == len(p.stages)-1 {
			for _, v := range cnResults {
				add(v)
			}
		}
		return in
	}
	lastUse := map[string]int{} // step index: 2k for stage k, 2k+1 for its depthwise
	for k, st := range p.stages {
		st.inputs = needs(k)
		for _, v := range st.inputs {
			if s := stageOf[v]; s >= 0 {
				if !slices.Contains(p.stages[s].outputs, v) {
					p.stages[s].outputs = append(p.stages[s].outputs, v)
				}
			} else if readyAfter[v] > k {
				return nil, fmt.Errorf("stage %d reads %q before it is computed", k, v)
			}
			lastUse[v] = 2 * k
		}
		if st.depthwise != nil {
			name := st.depthwise.conv.node.Name
			if len(deps[name]) != 1 {
				return nil, fmt.Errorf("node %q: %d computed inputs, want 1", name, len(deps[name]))
			}
			v := deps[name][0]
			st.depthwise.input = v
			if s := stageOf[v]; s >= 0 && !slices.Contains(p.stages[s].outputs, v) {
				p.stages[s].outputs = append(p.stages[s].outputs, v)
			}
			lastUse[v] = max(lastUse[v], 2*k+1)
		}
	}
	for v, step := range lastUse {
		p.stages[step/2].release = append(p.stages[step/2].release, v)
	}
	for k, st := range p.stages {
		slices.Sort(st.release)
		if len(members[k]) == 0 && k < len(p.stages)-1 {
			continue
		}
		isMember := map[string]bool{}
		for _, name := range members[k] {
			isMember[name] = true
		}
		last := k == len(p.stages)-1
		var err error
		st.exec, err = NewExec(backend, func(params []*Node) []*Node {
			b := &cnBuilder{m: m, input: params[0], memo: map[string]*Node{}, members: isMember}
			for i, name := range st.inputs {
				b.memo[name] = params[i]
			}
			var outs []*Node
			for _, name := range st.outputs {
				outs = append(outs, b.value(name))
			}
			if last {
				keypoints := b.value(cnKeypointsNode)
				outs = append(outs, ReduceMax(keypoints, 1, 2), keypoints, b.value(cnWHNode), ReduceMean(b.value(cnPoolNode), 1, 2))
			}
			return outs
		})
		if err != nil {
			return nil, fmt.Errorf("stage %d: %w", k, err)
		}
	}
	return p, nil
}

// cnScratch holds the buffers a pass writes on the host (the image and each depthwise
// convolution's output), shared with the Go backend so that the next stage reads them in
// place; a pass takes one scratch set and gives it back, so later passes reuse the memory
// (the backend does not pool buffers the host made).
type cnScratch struct{ bufs map[string]*tensors.Tensor }

// buffer returns the scratch tensor for value name with the given dimensions, made on first
// use (or when the dimensions change).
func (sc *cnScratch) buffer(backend compute.Backend, name string, dims ...int) (*tensors.Tensor, error) {
	shape := shapes.Make(dtypes.Float32, dims...)
	if t, ok := sc.bufs[name]; ok {
		if t.Shape().Equal(shape) {
			return t, nil
		}
		t.FinalizeAll()
	}
	t, err := tensors.FromShapeForBackend(backend, 0, shape)
	if err != nil {
		return nil, err
	}
	sc.bufs[name] = t
	return t, nil
}

// run computes the stages on a batch of n images (input as Forward takes it) and returns the
// last stage's results (class presence, heatmap, wh, pooled feature) as float32 slices with
// their dimensions.
func (p *cnStages) run(cn *CenterNet, input []float32, n int) (flat [][]float32, dims [][]int, err error) {
	sc, _ := p.scratch.Get().(*cnScratch)
	if sc == nil {
		sc = &cnScratch{bufs: map[string]*tensors.Tensor{}}
	}
	defer p.scratch.Put(sc)
	x, err := sc.buffer(cn.backend, cnInputNode, n, CenterNetSize, CenterNetSize, 3)
	if err != nil {
		return nil, nil, err
	}
	if err := x.MutableFlatData(func(flat any) { copy(flat.([]float32), input) }); err != nil {
		return nil, nil, err
	}
	// vals are the values later steps read; those of the scratch set stay allocated.
	vals := map[string]*tensors.Tensor{cnInputNode: x}
	defer func() {
		for v, t := range vals {
			if sc.bufs[v] != t {
				t.FinalizeAll()
			}
		}
	}()
	drop := func(names []string) {
		for _, v := range names {
			if t, ok := vals[v]; ok {
				if sc.bufs[v] != t {
					t.FinalizeAll()
				}
				delete(vals, v)
			}
		}
	}
	for k, st := range p.stages {
		if st.exec != nil {
			args := make([]any, len(st.inputs))
			for i, v := range st.inputs {
				args[i] = vals[v]
			}
			res, err := st.exec.Exec(args...)
			if err != nil {
				return nil, nil, fmt.Errorf("stage %d: %w", k, err)
			}
			for i, v := range st.outputs {
				vals[v] = res[i]
			}
			if k == len(p.stages)-1 {
				return flatten(res[len(st.outputs):])
			}
		}
		if st.depthwise != nil {
			y, err := st.depthwise.run(cn.backend, sc, vals[st.depthwise.input])
			if err != nil {
				return nil, nil, err
			}
			vals[st.depthwise.conv.node.Name] = y
		}
		drop(st.release)
	}
	return nil, nil, fmt.Errorf("no last stage")
}

// cnDepthwise is a depthwise convolution node of the graph model, read once.
type cnDepthwise struct {
	conv   cnConv
	input  string    // the value it reads
	kernel []float32 // [kh, kw, C]
	bias   []float32 // nil: none
	relu   bool
}

// readCNDepthwise reads a depthwise convolution node: its kernel (channel multiplier 1),
// strides, padding and, for the fused op, bias and ReLU.
func readCNDepthwise(m *tfjs.GraphModel, n *tfjs.Node) (*cnDepthwise, error) {
	k, err := cnWeight(m, n, 1)
	if err != nil {
		return nil, err
	}
	if len(k.Shape) != 4 || k.Shape[3] != 1 {
		return nil, fmt.Errorf("node %q (%s): kernel shape %v: only channel multiplier 1 is supported", n.Name, n.Op, k.Shape)
	}
	conv, err := readCNConv(n, k.Shape[0], k.Shape[1])
	if err != nil {
		return nil, err
	}
	d := &cnDepthwise{conv: conv, kernel: k.Float}
	if n.Op == "FusedDepthwiseConv2dNative" {
		bias, relu, err := cnFusedTail(m, n)
		if err != nil {
			return nil, err
		}
		d.bias, d.relu = bias.Float, relu
	}
	return d, nil
}

// run computes the convolution of x [N, H, W, C].
func (d *cnDepthwise) run(backend compute.Backend, sc *cnScratch, x *tensors.Tensor) (*tensors.Tensor, error) {
	n := d.conv.node
	dims := x.Shape().Dimensions
	spec, err := d.conv.spec(dims)
	if err != nil {
		return nil, err
	}
	if c := dims[3]; len(d.kernel) != spec.kh*spec.kw*c {
		return nil, fmt.Errorf("node %q (%s): kernel of %d values for input %v", n.Name, n.Op, len(d.kernel), dims)
	}
	a := depthwiseArgs{n: dims[0], h: dims[1], w: dims[2], c: dims[3], kernel: d.kernel, bias: d.bias, relu: d.relu, spec: spec}
	// The output is the scratch set's buffer for this node, which the Go backend shares with
	// the host (written in place, read by the next stage without a copy); the input is read
	// in place the same way.
	ho, wo := a.outSize()
	y, err := sc.buffer(backend, n.Name, a.n, ho, wo, a.c)
	if err != nil {
		return nil, err
	}
	var convErr error
	if err := x.ConstFlatData(func(flat any) {
		v, ok := flat.([]float32)
		if !ok {
			convErr = fmt.Errorf("input of type %T, want float32", flat)
			return
		}
		convErr = y.MutableFlatData(func(out any) { convErr = depthwiseInto(out.([]float32), v, a) })
	}); err != nil {
		convErr = err
	}
	if convErr != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, convErr)
	}
	return y, nil
}
