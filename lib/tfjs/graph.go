package tfjs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Node is one operation of a graph model, as in TensorFlow's NodeDef: Inputs name the
// producing nodes ("name" for output 0, "name:1" for output 1, "^name" for a control
// dependency); Attr holds the attributes as TF.js writes them (read them with the Attr*
// functions).
type Node struct {
	Name, Op string
	Inputs   []string
	Attr     map[string]json.RawMessage
}

// GraphModel is a TF.js graph model: the GraphDef's nodes in file order and the decoded
// weights (the values of the graph's Const nodes, by node name).
type GraphModel struct {
	Nodes   []Node
	Weights map[string]*Tensor
	// Inputs and Outputs name the graph's input and output nodes: the model's signature
	// when it has one, else the Placeholder nodes and the nodes no other node consumes.
	Inputs, Outputs []string
	// SHA256 identifies the model's files: the sha256 of model.json's sha256 followed by each
	// shard's sha256, in manifest order.
	SHA256 string

	byName map[string]int
}

type graphFile struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []struct {
			Name  string                     `json:"name"`
			Op    string                     `json:"op"`
			Input []string                   `json:"input"`
			Attr  map[string]json.RawMessage `json:"attr"`
		} `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest Manifest `json:"weightsManifest"`
	Signature       *struct {
		Inputs  map[string]struct{ Name string } `json:"inputs"`
		Outputs map[string]struct{ Name string } `json:"outputs"`
	} `json:"signature"`
}

// LoadGraphModel reads a graph model's model.json and the weight shards beside it.
func LoadGraphModel(modelJSON string) (*GraphModel, error) {
	files := NewFiles()
	src, err := files.Read(modelJSON)
	if err != nil {
		return nil, err
	}

	var f graphFile
	if err := json.Unmarshal(src, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", modelJSON, err)
	}
	if len(f.ModelTopology.Node) == 0 {
		return nil, fmt.Errorf("%s: modelTopology has no nodes (not a graph model?)", modelJSON)
	}
	m := &GraphModel{byName: map[string]int{}}
	for i, n := range f.ModelTopology.Node {
		if n.Name == "" {
			return nil, fmt.Errorf("%s: node %d has no name", modelJSON, i)
		}
		if _, dup := m.byName[n.Name]; dup {
			return nil, fmt.Errorf("%s: node %q defined twice", modelJSON, n.Name)
		}
		m.byName[n.Name] = i
		m.Nodes = append(m.Nodes, Node{Name: n.Name, Op: n.Op, Inputs: n.Input, Attr: n.Attr})
	}
	for _, n := range m.Nodes {
		for _, in := range n.Inputs {
			if name, _, _ := ParseInput(in); !m.has(name) {
				return nil, fmt.Errorf("%s: node %q: input %q names no node", modelJSON, n.Name, in)
			}
		}
	}

	dir := filepath.Dir(modelJSON)
	m.Weights, err = DecodeWeights(modelJSON, f.WeightsManifest, func(p string) ([]byte, error) {
		return files.Read(filepath.Join(dir, p))
	})
	if err != nil {
		return nil, err
	}
	m.SHA256 = files.SHA256()

	if s := f.Signature; s != nil && len(s.Inputs)+len(s.Outputs) > 0 {
		m.Inputs, m.Outputs = signatureNodes(s.Inputs), signatureNodes(s.Outputs)
	} else {
		m.Inputs, m.Outputs = m.endpoints()
	}
	return m, nil
}

// signatureNodes returns the node names of a signature's tensors ("x:0" → "x"), sorted.
func signatureNodes(tensors map[string]struct{ Name string }) []string {
	var names []string
	for key, t := range tensors {
		name := t.Name
		if name == "" {
			name = key
		}
		node, _, _ := ParseInput(name)
		names = append(names, node)
	}
	sort.Strings(names)
	return names
}

// endpoints returns the Placeholder nodes and the non-Const nodes that feed no other node,
// in file order.
func (m *GraphModel) endpoints() (inputs, outputs []string) {
	consumed := map[string]bool{}
	for _, n := range m.Nodes {
		for _, in := range n.Inputs {
			name, _, _ := ParseInput(in)
			consumed[name] = true
		}
	}
	for _, n := range m.Nodes {
		switch {
		case n.Op == "Placeholder":
			inputs = append(inputs, n.Name)
		case n.Op != "Const" && !consumed[n.Name]:
			outputs = append(outputs, n.Name)
		}
	}
	return inputs, outputs
}

func (m *GraphModel) has(name string) bool {
	_, ok := m.byName[name]
	return ok
}

// Node returns the node called name.
func (m *GraphModel) Node(name string) (*Node, bool) {
	i, ok := m.byName[name]
	if !ok {
		return nil, false
	}
	return &m.Nodes[i], true
}

// ParseInput splits a node input reference: "name:2" is output 2 of node name, "^name" a
// control dependency on it.
func ParseInput(ref string) (node string, output int, control bool) {
	if strings.HasPrefix(ref, "^") {
		return ref[1:], 0, true
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		if k, err := strconv.Atoi(ref[i+1:]); err == nil {
			return ref[:i], k, false
		}
	}
	return ref, 0, false
}

// attrValue is TensorFlow's AttrValue as TF.js converters write it: int64s as strings or
// numbers, bytes as base64 strings or arrays of byte values, dtypes as names ("DT_FLOAT") or
// enum numbers (1).
type attrValue struct {
	S    *bytesValue `json:"s"`
	I    *intValue   `json:"i"`
	F    *float64    `json:"f"`
	B    *bool       `json:"b"`
	Type *typeValue  `json:"type"`
	List *struct {
		I []intValue `json:"i"`
		F []float64  `json:"f"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size intValue `json:"size"`
		} `json:"dim"`
		UnknownRank bool `json:"unknownRank"`
	} `json:"shape"`
}

