package textenc

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend" // the Go backend, GoMLX's default here
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"

	"github.com/withsense/withsense/lib/assets"
)

// MiniLMName is the registry name of the sentence-transformers all-MiniLM-L6-v2 encoder
// of the original study.
const MiniLMName = "minilm"

func init() {
	Encoders.Register(MiniLMName, func() (Encoder, error) {
		path, err := assets.MiniLM.Available()
		if err != nil {
			return nil, err
		}
		return loadMiniLM(path, assets.MiniLM.SHA256)
	})
}

// MiniLM batching: Embed runs MiniLMBatchSize texts at a time, sorted by length (as
// sentence-transformers does) and padded to a multiple of MiniLMPadTo tokens, so that the
// number of distinct input shapes, each compiled once, stays small. Padding never changes
// a vector beyond float rounding: padded positions are masked out of attention and pooling.
var (
	MiniLMBatchSize = 32
	MiniLMPadTo     = 16
)

// MiniLM embeds texts with a BERT sentence encoder in ONNX form (all-MiniLM-L6-v2's
// model.onnx), run by onnx-gomlx on the GoMLX backend that $GOMLX_BACKEND names (the Go
// backend by default): WordPiece tokens (Tokenizer, cut to 256) → token embeddings
// (the model's last_hidden_state) → mean over the attention mask → L2 normalisation,
// as sentence-transformers' Pooling(mean) + Normalize modules do. Texts are used as
// given: the tokenizer lower-cases and strips accents itself.
type MiniLM struct {
	path, sha string
	model     onnx.Model
	tok       *Tokenizer
	output    string // the token-embeddings output of the graph
	hasTypes  bool   // whether the graph takes token_type_ids
	dim       int

	mu      sync.Mutex
	backend compute.Backend
	store   *model.Store
	pooled  *model.Exec // ids, mask, types → [B, dim] unit vectors
	hidden  *model.Exec // ids, mask, types → [B, S, dim] token embeddings (tests)
}

// LoadMiniLM loads a BERT-style ONNX sentence encoder from path: inputs input_ids,
// attention_mask and optionally token_type_ids (int64 [batch, sequence]), an output of
// token embeddings [batch, sequence, dim] (named last_hidden_state or token_embeddings,
// else the first output). Weights() is the file's sha256.
func LoadMiniLM(path string) (*MiniLM, error) {
	sha, err := assets.FileSHA256(path)
	if err != nil {
		return nil, err
	}
	return loadMiniLM(path, sha)
}

