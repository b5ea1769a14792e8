package regress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/train"
)

// Loss names the training loss of an MLP.
type Loss string

const (
	LossMSE   Loss = "mse"   // mean squared error: the seed's choice
	LossMAE   Loss = "mae"   // mean absolute error: the reported metric itself
	LossHuber Loss = "huber" // squared below HuberDelta, absolute above
)

// Arch names how an MLP combines the text and image parts of a row.
type Arch string

const (
	// ArchConcat is the seed's network: hidden layers on the concatenation [text | image].
	ArchConcat Arch = "concat"
	// ArchProduct projects text and image separately to ProjDim and feeds
	// [p_text, p_image, p_text ⊙ p_image] to the hidden layers, so the text×image
	// interaction is one multiplication away instead of having to be learnt by ReLUs.
	ArchProduct Arch = "product"
	// ArchCosine projects both parts to ProjDim and predicts
	// σ(s·cos(p_text, p_image) + w·[p_text, p_image] + b): a learnt similarity (as CLIP
	// scores a pair) plus a per-side term for captions or photos that are rated
	// higher or lower whatever they are paired with. Hidden is not used.
	ArchCosine Arch = "cosine"
)

// MLPSettings are every knob of an MLP, saved with it. DefaultMLPSettings holds the
// project's defaults, in this one place.
type MLPSettings struct {
	Arch    Arch `json:"arch"`
	TextDim int  `json:"text_dim"` // width of the text part of a row; needed by ArchProduct and ArchCosine
	// Hidden lists the widths of the hidden layers (ReLU).
	Hidden  []int `json:"hidden"`
	ProjDim int   `json:"proj_dim"` // width of the text and image projections (ArchProduct, ArchCosine)
	// Standardize z-scores every feature with the training mean and deviation first.
	Standardize  bool    `json:"standardize"`
	InputDropout float64 `json:"input_dropout"`
	Dropout      float64 `json:"dropout"` // after every hidden layer and projection
	Loss         Loss    `json:"loss"`
	HuberDelta   float64 `json:"huber_delta"`
	// RankWeight > 0 adds RankWeight × a pairwise logistic ranking loss over the batch's
	// pairs (see pairRankLoss): a ranking-aware objective for Kendall's τ. 0: off.
	RankWeight   float64 `json:"rank_weight,omitempty"`
	LearningRate float64 `json:"learning_rate"`
	WeightDecay  float64 `json:"weight_decay"` // AdamW's decoupled decay
	BatchSize    int     `json:"batch_size"`
	MaxEpochs    int     `json:"max_epochs"`
	// Patience is the number of epochs without a better validation MAE before training
	// stops; the weights of the best epoch are kept.
	Patience int `json:"patience"`
	// ValidFraction of the training photos (GroupShuffleSplit on the groups given to Fit)
	// is held out for early stopping.
	ValidFraction float64 `json:"valid_fraction"`
	Seed          uint64  `json:"seed"`
}

// DefaultMLPSettings returns the project's MLP defaults for arch: Adam with decoupled
// weight decay (AdamW), dropout, early stopping on 15 % of the training photos, the
// project seed.
func DefaultMLPSettings(arch Arch, textDim int) MLPSettings {
	s := MLPSettings{
		Arch:          arch,
		TextDim:       textDim,
		Hidden:        []int{128},
		ProjDim:       128,
		Standardize:   true,
		InputDropout:  0,
		Dropout:       0.3,
		Loss:          LossMSE,
		HuberDelta:    0.1,
		LearningRate:  1e-3,
		WeightDecay:   1e-4,
		BatchSize:     256,
		MaxEpochs:     200,
		Patience:      20,
		ValidFraction: 0.15,
		Seed:          project.Seed,
	}
	return s
}

