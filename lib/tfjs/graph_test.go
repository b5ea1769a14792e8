package tfjs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/assets"
)

// TestLoadGraphModelUSE reads the Universal Sentence Encoder lite graph model (a real
// TF.js graph model with numeric dtype enums and byte-array strings in its attributes).
func TestLoadGraphModelUSE(t *testing.T) {
	dir, err := assets.USEDir()
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGraphModel(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Nodes) != 317 || len(m.Weights) != 61 {
		t.Errorf("%d nodes, %d weights; want 317 and 61", len(m.Nodes), len(m.Weights))
	}
	if strings.Join(m.Inputs, ",") != "indices,values" || len(m.Outputs) != 1 || !strings.HasSuffix(m.Outputs[0], "l2_normalize") {
		t.Errorf("inputs %v, outputs %v", m.Inputs, m.Outputs)
	}
	emb := m.Weights["module/Embeddings_en"]
	if emb == nil || len(emb.Float) != 8002*256 || emb.Shape[0] != 8002 || emb.DType != "float32" {
		t.Fatalf("embeddings %+v", emb)
	}
	if w := m.Weights["module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/ones_like"]; w == nil || w.DType != "int32" || len(w.Int) != 2 {
		t.Errorf("int32 weight %+v", w)
	}
	// Every Const node has its value among the weights.
	for _, n := range m.Nodes {
		if n.Op == "Const" && m.Weights[n.Name] == nil {
			t.Errorf("Const %q has no weight", n.Name)
		}
	}

	conv, ok := m.Node("module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_0/TransformerLayer/MultiheadAttention/qkv_transform_single/Conv2D")
	if !ok {
		t.Fatal("Conv2D node not found")
	}
	strides, err := AttrInts(conv, "strides")
	if err != nil || len(strides) != 4 || strides[1] != 1 {
		t.Errorf("strides %v, %v", strides, err)
	}
	if s, err := AttrString(conv, "data_format"); err != nil || s != "NHWC" {
		t.Errorf("data_format %q, %v", s, err)
	}
	if s, err := AttrType(conv, "T"); err != nil || s != "DT_FLOAT" {
		t.Errorf("T %q, %v", s, err)
	}
	if _, err := AttrInt(conv, "strides"); err == nil || !strings.Contains(err.Error(), "Conv2D") {
		t.Errorf("a list read as an int: %v", err)
	}
	if _, err := AttrFloat(conv, "absent"); err == nil || !strings.Contains(err.Error(), `no attribute "absent"`) {
		t.Errorf("absent attribute: %v", err)
	}
	ph, _ := m.Node("indices")
	if shape, err := AttrShape(ph, "shape"); err != nil || len(shape) != 2 || shape[0] != -1 || shape[1] != 2 {
		t.Errorf("indices shape %v, %v", shape, err)
	}
	if m.SHA256 == "" || len(m.SHA256) != 64 {
		t.Errorf("SHA256 %q", m.SHA256)
	}
}

func TestLoadGraphModelErrors(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ json, want string }{
		"notjson":  {`{`, "unexpected end"},
		"layers":   {`{"modelTopology": {"model_config": {}}}`, "no nodes"},
		"dangling": {`{"modelTopology": {"node": [{"name": "a", "op": "Neg", "input": ["b:1"]}]}}`, `input "b:1" names no node`},
		"shard":    {`{"modelTopology": {"node": [{"name": "a", "op": "Const"}]}, "weightsManifest": [{"paths": ["absent.bin"], "weights": []}]}`, "absent.bin"},
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(c.json), 0o644)
		if _, err := LoadGraphModel(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	if n, k, ctl := ParseInput("^x/y"); n != "x/y" || k != 0 || !ctl {
		t.Errorf("ParseInput(^x/y) = %q %d %v", n, k, ctl)
	}
	if n, k, ctl := ParseInput("x:2"); n != "x" || k != 2 || ctl {
		t.Errorf("ParseInput(x:2) = %q %d %v", n, k, ctl)
	}
}