func loadMiniLM(path, sha string) (*MiniLM, error) {
	tok, err := NewTokenizer()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parser.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e := &MiniLM{path: path, sha: sha, model: m, tok: tok}
	inputs, _ := m.Inputs()
	for _, in := range inputs {
		switch in {
		case "input_ids", "attention_mask":
		case "token_type_ids":
			e.hasTypes = true
		default:
			return nil, fmt.Errorf("%s: unexpected input %q (want input_ids, attention_mask, token_type_ids)", path, in)
		}
	}
	if !slices.Contains(inputs, "input_ids") || !slices.Contains(inputs, "attention_mask") {
		return nil, fmt.Errorf("%s: inputs %v lack input_ids or attention_mask", path, inputs)
	}
	outputs, outShapes := m.Outputs()
	pick := -1
	for i, name := range outputs {
		if name == "last_hidden_state" || name == "token_embeddings" {
			pick = i
			break
		}
	}
	if pick < 0 && len(outputs) > 0 {
		pick = 0
	}
	if pick < 0 || outShapes[pick].Rank() != 3 || outShapes[pick].Dimensions[2] <= 0 {
		return nil, fmt.Errorf("%s: no token-embeddings output [batch, sequence, dim] among %v %v", path, outputs, outShapes)
	}
	e.output, e.dim = outputs[pick], outShapes[pick].Dimensions[2]

	if e.backend, err = compute.New(); err != nil {
		return nil, fmt.Errorf("GoMLX backend: %w", err)
	}
	e.store = model.NewStore()
	if err := m.VariablesToScope(e.store.RootScope()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if e.hidden, err = model.NewExec(e.backend, e.store, e.tokenEmbeddings); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e.pooled, err = model.NewExec(e.backend, e.store, func(scope *model.Scope, ids, mask, types *Node) *Node {
		h := e.tokenEmbeddings(scope, ids, mask, types) // [B, S, dim]
		w := ExpandAxes(ConvertDType(mask, h.DType()), -1)
		sum := ReduceSum(Mul(h, w), 1)             // [B, dim]
		count := MaxScalar(ReduceSum(w, 1), 1e-9)  // [B, 1], as sentence-transformers' clamp
		mean := Div(sum, count)                    //
		norm := MaxScalar(L2Norm(mean, -1), 1e-12) // [B, 1], as torch.nn.functional.normalize
		return Div(mean, norm)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// tokenEmbeddings is the ONNX graph's token-embeddings output.
func (e *MiniLM) tokenEmbeddings(scope *model.Scope, ids, mask, types *Node) *Node {
	in := map[string]*Node{"input_ids": ids, "attention_mask": mask}
	if e.hasTypes {
		in["token_type_ids"] = types
	}
	h := e.model.CallGraph(scope, ids.Graph(), in, e.output)[0]
	if h.DType() != dtypes.Float32 {
		h = ConvertDType(h, dtypes.Float32)
	}
	return h
}

func (e *MiniLM) Name() string    { return MiniLMName }
func (e *MiniLM) Dim() int        { return e.dim }
func (e *MiniLM) Weights() string { return e.sha }

// Tokenizer is the WordPiece tokenizer Embed uses.
func (e *MiniLM) Tokenizer() *Tokenizer { return e.tok }

// EmbedIDs runs the network on one padded batch of token ids and attention masks (rows of
// equal length; token types are all 0) and returns one unit vector of length Dim() per row.
func (e *MiniLM) EmbedIDs(ids, mask [][]int64) ([][]float32, error) {
	out, err := e.run(e.pooled, ids, mask)
	if err != nil {
		return nil, err
	}
	return splitRows(out, len(ids), e.dim), nil
}

// TokenEmbeddings is EmbedIDs before pooling: the graph's token embeddings, [row][position·Dim()+j].
func (e *MiniLM) TokenEmbeddings(ids, mask [][]int64) ([][]float32, error) {
	out, err := e.run(e.hidden, ids, mask)
	if err != nil {
		return nil, err
	}
	return splitRows(out, len(ids), len(out)/max(len(ids), 1)), nil
}

func (e *MiniLM) run(exec *model.Exec, ids, mask [][]int64) (flat []float32, err error) {
	if len(ids) == 0 || len(ids) != len(mask) {
		return nil, fmt.Errorf("%s: %d id rows and %d mask rows", e.path, len(ids), len(mask))
	}
	n := len(ids[0])
	if n == 0 {
		return nil, fmt.Errorf("%s: empty rows", e.path)
	}
	flatIDs := make([]int64, 0, len(ids)*n)
	flatMask := make([]int64, 0, len(ids)*n)
	vocab := int64(e.tok.VocabSize())
	for i := range ids {
		if len(ids[i]) != n || len(mask[i]) != n {
			return nil, fmt.Errorf("%s: row %d has %d ids and %d mask values, row 0 has %d", e.path, i, len(ids[i]), len(mask[i]), n)
		}
		for j, id := range ids[i] {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("%s: row %d position %d: token id %d outside the vocabulary [0, %d)", e.path, i, j, id, vocab)
			}
		}
		flatIDs = append(flatIDs, ids[i]...)
		flatMask = append(flatMask, mask[i]...)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() {
		if r := recover(); r != nil { // GoMLX graph building reports errors by panicking
			err = fmt.Errorf("%s: %v", e.path, r)
		}
	}()
	out, err := exec.Call1(
		tensors.FromFlatDataAndDimensions(flatIDs, len(ids), n),
		tensors.FromFlatDataAndDimensions(flatMask, len(ids), n),
		tensors.FromFlatDataAndDimensions(make([]int64, len(ids)*n), len(ids), n))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.path, err)
	}
	defer out.FinalizeAll()
	return tensors.CopyFlatData[float32](out)
}

func splitRows(flat []float32, rows, width int) [][]float32 {
	out := make([][]float32, rows)
	for i := range out {
		out[i] = flat[i*width : (i+1)*width : (i+1)*width]
	}
	return out
}

// Embed tokenizes the texts (Tokenizer, cut to 256 tokens) and returns one unit vector
// of length Dim() per text, in the order given. An empty text is [CLS] [SEP] and gets
// the vector of that sequence.
func (e *MiniLM) Embed(texts []string) ([][]float32, error) {
	type item struct {
		i   int
		ids []int64
	}
	items := make([]item, len(texts))
	for i, s := range texts {
		items[i] = item{i, e.tok.Encode(s)}
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(len(a.ids), len(b.ids)) })
	out := make([][]float32, len(texts))
	for start := 0; start < len(items); start += MiniLMBatchSize {
		batch := items[start:min(start+MiniLMBatchSize, len(items))]
		n := len(batch[len(batch)-1].ids) // longest: items are sorted
		if MiniLMPadTo > 1 {
			n = (n + MiniLMPadTo - 1) / MiniLMPadTo * MiniLMPadTo
		}
		ids := make([][]int64, len(batch))
		mask := make([][]int64, len(batch))
		for k, it := range batch {
			ids[k] = make([]int64, n)
			mask[k] = make([]int64, n)
			copy(ids[k], it.ids)
			for j := range it.ids {
				mask[k][j] = 1
			}
		}
		vecs, err := e.EmbedIDs(ids, mask)
		if err != nil {
			return nil, fmt.Errorf("texts %d..%d (sorted by length): %w", start, start+len(batch)-1, err)
		}
		for k, it := range batch {
			out[it.i] = vecs[k]
		}
	}
	return out, nil
}