// Check reports the first invalid setting for rows of inputDim features.
func (s MLPSettings) Check(inputDim int) error {
	switch s.Arch {
	case ArchConcat:
	case ArchProduct, ArchCosine:
		if s.TextDim <= 0 || s.TextDim >= inputDim {
			return fmt.Errorf("arch %q needs 0 < text_dim < %d (the row width), got %d", s.Arch, inputDim, s.TextDim)
		}
		if s.ProjDim <= 0 {
			return fmt.Errorf("arch %q needs proj_dim > 0, got %d", s.Arch, s.ProjDim)
		}
	default:
		return fmt.Errorf("unknown arch %q (want %q, %q or %q)", s.Arch, ArchConcat, ArchProduct, ArchCosine)
	}
	for _, h := range s.Hidden {
		if h <= 0 {
			return fmt.Errorf("hidden layer width %d, want > 0", h)
		}
	}
	switch s.Loss {
	case LossMSE, LossMAE:
	case LossHuber:
		if !(s.HuberDelta > 0) {
			return fmt.Errorf("huber loss needs huber_delta > 0, got %v", s.HuberDelta)
		}
	default:
		return fmt.Errorf("unknown loss %q (want %q, %q or %q)", s.Loss, LossMSE, LossMAE, LossHuber)
	}
	for _, d := range []struct {
		name string
		v    float64
	}{{"input_dropout", s.InputDropout}, {"dropout", s.Dropout}} {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("%s = %v, want in [0, 1)", d.name, d.v)
		}
	}
	switch {
	case !(s.LearningRate > 0):
		return fmt.Errorf("learning_rate = %v, want > 0", s.LearningRate)
	case !(s.RankWeight >= 0):
		return fmt.Errorf("rank_weight = %v, want ≥ 0", s.RankWeight)
	case !(s.WeightDecay >= 0):
		return fmt.Errorf("weight_decay = %v, want ≥ 0", s.WeightDecay)
	case s.BatchSize <= 0:
		return fmt.Errorf("batch_size = %d, want > 0", s.BatchSize)
	case s.MaxEpochs <= 0:
		return fmt.Errorf("max_epochs = %d, want > 0", s.MaxEpochs)
	case s.Patience <= 0:
		return fmt.Errorf("patience = %d, want > 0", s.Patience)
	case !(s.ValidFraction > 0 && s.ValidFraction < 1):
		return fmt.Errorf("valid_fraction = %v, want in (0, 1)", s.ValidFraction)
	}
	return nil
}

// Epoch is one point of the learning curve.
type Epoch struct {
	Epoch     int     `json:"epoch"`      // 1-based
	TrainLoss float64 `json:"train_loss"` // mean training loss over the epoch's batches (with dropout)
	ValidLoss float64 `json:"valid_loss"` // Loss (without the ranking term) on the held-out photos
	ValidMAE  float64 `json:"valid_mae"`
	Seconds   float64 `json:"seconds"` // since the start of Fit
}

// MLP is a small neural network regressor trained with GoMLX (on Backend()): inputs
// standardised, one of the Arch shapes, a sigmoid output in [0, 1], AdamW with dropout,
// early stopping on the validation MAE of held-out photos. A progress bar shows epochs in
// the terminal; in a GoNB notebook the learning curve is drawn live.
type MLP struct {
	ModelName string
	Settings  MLPSettings
	// Encoders names the encoders whose features the rows hold, in order (e.g. the text
	// then the image encoder); saved with the model so a loader can check it is fed right.
	Encoders []string
	// OnEpoch, if set, is called after every epoch instead of the default live plot.
	OnEpoch func(e Epoch)

	InputDim  int
	History   []Epoch // the learning curve of the last Fit
	BestEpoch int     // the epoch whose weights were kept

	store *model.Store
	execs train.Execs[train.Mode] // compiled networks, by what they are built for
}

// NewMLP returns an untrained MLP; name identifies it in tables and under
// models/mlp/<name>/.
func NewMLP(name string, s MLPSettings) *MLP {
	return &MLP{ModelName: name, Settings: s}
}

func (m *MLP) Name() string { return m.ModelName }

