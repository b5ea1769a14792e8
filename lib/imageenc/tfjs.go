package imageenc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/withsense/withsense/lib/tfjs"
)

// TFJSModel is a TF.js layers model as nsfwjs ships it: the Keras topology and the
// dequantised weights (decoded by lib/tfjs), read from model.min.js and the group1-shard*.min.js files (JavaScript
// modules that wrap a JSON-like object literal and base64 strings). Parsing needs no Node.
type TFJSModel struct {
	// Layers in the topology's order (Keras lists them so that inputs come first).
	Layers []KerasLayer
	// Inputs and Outputs name the model's input and output layers.
	Inputs, Outputs []string
	// Weights maps a weight name ("conv2d_1/kernel") to its dequantised values.
	Weights map[string]*Weight
	// SHA256 is the sha256 of the files the model was read from (model.min.js, then the
	// shards in manifest order, each file's sha256 hashed in turn): the identity of the weights.
	SHA256 string
}

// KerasLayer is one layer of the topology.
type KerasLayer struct {
	Name      string
	ClassName string
	Config    KerasLayerConfig
	// Inbound names the layers whose outputs feed this one (first node only).
	Inbound []string
}

// KerasLayerConfig holds the configuration fields the InceptionV3 graph uses.
type KerasLayerConfig struct {
	Trainable    bool    `json:"trainable"`
	Filters      int     `json:"filters"`
	KernelSize   []int   `json:"kernel_size"`
	Strides      []int   `json:"strides"`
	Padding      string  `json:"padding"`
	DataFormat   string  `json:"data_format"`
	DilationRate []int   `json:"dilation_rate"`
	Activation   string  `json:"activation"`
	UseBias      bool    `json:"use_bias"`
	PoolSize     []int   `json:"pool_size"`
	Axis         any     `json:"axis"`
	Epsilon      float64 `json:"epsilon"`
	Center       *bool   `json:"center"`
	Scale        *bool   `json:"scale"`
	Units        int     `json:"units"`
	Rate         float64 `json:"rate"`
}

// Weight is a dequantised weight tensor in TF.js' layout (Conv2D kernels are
// [kh, kw, in, out], Dense kernels [in, out]).
type Weight struct {
	Name  string
	Shape []int
	Data  []float32
	// QMin and QScale are the uint8 quantisation parameters: value = QMin + QScale·q.
	QMin, QScale float64
}

// SHA256 returns the sha256 of the weight's float32 little-endian bytes.
func (w *Weight) SHA256() string {
	b := make([]byte, 4*len(w.Data))
	for i, v := range w.Data {
		u := math.Float32bits(v)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tfjsFile mirrors the object literal of model.min.js.
type tfjsFile struct {
	ModelTopology struct {
		ModelConfig struct {
			ClassName string `json:"class_name"`
			Config    struct {
				Name         string            `json:"name"`
				Layers       []json.RawMessage `json:"layers"`
				InputLayers  [][]any           `json:"input_layers"`
				OutputLayers [][]any           `json:"output_layers"`
			} `json:"config"`
		} `json:"model_config"`
	} `json:"modelTopology"`
	WeightsManifest tfjs.Manifest `json:"weightsManifest"`
}

type kerasLayerJSON struct {
	Name         string           `json:"name"`
	ClassName    string           `json:"class_name"`
	Config       KerasLayerConfig `json:"config"`
	InboundNodes [][][]any        `json:"inbound_nodes"`
}

// LoadTFJS reads a TF.js layers model bundled as nsfwjs does (dir holds model.min.js and
// the shard files named in its weights manifest, with a .min.js suffix).
func LoadTFJS(dir string) (*TFJSModel, error) {
	modelPath := filepath.Join(dir, "model.min.js")
	files := tfjs.NewFiles()
	src, err := files.Read(modelPath)
	if err != nil {
		return nil, err
	}

	start := strings.Index(string(src), "{modelTopology:")
	if start < 0 {
		return nil, fmt.Errorf("%s: no {modelTopology: ...} object literal found", modelPath)
	}
	value, _, err := parseJSLiteral(string(src), start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	asJSON, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	var f tfjsFile
	if err := json.Unmarshal(asJSON, &f); err != nil {
		return nil, fmt.Errorf("%s: topology: %w", modelPath, err)
	}
	cfg := f.ModelTopology.ModelConfig.Config
	if len(cfg.Layers) == 0 {
		return nil, fmt.Errorf("%s: topology has no layers", modelPath)
	}
	m := &TFJSModel{Weights: map[string]*Weight{}}
	for i, raw := range cfg.Layers {
		var l kerasLayerJSON
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", modelPath, i, err)
		}
		kl := KerasLayer{Name: l.Name, ClassName: l.ClassName, Config: l.Config}
		if len(l.InboundNodes) > 1 {
			return nil, fmt.Errorf("%s: layer %q is shared (%d inbound nodes): not supported", modelPath, l.Name, len(l.InboundNodes))
		}
		if len(l.InboundNodes) == 1 {
			for _, in := range l.InboundNodes[0] {
				name, ok := in[0].(string)
				if !ok || len(in) < 1 {
					return nil, fmt.Errorf("%s: layer %q: bad inbound node %v", modelPath, l.Name, in)
				}
				kl.Inbound = append(kl.Inbound, name)
			}
		}
		m.Layers = append(m.Layers, kl)
	}
	for _, io := range cfg.InputLayers {
		if s, ok := io[0].(string); ok {
			m.Inputs = append(m.Inputs, s)
		}
	}
	for _, io := range cfg.OutputLayers {
		if s, ok := io[0].(string); ok {
			m.Outputs = append(m.Outputs, s)
		}
	}

	tensors, err := tfjs.DecodeWeights(modelPath, f.WeightsManifest, func(p string) ([]byte, error) {
		path := filepath.Join(dir, p+".min.js")
		src, err := files.Read(path)
		if err != nil {
			return nil, err
		}
		return decodeShard(path, src)
	})
	if err != nil {
		return nil, err
	}
	for name, t := range tensors {
		if t.DType != "float32" {
			return nil, fmt.Errorf("%s: weight %q has dtype %q, want float32", modelPath, name, t.DType)
		}
		m.Weights[name] = &Weight{Name: name, Shape: t.Shape, Data: t.Float, QMin: t.QMin, QScale: t.QScale}
	}
	m.SHA256 = files.SHA256()
	return m, nil
}

// decodeShard decodes the base64 string exported by a group1-shard*.min.js file (src,
// read from path).
func decodeShard(path string, src []byte) ([]byte, error) {
	s := string(src)
	const marker = `.exports="`
	i := strings.Index(s, marker)
	if i < 0 {
		return nil, fmt.Errorf("%s: no exported base64 string (%s...) found", path, marker)
	}
	s = s[i+len(marker):]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return nil, fmt.Errorf("%s: unterminated base64 string", path)
	}
	data, err := base64.StdEncoding.DecodeString(s[:j])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// parseJSLiteral parses the JavaScript object/array/scalar literal starting at src[pos]
// (the subset minifiers emit for data: unquoted keys, !0 and !1 for true and false, numbers
// such as .5 or -1e-3, single- or double-quoted strings, void 0). It returns the value as
// map[string]any, []any, float64, string, bool or nil, and the position after it.
func parseJSLiteral(src string, pos int) (any, int, error) {
	p := &jsParser{src: src, pos: pos}
	v, err := p.value()
	return v, p.pos, err
}

type jsParser struct {
	src string
	pos int
}

func (p *jsParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:p.pos], "\n")
	end := min(p.pos+30, len(p.src))
	return fmt.Errorf("line %d, offset %d (near %q): %s", line, p.pos, p.src[p.pos:end], fmt.Sprintf(format, args...))
}

