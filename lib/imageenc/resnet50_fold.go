package imageenc

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/compute-onnx/support/protos"
)

// foldBatchNorm folds every inference BatchNormalization that follows a Conv into that
// Conv's weights and bias, in place: y = γ·(conv(x, W) + b − μ)/√(σ² + ε) + β becomes
// conv(x, W·s) + (b − μ)·s + β with s = γ/√(σ² + ε), per output channel. It is what
// ONNX Runtime does when it loads a model; here it saves the Go backend four broadcast
// passes over every activation. Only a Conv whose output nothing but the BatchNormalization
// reads, and whose parameters are float32 initializers, is folded; the BatchNormalization's
// output name is kept, so the rest of the graph is untouched. It returns how many it folded.
func foldBatchNorm(m *protos.ModelProto) (int, error) {
	g := m.GetGraph()
	inits := map[string]*protos.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	readers := map[string]int{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			readers[in]++
		}
	}
	for _, o := range g.GetOutput() {
		readers[o.GetName()]++
	}
	producer := map[string]*protos.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	removed := map[*protos.NodeProto]bool{}
	folded := 0
	for _, bn := range g.GetNode() {
		if bn.GetOpType() != "BatchNormalization" || len(bn.GetInput()) != 5 || len(bn.GetOutput()) != 1 {
			continue
		}
		eps, training := float32(1e-5), int64(0)
		for _, a := range bn.GetAttribute() {
			switch a.GetName() {
			case "epsilon":
				eps = a.GetF()
			case "training_mode":
				training = a.GetI()
			}
		}
		conv := producer[bn.GetInput()[0]]
		if training != 0 || conv == nil || conv.GetOpType() != "Conv" || len(conv.GetOutput()) != 1 ||
			readers[conv.GetOutput()[0]] != 1 || len(conv.GetInput()) < 2 {
			continue
		}
		w := inits[conv.GetInput()[1]]
		params := make([][]float32, 4) // γ, β, μ, σ²
		ok := w != nil && len(w.GetDims()) >= 1
		for i := range params {
			var err error
			if t := inits[bn.GetInput()[1+i]]; t == nil {
				ok = false
			} else if params[i], err = floatData(t); err != nil {
				return folded, err
			}
		}
		if !ok {
			continue
		}
		wv, err := floatData(w)
		if err != nil {
			return folded, err
		}
		cout := int(w.GetDims()[0])
		bias := make([]float32, cout)
		if len(conv.GetInput()) > 2 && conv.GetInput()[2] != "" {
			b := inits[conv.GetInput()[2]]
			if b == nil {
				continue
			}
			if bias, err = floatData(b); err != nil {
				return folded, err
			}
		}
		if cout == 0 || len(wv)%cout != 0 || len(bias) != cout {
			continue
		}
		for _, p := range params {
			if len(p) != cout {
				ok = false
			}
		}
		if !ok {
			continue
		}
		per := len(wv) / cout
		newW := make([]float32, len(wv))
		newB := make([]float32, cout)
		for o := range cout {
			s := float64(params[0][o]) / math.Sqrt(float64(params[3][o])+float64(eps))
			for i := range per {
				newW[o*per+i] = float32(float64(wv[o*per+i]) * s)
			}
			newB[o] = float32((float64(bias[o])-float64(params[2][o]))*s + float64(params[1][o]))
		}
		wName, bName := bn.GetOutput()[0]+"/folded_W", bn.GetOutput()[0]+"/folded_B"
		g.Initializer = append(g.Initializer, floatTensor(wName, w.GetDims(), newW), floatTensor(bName, []int64{int64(cout)}, newB))
		conv.Input = []string{conv.GetInput()[0], wName, bName}
		conv.Output = []string{bn.GetOutput()[0]}
		removed[bn] = true
		folded++
	}
	if folded == 0 {
		return 0, nil
	}
	kept := g.Node[:0]
	for _, n := range g.Node {
		if !removed[n] {
			kept = append(kept, n)
		}
	}
	g.Node = kept
	// Drop the initializers nothing reads any more (the original weights and statistics).
	used := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			used[in] = true
		}
	}
	for _, o := range g.GetOutput() {
		used[o.GetName()] = true
	}
	inits2 := g.Initializer[:0]
	for _, t := range g.Initializer {
		if used[t.GetName()] {
			inits2 = append(inits2, t)
		}
	}
	g.Initializer = inits2
	return folded, nil
}

// floatData returns the values of a float32 initializer (raw_data or float_data).
func floatData(t *protos.TensorProto) ([]float32, error) {
	if t.GetDataType() != int32(protos.TensorProto_FLOAT) {
		return nil, fmt.Errorf("initializer %q: data type %d, want float32", t.GetName(), t.GetDataType())
	}
	if t.GetDataLocation() == protos.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("initializer %q: external data not supported here", t.GetName())
	}
	if raw := t.GetRawData(); raw != nil {
		if len(raw)%4 != 0 {
			return nil, fmt.Errorf("initializer %q: %d raw bytes", t.GetName(), len(raw))
		}
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return v, nil
	}
	return t.GetFloatData(), nil
}

func floatTensor(name string, dims []int64, v []float32) *protos.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &protos.TensorProto{Name: name, Dims: append([]int64(nil), dims...),
		DataType: int32(protos.TensorProto_FLOAT), RawData: raw}
}