// buildFn returns the network: rows [batch, InputDim] → predictions [batch, 1] in [0, 1].
func (m *MLP) buildFn(mode train.Mode) func(scope *model.Scope, x *graph.Node) *graph.Node {
	s := m.Settings
	return func(scope *model.Scope, x *graph.Node) *graph.Node {
		train.Begin(scope, x.Graph(), mode)
		dropout := func(x *graph.Node, rate float64) *graph.Node { return train.Dropout(scope, x, rate, mode) }
		dim := x.Shape().Dimensions[1]
		if s.Standardize {
			x = train.Standardize(scope, x)
		}
		x = dropout(x, s.InputDropout)
		var logit *graph.Node
		switch s.Arch {
		case ArchConcat:
			logit = hiddenThenOut(scope, x, s, dropout)
		case ArchProduct, ArchCosine:
			t := graph.SliceAxis(x, 1, graph.AxisRange(0, s.TextDim))
			im := graph.SliceAxis(x, 1, graph.AxisRange(s.TextDim, dim))
			pt := layers.Dense(scope.In("text_proj"), t, true, s.ProjDim)
			pi := layers.Dense(scope.In("image_proj"), im, true, s.ProjDim)
			if s.Arch == ArchProduct {
				h := graph.Concatenate([]*graph.Node{pt, pi, graph.Mul(pt, pi)}, -1)
				logit = hiddenThenOut(scope, dropout(h, s.Dropout), s, dropout)
				break
			}
			cos := graph.ReduceSum(graph.Mul(graph.L2Normalize(pt, -1), graph.L2Normalize(pi, -1)), -1)
			cos = graph.InsertAxes(cos, -1) // [batch, 1]
			sim := scope.In("similarity")
			scaleV := sim.VariableWithValue("scale", float32(5)).NodeValue(x.Graph())
			side := graph.Concatenate([]*graph.Node{pt, pi}, -1)
			side = layers.Dense(scope.In("side"), dropout(side, s.Dropout), true, 1)
			logit = graph.Add(graph.Mul(cos, scaleV), side)
		}
		return graph.Sigmoid(logit)
	}
}

// scopes are the variable scopes of the network the settings describe.
func (s MLPSettings) scopes() train.Scopes {
	out := train.Scopes{"norm", "out", "text_proj", "image_proj", "similarity", "side"}
	for i := range s.Hidden {
		out = append(out, fmt.Sprintf("hidden_%d", i))
	}
	return out
}

func hiddenThenOut(scope *model.Scope, h *graph.Node, s MLPSettings, dropout func(*graph.Node, float64) *graph.Node) *graph.Node {
	for i, width := range s.Hidden {
		h = layers.Dense(scope.In("hidden_%d", i), h, true, width)
		h = activation.Relu(h)
		h = dropout(h, s.Dropout)
	}
	return layers.Dense(scope.In("out"), h, true, 1)
}

func (m *MLP) lossFn() train.LossFn {
	var base train.LossFn
	switch m.Settings.Loss {
	case LossMAE:
		base = loss.MeanAbsoluteError
	case LossHuber:
		base = loss.MakeHuberLoss(m.Settings.HuberDelta)
	default:
		base = loss.MeanSquaredError
	}
	w := m.Settings.RankWeight
	if w <= 0 {
		return base
	}
	return func(labels, predictions []*graph.Node) *graph.Node {
		return graph.Add(base(labels, predictions), graph.MulScalar(pairRankLoss(labels[0], predictions[0]), w))
	}
}

// rankScale turns score differences (a tenth of the [0, 1] scale apart, typically) into
// logits for the pairwise ranking loss.
const rankScale = 10

// pairRankLoss is the mean over the batch's pairs with y_i > y_j of
// softplus(−rankScale·(p_i − p_j)): a logistic loss on every pair the model orders
// wrongly, the smooth counterpart of Kendall's discordant pairs.
func pairRankLoss(y, p *graph.Node) *graph.Node {
	dy := graph.Sub(y, graph.Transpose(y, 0, 1)) // [batch, batch]: y_i − y_j
	dp := graph.Sub(p, graph.Transpose(p, 0, 1))
	mask := graph.ConvertDType(graph.GreaterThan(dy, graph.ScalarZero(y.Graph(), y.DType())), y.DType())
	pairs := graph.Softplus(graph.MulScalar(dp, -rankScale))
	n := graph.Max(graph.ReduceAllSum(mask), graph.ScalarOne(y.Graph(), y.DType()))
	return graph.Div(graph.ReduceAllSum(graph.Mul(pairs, mask)), n)
}