// intValue is an int64 written as "3" or 3.
type intValue int

func (v *intValue) UnmarshalJSON(b []byte) error {
	i, err := strconv.Atoi(strings.Trim(string(b), `"`))
	*v = intValue(i)
	return err
}

// bytesValue is a bytes field written as a base64 string or an array of byte values.
type bytesValue []byte

func (v *bytesValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v, err = base64.StdEncoding.DecodeString(s)
		return err
	}
	var arr []byte
	var nums []int
	if err := json.Unmarshal(b, &nums); err != nil {
		return err
	}
	for _, n := range nums {
		if n < 0 || n > 255 {
			return fmt.Errorf("byte value %d out of range", n)
		}
		arr = append(arr, byte(n))
	}
	*v = arr
	return nil
}

// typeValue is a DataType written as "DT_FLOAT" or 1.
type typeValue string

// dataTypes names TensorFlow's DataType enum values (types.proto).
var dataTypes = map[int]string{1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16",
	6: "DT_INT8", 7: "DT_STRING", 9: "DT_INT64", 10: "DT_BOOL", 14: "DT_BFLOAT16", 19: "DT_HALF"}

func (v *typeValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = typeValue(s)
		return nil
	}
	var i int
	if err := json.Unmarshal(b, &i); err != nil {
		return err
	}
	name, ok := dataTypes[i]
	if !ok {
		name = fmt.Sprintf("DT_%d", i)
	}
	*v = typeValue(name)
	return nil
}

func attr(n *Node, key string) (*attrValue, error) {
	raw, ok := n.Attr[key]
	if !ok {
		return nil, fmt.Errorf("node %q (%s): no attribute %q", n.Name, n.Op, key)
	}
	var v attrValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("node %q (%s): attribute %q = %s: %w", n.Name, n.Op, key, raw, err)
	}
	return &v, nil
}

// attrAs reads one field of an attribute: get returns the value and whether the field is
// set; an unset field is the zero value when the attribute is {} (proto3 JSON omits zeros),
// else an error that says what was wanted.
func attrAs[T any](n *Node, key, want string, get func(*attrValue) (T, bool)) (T, error) {
	var zero T
	v, err := attr(n, key)
	if err != nil {
		return zero, err
	}
	if x, ok := get(v); ok {
		return x, nil
	}
	if string(n.Attr[key]) == "{}" {
		return zero, nil
	}
	return zero, fmt.Errorf("node %q (%s): attribute %q is %s, want %s", n.Name, n.Op, key, n.Attr[key], want)
}

// HasAttr reports whether the node has the attribute.
func HasAttr(n *Node, key string) bool {
	_, ok := n.Attr[key]
	return ok
}

// AttrInt returns an integer attribute ("axis": {"i": "3"}).
func AttrInt(n *Node, key string) (int, error) {
	return attrAs(n, key, "an int", func(v *attrValue) (int, bool) {
		if v.I == nil {
			return 0, false
		}
		return int(*v.I), true
	})
}

// AttrInts returns an integer-list attribute ("strides": {"list": {"i": ["1", "2", "2", "1"]}}).
func AttrInts(n *Node, key string) ([]int, error) {
	return attrAs(n, key, "a list of ints", func(v *attrValue) ([]int, bool) {
		if v.List == nil {
			return nil, false
		}
		out := make([]int, len(v.List.I))
		for i, x := range v.List.I {
			out[i] = int(x)
		}
		return out, true
	})
}

// AttrFloat returns a float attribute ("epsilon": {"f": 0.001}).
func AttrFloat(n *Node, key string) (float64, error) {
	return attrAs(n, key, "a float", func(v *attrValue) (float64, bool) {
		if v.F == nil {
			return 0, false
		}
		return *v.F, true
	})
}

// AttrFloats returns a float-list attribute.
func AttrFloats(n *Node, key string) ([]float64, error) {
	return attrAs(n, key, "a list of floats", func(v *attrValue) ([]float64, bool) {
		if v.List == nil {
			return nil, false
		}
		return v.List.F, true
	})
}

// AttrBool returns a bool attribute ("transpose_a": {"b": true}).
func AttrBool(n *Node, key string) (bool, error) {
	return attrAs(n, key, "a bool", func(v *attrValue) (bool, bool) {
		if v.B == nil {
			return false, false
		}
		return *v.B, true
	})
}

// AttrString returns a string attribute ("padding": {"s": "U0FNRQ=="} or {"s": [83, 65, 77, 69]} is "SAME").
func AttrString(n *Node, key string) (string, error) {
	return attrAs(n, key, "a string", func(v *attrValue) (string, bool) {
		if v.S == nil {
			return "", false
		}
		return string(*v.S), true
	})
}

// AttrType returns a dtype attribute as TensorFlow names it ("T": {"type": "DT_FLOAT"} or {"type": 1}).
func AttrType(n *Node, key string) (string, error) {
	return attrAs(n, key, "a type", func(v *attrValue) (string, bool) {
		if v.Type == nil {
			return "", false
		}
		return string(*v.Type), true
	})
}

// AttrShape returns a shape attribute (-1 for unknown dimensions; nil for an unknown rank).
func AttrShape(n *Node, key string) ([]int, error) {
	return attrAs(n, key, "a shape", func(v *attrValue) ([]int, bool) {
		if v.Shape == nil {
			return nil, false
		}
		if v.Shape.UnknownRank {
			return nil, true
		}
		dims := make([]int, len(v.Shape.Dim))
		for i, d := range v.Shape.Dim {
			dims[i] = int(d.Size)
		}
		return dims, true
	})
}