func (p *jsParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsParser) value() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of input")
	}
	c := p.src[p.pos]
	switch {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"' || c == '\'':
		return p.str()
	case c == '!':
		// Minified booleans: !0 is true, !1 is false.
		if p.pos+1 < len(p.src) && (p.src[p.pos+1] == '0' || p.src[p.pos+1] == '1') {
			v := p.src[p.pos+1] == '0'
			p.pos += 2
			return v, nil
		}
		return nil, p.errorf("unsupported expression")
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case isIdentStart(c):
		id := p.ident()
		switch id {
		case "null":
			return nil, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "void":
			p.skipSpace()
			if _, err := p.number(); err != nil {
				return nil, err
			}
			return nil, nil
		case "NaN", "Infinity":
			return nil, p.errorf("%s cannot be represented", id)
		}
		return nil, p.errorf("unsupported identifier %q in a data literal", id)
	}
	return nil, p.errorf("unexpected character %q", c)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (p *jsParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if isIdentStart(c) || (c >= '0' && c <= '9') {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

func (p *jsParser) number() (float64, error) {
	start := p.pos
	if p.src[p.pos] == '-' || p.src[p.pos] == '+' {
		p.pos++
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
			((c == '-' || c == '+') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E')) {
			p.pos++
			continue
		}
		break
	}
	text := p.src[start:p.pos]
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		p.pos = start
		return 0, p.errorf("bad number %q", text)
	}
	return v, nil
}

func (p *jsParser) str() (string, error) {
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return "", p.errorf("unterminated escape")
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '0':
				b.WriteByte(0)
			case 'u':
				if p.pos+4 > len(p.src) {
					return "", p.errorf("short \\u escape")
				}
				r, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
				if err != nil {
					return "", p.errorf("bad \\u escape")
				}
				b.WriteRune(rune(r))
				p.pos += 4
			case 'x':
				if p.pos+2 > len(p.src) {
					return "", p.errorf("short \\x escape")
				}
				r, err := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
				if err != nil {
					return "", p.errorf("bad \\x escape")
				}
				b.WriteRune(rune(r))
				p.pos += 2
			default:
				b.WriteByte(e)
			}
		default:
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			b.WriteRune(r)
			p.pos += size
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsParser) object() (map[string]any, error) {
	p.pos++ // {
	obj := map[string]any{}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated object")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			return obj, nil
		}
		var key string
		c := p.src[p.pos]
		switch {
		case c == '"' || c == '\'':
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			key = k
		case isIdentStart(c):
			key = p.ident()
		case c >= '0' && c <= '9':
			v, err := p.number()
			if err != nil {
				return nil, err
			}
			key = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			return nil, p.errorf("expected an object key")
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("expected ':' after key %q", key)
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			continue
		}
		return nil, p.errorf("expected ',' or '}' in object")
	}
}

func (p *jsParser) array() ([]any, error) {
	p.pos++ // [
	arr := []any{}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated array")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return arr, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			continue
		}
		return nil, p.errorf("expected ',' or ']' in array")
	}
}