// lossValue is the training loss of one prediction, in Go, for the validation curve.
func (m *MLP) lossValue(truth, pred float64) float64 {
	d := math.Abs(truth - pred)
	switch m.Settings.Loss {
	case LossMAE:
		return d
	case LossHuber:
		q := min(d, m.Settings.HuberDelta)
		return 0.5*q*q + m.Settings.HuberDelta*(d-q)
	}
	return d * d
}

// Fit trains from scratch: it holds out Settings.ValidFraction of the photos in groups
// (every row its own group when groups is nil), trains on the rest and keeps the weights
// of the epoch with the lowest validation MAE.
func (m *MLP) Fit(X [][]float32, y []float32, groups []string) (err error) {
	name := m.Name()
	p, err := checkFit(name, X, y, groups)
	if err != nil {
		return err
	}
	s := m.Settings
	if err := s.Check(p); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	trainRows, validRows, err := GroupShuffleSplit(groupsOrRows(groups, len(X)), s.ValidFraction, s.Seed)
	if err != nil {
		return fmt.Errorf("%s: early-stopping split: %w", name, err)
	}
	defer func() { // GoMLX reports graph-building errors by panicking
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %v", name, r)
		}
		m.execs.Release() // the monitoring graph, or the graphs of a failed fit
		if err != nil {   // no half-trained model to predict with
			m.store = nil
		}
	}()

	m.InputDim, m.History, m.BestEpoch = p, nil, 0
	m.execs.Release()
	m.store = train.NewStore(s.Seed)
	if s.Standardize {
		if err := train.AddStandardizer(m.store.RootScope(), X, trainRows); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	trainer, err := train.NewTrainer(m.store, m.buildFn(train.ModeTrain), m.lossFn(), s.LearningRate, s.WeightDecay)
	if err != nil {
		return err
	}
	validX, validY := make([][]float32, len(validRows)), make([]float32, len(validRows))
	for i, r := range validRows {
		validX[i], validY[i] = X[r], y[r]
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x6d6c70))
	order := slices.Clone(trainRows) // reshuffled every epoch
	m.History, m.BestEpoch, err = train.Run[Epoch]{
		Name:      "MLP " + name,
		Trainer:   trainer,
		Model:     s.scopes(),
		MaxEpochs: s.MaxEpochs,
		Patience:  s.Patience,
		Order: func(int) []int {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			return order
		},
		BatchSize: s.BatchSize,
		Fill: func(rows []int) train.Batch {
			yb := make([]float32, len(rows))
			for b, r := range rows {
				yb[b] = y[r]
			}
			return train.Batch{
				Inputs: []*tensors.Tensor{train.RowsTensor(X, rows, p)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(yb, len(rows), 1)},
			}
		},
		Validate: func(te train.Epoch) (Epoch, float64, error) {
			e := Epoch{Epoch: te.Epoch, TrainLoss: te.TrainLoss, Seconds: te.Seconds}
			pred, err := m.predict(train.ModeMonitor, validX)
			if err != nil {
				return e, 0, err
			}
			for i, truth := range validY {
				e.ValidLoss += m.lossValue(float64(truth), float64(pred[i]))
			}
			e.ValidLoss /= float64(len(validY))
			e.ValidMAE, err = metrics.MAE(validY, pred)
			return e, e.ValidMAE, err
		},
		OnEpoch: m.OnEpoch,
		Curve:   func(h []Epoch, best int) string { return CurveSVG("MLP "+name, h, best) },
	}.Fit()
	return err
}

// Predict returns the predicted scores in [0, 1].
func (m *MLP) Predict(X [][]float32) (out []float32, err error) {
	if m.store == nil {
		return nil, fmt.Errorf("%s: Predict before Fit or Load", m.Name())
	}
	if _, err := checkRows(m.Name(), X, m.InputDim); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: predict: %v", m.Name(), r)
		}
	}()
	return m.predict(train.ModeInfer, X)
}

// predict runs the network compiled for mode on X.
func (m *MLP) predict(mode train.Mode, X [][]float32) ([]float32, error) {
	exec, err := train.Compiled(&m.execs, mode, m.store, m.buildFn(mode))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	out, err := train.Apply(exec, X, m.InputDim)
	if err != nil {
		return nil, fmt.Errorf("%s: predict: %w", m.Name(), err)
	}
	return out, nil
}
