// Package tfjs reads models in TensorFlow.js' formats without Node: the weights manifest and
// its binary shards (float32, int32 and bool tensors; the uint8/uint16 affine and float16
// quantisations of tfjs-converter), and graph models (model.json with a TensorFlow GraphDef
// as JSON). The layers-model reader of nsfwjs (lib/imageenc) decodes its weights here too.
package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes/float16"
)

// Manifest is a model's weightsManifest: groups of weights, each group stored as the
// concatenation of its shard files.
type Manifest []ManifestGroup

// ManifestGroup lists the shard files of one group and the weights they hold, in order.
type ManifestGroup struct {
	Paths   []string        `json:"paths"`
	Weights []ManifestEntry `json:"weights"`
}

// ManifestEntry describes one weight of a group.
type ManifestEntry struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization"`
}

// Quantization is how a weight is stored when it is quantised: DType is the stored type
// ("uint8", "uint16": value = Min + Scale·q; "float16": IEEE half precision).
type Quantization struct {
	DType string   `json:"dtype"`
	Min   *float64 `json:"min"`
	Scale float64  `json:"scale"`
}

// Tensor is a decoded weight. Float holds float32 weights (dequantised if quantised), Int
// holds int32 and bool (0/1) weights.
type Tensor struct {
	Name  string
	Shape []int
	// DType is the weight's dtype as the model declares it ("float32", "int32", "bool").
	DType string
	Float []float32
	Int   []int32
	// QMin and QScale are the affine quantisation parameters (value = QMin + QScale·q) of a
	// uint8/uint16-quantised weight, zero otherwise.
	QMin, QScale float64
}

// Size is the number of elements of a shape (1 for a scalar).
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// DecodeWeights decodes every weight of the manifest. read returns the bytes of one shard
// path (as written in the manifest); source names the model file in errors. Each group's
// shards must hold exactly the bytes its weights use.
func DecodeWeights(source string, manifest Manifest, read func(path string) ([]byte, error)) (map[string]*Tensor, error) {
	weights := map[string]*Tensor{}
	for gi, group := range manifest {
		var data []byte
		for _, p := range group.Paths {
			shard, err := read(p)
			if err != nil {
				return nil, err
			}
			data = append(data, shard...)
		}
		offset := 0
		for _, e := range group.Weights {
			t, used, err := decodeWeight(e, data[offset:])
			if err != nil {
				return nil, fmt.Errorf("%s: weightsManifest[%d]: weight %q: %w", source, gi, e.Name, err)
			}
			offset += used
			if _, dup := weights[e.Name]; dup {
				return nil, fmt.Errorf("%s: weight %q listed twice", source, e.Name)
			}
			weights[e.Name] = t
		}
		if offset != len(data) {
			return nil, fmt.Errorf("%s: the manifest uses %d bytes of weights but the shards %v hold %d", source, offset, group.Paths, len(data))
		}
	}
	return weights, nil
}

// decodeWeight decodes one weight from the start of data and returns the bytes it used.
func decodeWeight(e ManifestEntry, data []byte) (*Tensor, int, error) {
	for _, d := range e.Shape {
		if d < 0 {
			return nil, 0, fmt.Errorf("negative dimension in shape %v", e.Shape)
		}
	}
	n := Size(e.Shape)
	t := &Tensor{Name: e.Name, Shape: e.Shape, DType: e.DType}
	stored := e.DType
	if e.Quantization != nil {
		stored = e.Quantization.DType
		if e.DType != "float32" {
			return nil, 0, fmt.Errorf("quantised weight of dtype %q: only float32 weights are dequantised", e.DType)
		}
	}
	width := map[string]int{"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "uint16": 2, "float16": 2}[stored]
	if width == 0 {
		return nil, 0, fmt.Errorf("stored dtype %q not supported", stored)
	}
	used := width * n
	if used > len(data) {
		return nil, 0, fmt.Errorf("%d bytes of %s needed, only %d left in the shards", used, stored, len(data))
	}
	data = data[:used]
	switch {
	case e.Quantization == nil && e.DType == "float32":
		t.Float = make([]float32, n)
		for i := range n {
			t.Float[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case e.Quantization == nil && e.DType == "int32":
		t.Int = make([]int32, n)
		for i := range n {
			t.Int[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case e.Quantization == nil && e.DType == "bool":
		t.Int = make([]int32, n)
		for i, b := range data {
			if b != 0 {
				t.Int[i] = 1
			}
		}
	case stored == "float16":
		t.Float = make([]float32, n)
		for i := range n {
			t.Float[i] = float16.Float16(binary.LittleEndian.Uint16(data[2*i:])).Float32()
		}
	case stored == "uint8" || stored == "uint16":
		q := e.Quantization
		if q.Min == nil {
			return nil, 0, fmt.Errorf("%s quantisation without min/scale not supported", stored)
		}
		t.QMin, t.QScale = *q.Min, q.Scale
		t.Float = make([]float32, n)
		for i := range n {
			var v uint16
			if width == 1 {
				v = uint16(data[i])
			} else {
				v = binary.LittleEndian.Uint16(data[2*i:])
			}
			// As TF.js: float32(q·scale + min), computed in float64.
			t.Float[i] = float32(float64(v)*t.QScale + t.QMin)
		}
	default:
		return nil, 0, fmt.Errorf("dtype %q stored as %q not supported", e.DType, stored)
	}
	return t, used, nil
}
