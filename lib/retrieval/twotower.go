// Package retrieval ranks photos for a description with a two-tower model: frozen image
// features and frozen text features are each projected into one shared space, where the
// cosine of a photo and a description scores the pair. The projections are trained with a
// symmetric contrastive (InfoNCE) loss on the Flickr8k captions of the course's training
// photos, as CLIP is on web pairs, so that a description's own photo comes first.
//
// Train fits a Model; ProjectImages and ProjectText map features into the shared space;
// Ranks and TestRanks score the course's test queries; OutOfFold gives every expert-scored
// pair a cosine from a model that never saw its photo, for the Flickr8K-Expert correlation.
package retrieval

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/metrics"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/train"
)

// Settings are every knob of the two-tower model, saved with it. DefaultSettings holds
// the project's defaults, in this one place.
type Settings struct {
	// Dim is the width of the shared space both towers project into.
	Dim int `json:"dim"`
	// ImageHidden and TextHidden are the hidden widths of each tower: Linear → GELU →
	// Linear, plus a linear shortcut from input to output. 0 makes the tower one linear map.
	ImageHidden int `json:"image_hidden"`
	TextHidden  int `json:"text_hidden"`
	// Standardize z-scores every input feature with the training mean and deviation first.
	Standardize bool `json:"standardize"`
	// ImageDropout and TextDropout drop input features while training (each tower its
	// own rate; on text features it acts as a light augmentation); Dropout acts after
	// the hidden layers.
	ImageDropout float64 `json:"image_dropout"`
	TextDropout  float64 `json:"text_dropout"`
	Dropout      float64 `json:"dropout"`
	// Temperature τ divides the cosines into logits. It starts here and is learnt (as the
	// log of 1/τ) when LearnTemperature is set; 1/τ is clipped at MaxLogitScale as in CLIP.
	Temperature      float64 `json:"temperature"`
	LearnTemperature bool    `json:"learn_temperature"`
	MaxLogitScale    float64 `json:"max_logit_scale"`
	LearningRate     float64 `json:"learning_rate"`
	WeightDecay      float64 `json:"weight_decay"` // AdamW's decoupled decay
	// BatchSize pairs per step: the other pairs of a batch are each pair's negatives.
	BatchSize int `json:"batch_size"`
	// HardNegatives > 1 fills batches with groups of that many photos that look alike
	// (nearest neighbours by cosine of their image features), so that negatives are hard
	// to tell apart; 0 or 1 draws the photos of a batch at random.
	HardNegatives int `json:"hard_negatives"`
	Epochs        int `json:"epochs"` // passes over every caption
	// ValidFraction of the photos (with all their captions) is held out to draw the
	// learning curve (recall of their captions among them) and to keep the weights of the
	// best epoch (validation MRR). 0 trains on every photo and keeps the last epoch.
	ValidFraction float64 `json:"valid_fraction"`
	Seed          uint64  `json:"seed"`
}

// DefaultSettings returns the project's two-tower defaults, the best validation MRR
// among the settings tried on inception-mixed5 + glove-mean (linear or MLP towers, d 64 to
// 256, τ, dropout, weight decay, hard negatives; most within noise of each other): both
// towers a GELU MLP with a linear shortcut, heavy dropout on the image features (the model
// overfits 900 photos within a few epochs otherwise), τ starting at 0.1 and learnt.
func DefaultSettings() Settings {
	return Settings{
		Dim:              256,
		ImageHidden:      512,
		TextHidden:       256,
		Standardize:      true,
		ImageDropout:     0.5,
		TextDropout:      0.1,
		Dropout:          0.5,
		Temperature:      0.1,
		LearnTemperature: true,
		MaxLogitScale:    100,
		LearningRate:     1e-3,
		WeightDecay:      1e-4,
		BatchSize:        256,
		Epochs:           30,
		ValidFraction:    0.1,
		Seed:             project.Seed,
	}
}

// Check reports the first invalid setting.
func (s Settings) Check() error {
	switch {
	case s.Dim <= 0:
		return fmt.Errorf("dim = %d, want > 0", s.Dim)
	case s.ImageHidden < 0 || s.TextHidden < 0:
		return fmt.Errorf("image_hidden = %d, text_hidden = %d: want ≥ 0 (0 = linear tower)", s.ImageHidden, s.TextHidden)
	case !(s.Temperature > 0):
		return fmt.Errorf("temperature = %v, want > 0", s.Temperature)
	case !(s.MaxLogitScale >= 1/s.Temperature):
		return fmt.Errorf("max_logit_scale = %v, want ≥ 1/temperature = %v", s.MaxLogitScale, 1/s.Temperature)
	case !(s.LearningRate > 0):
		return fmt.Errorf("learning_rate = %v, want > 0", s.LearningRate)
	case !(s.WeightDecay >= 0):
		return fmt.Errorf("weight_decay = %v, want ≥ 0", s.WeightDecay)
	case s.BatchSize < 2:
		return fmt.Errorf("batch_size = %d, want ≥ 2 (the other pairs of a batch are the negatives)", s.BatchSize)
	case s.HardNegatives < 0 || s.HardNegatives > s.BatchSize:
		return fmt.Errorf("hard_negatives = %d, want 0 (off) to batch_size %d", s.HardNegatives, s.BatchSize)
	case s.Epochs <= 0:
		return fmt.Errorf("epochs = %d, want > 0", s.Epochs)
	case !(s.ValidFraction >= 0 && s.ValidFraction < 1):
		return fmt.Errorf("valid_fraction = %v, want in [0, 1)", s.ValidFraction)
	}
	for _, d := range []struct {
		name string
		v    float64
	}{{"image_dropout", s.ImageDropout}, {"text_dropout", s.TextDropout}, {"dropout", s.Dropout}} {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("%s = %v, want in [0, 1)", d.name, d.v)
		}
	}
	return nil
}

// Epoch is one point of the learning curve.
type Epoch struct {
	Epoch     int     `json:"epoch"`      // 1-based
	TrainLoss float64 `json:"train_loss"` // mean symmetric InfoNCE over the epoch's batches (with dropout)
	// ValidR1, ValidR5 and ValidMRR rank each held-out caption's photo among all
	// held-out photos (NaN when ValidFraction is 0).
	ValidR1     float64 `json:"valid_r1"`
	ValidR5     float64 `json:"valid_r5"`
	ValidMRR    float64 `json:"valid_mrr"`
	Temperature float64 `json:"temperature"` // τ after the epoch
	Seconds     float64 `json:"seconds"`     // since the start of Train
}

func orNull(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// epochJSON is an Epoch as saved: the validation metrics as pointers, null when there were
// none (NaN, which JSON cannot write).
type epochJSON struct {
	epochFields
	ValidR1  *float64 `json:"valid_r1"`
	ValidR5  *float64 `json:"valid_r5"`
	ValidMRR *float64 `json:"valid_mrr"`
}

type epochFields Epoch // Epoch without its JSON methods

// MarshalJSON writes the epoch with null for the validation metrics of a model trained
// without validation photos (ValidFraction 0).
func (e Epoch) MarshalJSON() ([]byte, error) {
	return json.Marshal(epochJSON{epochFields(e), orNull(e.ValidR1), orNull(e.ValidR5), orNull(e.ValidMRR)})
}

// UnmarshalJSON reads what MarshalJSON wrote (null as NaN).
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var v epochJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Epoch(v.epochFields)
	e.ValidR1, e.ValidR5, e.ValidMRR = orNaN(v.ValidR1), orNaN(v.ValidR5), orNaN(v.ValidMRR)
	return nil
}

// Model is a trained two-tower model. Name and the encoder names are not used by the
// computation; they are saved with the model so a loader can check it is fed the features
// it was trained on.
type Model struct {
	Name         string
	Settings     Settings
	ImageEncoder string
	TextEncoder  string
	ImageDim     int // width of the image features it takes
	TextDim      int // width of the text features it takes

	History   []Epoch // the learning curve of Train
	BestEpoch int     // the epoch whose weights were kept
	// ValidPhotos is the number of photos Train held out (0 with ValidFraction 0).
	ValidPhotos int

	store *model.Store
	execs train.Execs[execKey] // compiled projections
}

// execKey names a compiled projection: the tower and what it is built for.
type execKey struct {
	side string
	mode graphMode
}

// Variable scopes of the towers and the temperature.
const (
	imageScope = "image"
	textScope  = "text"
	tempScope  = "temperature"
	// bankScope holds the caption bank (Bank), variable bankVar [texts, Dim]; not trained.
	bankScope = "bank"
	bankVar   = "texts"
)

// Train fits a two-tower model on (text, photo) pairs: text i describes photo
// imageOfText[i] (an index into imgFeats). Photos may have several texts, and a text
// (rows of identical features) several photos; a pair's photo is never the negative of a
// text in the batch that describes it too. Features should be the
// encoders' L2-normalised vectors (features.Normalize); they must be finite and of one
// width per side. A progress bar counts epochs.
func Train(imgFeats, textFeats [][]float32, imageOfText []int, s Settings) (*Model, error) {
	return TrainWithHook(imgFeats, textFeats, imageOfText, s, nil)
}

// TrainWithHook is Train with onEpoch called after every epoch (nil: none), e.g. to draw
// the learning curve live.
func TrainWithHook(imgFeats, textFeats [][]float32, imageOfText []int, s Settings, onEpoch func(Epoch)) (m *Model, err error) {
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("two-tower settings: %w", err)
	}
	imgDim, err := checkFeatures("image features", imgFeats, 0)
	if err != nil {
		return nil, err
	}
	textDim, err := checkFeatures("text features", textFeats, 0)
	if err != nil {
		return nil, err
	}
	if len(imageOfText) != len(textFeats) {
		return nil, fmt.Errorf("two-tower: %d texts but %d photo indices (imageOfText)", len(textFeats), len(imageOfText))
	}
	for i, p := range imageOfText {
		if p < 0 || p >= len(imgFeats) {
			return nil, fmt.Errorf("two-tower: imageOfText[%d] = %d, out of range [0, %d) of the image features", i, p, len(imgFeats))
		}
	}

	// Held-out photos for the learning curve and the kept epoch.
	trainTexts := make([]int, len(textFeats))
	for i := range trainTexts {
		trainTexts[i] = i
	}
	pos := newPositives(textFeats, imageOfText)
	var validTexts []int
	if s.ValidFraction > 0 {
		groups := make([]string, len(imageOfText))
		for i, p := range imageOfText {
			groups[i] = strconv.Itoa(p)
		}
		if trainTexts, validTexts, err = dataset.GroupShuffleSplit(groups, s.ValidFraction, s.Seed); err != nil {
			return nil, fmt.Errorf("two-tower: validation split: %w", err)
		}
		// A text that also describes a photo of the other side belongs to neither: held-out
		// captions stay unseen, as the test queries are.
		held := map[int]bool{}
		for _, t := range validTexts {
			held[imageOfText[t]] = true
		}
		isHeld := func(p int) bool { return held[p] }
		trainTexts = slices.DeleteFunc(trainTexts, func(t int) bool { return !pos.only(t, not(isHeld)) })
		validTexts = slices.DeleteFunc(validTexts, func(t int) bool { return !pos.only(t, isHeld) })
	}
	trainPhotos := distinctPhotos(imageOfText, trainTexts)
	if len(trainPhotos) < 2 {
		return nil, fmt.Errorf("two-tower: %d training photos, need at least 2", len(trainPhotos))
	}
	m = &Model{Name: "two-tower", Settings: s, ImageDim: imgDim, TextDim: textDim}
	defer func() { // GoMLX reports graph-building errors by panicking
		if r := recover(); r != nil {
			err = fmt.Errorf("two-tower: %v", r)
		}
		m.release() // the monitoring graphs
	}()
	m.store = train.NewStore(s.Seed)
	root := m.store.RootScope()
	if s.Standardize {
		if err := train.AddStandardizer(root.In(imageScope), imgFeats, trainPhotos); err != nil {
			return nil, fmt.Errorf("two-tower: %w", err)
		}
		if err := train.AddStandardizer(root.In(textScope), textFeats, trainTexts); err != nil {
			return nil, fmt.Errorf("two-tower: %w", err)
		}
	}
	// The learnt part of log(1/τ) starts at 0: AdamW's decay, which GoMLX applies to every
	// trainable variable, then pulls τ towards Settings.Temperature rather than towards 1.
	logScale := root.In(tempScope).VariableWithValue("log_scale_delta", float32(0))
	logScale.SetTrainable(s.LearnTemperature)
	trainer, err := train.NewTrainer(m.store, m.logitsFn(), contrastiveLoss, s.LearningRate, s.WeightDecay)
	if err != nil {
		return nil, err
	}

	var validImgs, validText [][]float32
	var validRel []int
	if len(validTexts) > 0 {
		validPhotos := distinctPhotos(imageOfText, validTexts)
		at := map[int]int{}
		for i, p := range validPhotos {
			at[p] = i
			validImgs = append(validImgs, imgFeats[p])
		}
		for _, t := range validTexts {
			validText = append(validText, textFeats[t])
			validRel = append(validRel, at[imageOfText[t]])
		}
		m.ValidPhotos = len(validPhotos)
	}
	var neighbours map[int][]int
	if s.HardNegatives > 1 {
		neighbours = nearestPhotos(imgFeats, trainPhotos, 4*s.HardNegatives)
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x74776f746f776572))
	m.History, m.BestEpoch, err = train.Run[Epoch]{
		Name:      "two-tower",
		Trainer:   trainer,
		Model:     modelScopes,
		MaxEpochs: s.Epochs,
		Order: func(int) []int {
			return epochOrder(rng, trainTexts, imageOfText, neighbours, s.HardNegatives)
		},
		BatchSize: s.BatchSize,
		Fill: func(pairs []int) train.Batch {
			n := len(pairs)
			photos := make([]int, n)
			for b, t := range pairs {
				photos[b] = imageOfText[t]
			}
			return train.Batch{
				Inputs: []*tensors.Tensor{train.RowsTensor(imgFeats, photos, imgDim), train.RowsTensor(textFeats, pairs, textDim)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(pos.Mask(pairs, photos), n, n)},
			}
		},
		Validate: func(te train.Epoch) (Epoch, float64, error) {
			e := Epoch{Epoch: te.Epoch, TrainLoss: te.TrainLoss, Seconds: te.Seconds,
				ValidR1: math.NaN(), ValidR5: math.NaN(), ValidMRR: math.NaN()}
			var err error
			if e.Temperature, err = m.Temperature(); err != nil || len(validTexts) == 0 {
				return e, e.ValidMRR, err
			}
			ranks, err := m.ranks(validImgs, validText, validRel, modeMonitor)
			if err != nil {
				return e, 0, err
			}
			r, err := metrics.Summarize(ranks)
			e.ValidR1, e.ValidR5, e.ValidMRR = r.R1, r.R5, r.MRR
			return e, e.ValidMRR, err
		},
		Higher:  true,
		OnEpoch: onEpoch,
	}.Fit()
	if err != nil {
		return nil, err
	}
	if err := m.keepBank(textFeats, pos); err != nil {
		return nil, err
	}
	return m, nil
}

// keepBank projects every distinct text the model was given (its caption bank) with the
// final weights and keeps the vectors in the model, saved with it: the search's hubness
// correction (HubnessOffsets) compares photos with them.
func (m *Model) keepBank(textFeats [][]float32, pos positives) error {
	var rows [][]float32
	seen := make([]bool, len(pos.photos))
	for i, id := range pos.text {
		if !seen[id] {
			seen[id] = true
			rows = append(rows, textFeats[i])
		}
	}
	bank, err := m.ProjectText(rows)
	if err != nil {
		return fmt.Errorf("two-tower: caption bank: %w", err)
	}
	d := m.Settings.Dim
	t := train.RowsTensor(bank, nil, d)
	m.store.RootScope().In(bankScope).VariableWithValue(bankVar, t).SetTrainable(false)
	return nil
}

// Bank returns the shared-space vectors of the distinct texts the model was trained on
// (one per caption, in training order: models trained on the same pairs have the same
// rows).
func (m *Model) Bank() ([][]float32, error) {
	if m == nil || m.store == nil {
		return nil, fmt.Errorf("two-tower: Bank before Train or Load")
	}
	v := m.store.RootScope().In(bankScope).GetVariable(bankVar)
	if v == nil {
		return nil, fmt.Errorf("two-tower %s: no caption bank (saved by an older version): train it again", m.Name)
	}
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	if dims := t.Shape().Dimensions; len(dims) != 2 || dims[1] != m.Settings.Dim {
		return nil, fmt.Errorf("two-tower %s: caption bank of shape %v, want [n, %d]", m.Name, dims, m.Settings.Dim)
	}
	d := m.Settings.Dim
	var out [][]float32
	err = tensors.ConstFlatData(t, func(flat []float32) {
		out = make([][]float32, len(flat)/d)
		for i := range out {
			out[i] = slices.Clone(flat[i*d : (i+1)*d])
		}
	})
	return out, err
}

// epochOrder lists every training text once, in batches-to-be order: round r holds the
// r-th caption (in a fresh random order per photo) of every photo that has one, photos
// shuffled (in groups of `group` look-alikes if group > 1, see similarOrder), so
// consecutive pairs rarely share a photo; only pairs across a round boundary can, and the
// loss masks those.
func epochOrder(rng *rand.Rand, texts, imageOfText []int, neighbours map[int][]int, group int) []int {
	byPhoto := map[int][]int{}
	var photos []int
	for _, t := range texts {
		p := imageOfText[t]
		if _, ok := byPhoto[p]; !ok {
			photos = append(photos, p)
		}
		byPhoto[p] = append(byPhoto[p], t)
	}
	rounds := 0
	for _, p := range photos {
		ts := byPhoto[p]
		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		rounds = max(rounds, len(ts))
	}
	order := make([]int, 0, len(texts))
	for r := range rounds {
		rng.Shuffle(len(photos), func(i, j int) { photos[i], photos[j] = photos[j], photos[i] })
		if group > 1 {
			photos = similarOrder(rng, photos, neighbours, group)
		}
		for _, p := range photos {
			if ts := byPhoto[p]; r < len(ts) {
				order = append(order, ts[r])
			}
		}
	}
	return order
}

// nearestPhotos returns, for each photo of photos, its k nearest other photos among
// photos by cosine of the features, nearest first.
func nearestPhotos(feats [][]float32, photos []int, k int) map[int][]int {
	norm := make(map[int][]float32, len(photos))
	for _, p := range photos {
		v := slices.Clone(feats[p])
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if s > 0 {
			for i := range v {
				v[i] /= float32(math.Sqrt(s))
			}
		}
		norm[p] = v
	}
	k = min(k, len(photos)-1)
	out := make(map[int][]int, len(photos))
	sims := make([]float32, len(photos))
	idx := make([]int, len(photos))
	for _, p := range photos {
		for j, q := range photos {
			sims[j], idx[j] = dot(norm[p], norm[q]), j
			if q == p {
				sims[j] = float32(math.Inf(-1))
			}
		}
		slices.SortFunc(idx, func(a, b int) int {
			if sims[a] != sims[b] {
				if sims[a] > sims[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		nn := make([]int, k)
		for i := range k {
			nn[i] = photos[idx[i]]
		}
		out[p] = nn
	}
	return out
}

// similarOrder reorders shuffled photos into consecutive groups of look-alikes: each photo
// not yet placed, in the given order, starts a group and pulls in its nearest neighbours
// not yet placed, up to group photos; the groups are then shuffled.
func similarOrder(rng *rand.Rand, photos []int, neighbours map[int][]int, group int) []int {
	placed := make(map[int]bool, len(photos))
	here := make(map[int]bool, len(photos))
	for _, p := range photos {
		here[p] = true
	}
	var groups [][]int
	for _, p := range photos {
		if placed[p] {
			continue
		}
		placed[p] = true
		g := []int{p}
		for _, q := range neighbours[p] {
			if len(g) == group {
				break
			}
			if here[q] && !placed[q] {
				placed[q] = true
				g = append(g, q)
			}
		}
		groups = append(groups, g)
	}
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	out := make([]int, 0, len(photos))
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// positives records which photos each text describes: the pairs Train is given. Texts are
// told apart by their features, so a caption paired with several photos, or two photos
// with the same caption, is one text with several photos.
type positives struct {
	text   []int   // text id of each pair (row of the text features)
	photos [][]int // photos of each text id
}

// newPositives builds the positives of pairs whose text i has features textFeats[i] and
// describes photo imageOfText[i].
func newPositives(textFeats [][]float32, imageOfText []int) positives {
	p := positives{text: make([]int, len(textFeats))}
	ids := map[string]int{}
	var buf []byte
	for i, row := range textFeats {
		buf = buf[:0]
		for _, v := range row {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		id, ok := ids[string(buf)]
		if !ok {
			id = len(p.photos)
			ids[string(buf)] = id
			p.photos = append(p.photos, nil)
		}
		p.text[i] = id
		if !slices.Contains(p.photos[id], imageOfText[i]) {
			p.photos[id] = append(p.photos[id], imageOfText[i])
		}
	}
	return p
}

// Mask returns the row-major [n, n] mask of a batch of pairs (indices into Train's texts)
// showing photos: 1 where the text of pair i describes the photo of another pair j, which
// must then not be its negative (in particular two pairs of one photo), 0 elsewhere and on
// the diagonal.
func (p positives) Mask(pairs, photos []int) []float32 {
	n := len(pairs)
	mask := make([]float32, n*n)
	for i, t := range pairs {
		for j, q := range photos {
			if i != j && slices.Contains(p.photos[p.text[t]], q) {
				mask[i*n+j] = 1
			}
		}
	}
	return mask
}

// only reports whether every photo that the text of pair t describes satisfies keep.
func (p positives) only(t int, keep func(photo int) bool) bool {
	for _, q := range p.photos[p.text[t]] {
		if !keep(q) {
			return false
		}
	}
	return true
}

// maskedOut is subtracted from the logits of masked pairs: exp(−1e4) is 0 in float32.
const maskedOut = 1e4

// contrastiveLoss is the symmetric InfoNCE loss of a batch: predictions[0] are the logits
// [n, n] (row: text, column: the photo of each pair), labels[0] the positives' Mask. Each
// text's own pair is the target among the batch's photos (text → image) and each photo's
// own pair among the batch's texts (image → text); masked pairs (a text and another photo
// it describes) are left out of both denominators. The result is the mean of the two cross-entropies.
func contrastiveLoss(labels, predictions []*graph.Node) *graph.Node {
	logits, same := predictions[0], labels[0]
	g := logits.Graph()
	n := logits.Shape().Dimensions[0]
	masked := graph.Sub(logits, graph.MulScalar(graph.ConvertDType(same, logits.DType()), maskedOut))
	eye := graph.ConvertDType(graph.Diagonal(g, n), logits.DType())
	t2i := graph.ReduceSum(graph.Mul(graph.LogSoftmax(masked, -1), eye), -1) // [n]: log p(photo i | text i)
	i2t := graph.ReduceSum(graph.Mul(graph.LogSoftmax(masked, 0), eye), 0)   // [n]: log p(text j | photo j)
	return graph.MulScalar(graph.Add(graph.ReduceAllMean(t2i), graph.ReduceAllMean(i2t)), -0.5)
}

// logitsFn builds the training graph: both towers, then the scaled cosine matrix.
func (m *Model) logitsFn() func(scope *model.Scope, img, txt *graph.Node) *graph.Node {
	return func(scope *model.Scope, img, txt *graph.Node) *graph.Node {
		vi := m.tower(scope.In(imageScope), img, m.Settings.ImageHidden, m.Settings.ImageDropout, modeTrain)
		vt := m.tower(scope.In(textScope), txt, m.Settings.TextHidden, m.Settings.TextDropout, modeTrain)
		cos := graph.MatMul(vt, graph.Transpose(vi, 0, 1)) // [texts, photos]
		return graph.Mul(cos, m.logitScale(scope, img.Graph()))
	}
}

// logitScale is 1/τ = exp(log(1/Settings.Temperature) + log_scale_delta), clipped at
// MaxLogitScale.
func (m *Model) logitScale(scope *model.Scope, g *graph.Graph) *graph.Node {
	v := scope.In(tempScope).GetVariable("log_scale_delta")
	if v == nil {
		panic("the temperature variable is missing")
	}
	logScale := graph.AddScalar(v.NodeValue(g), math.Log(1/m.Settings.Temperature))
	return graph.Exp(graph.MinScalar(logScale, math.Log(m.Settings.MaxLogitScale)))
}

// graphMode says what a tower graph is built for (train.Mode).
type graphMode = train.Mode

const (
	modeTrain   = train.ModeTrain
	modeMonitor = train.ModeMonitor
	modeInfer   = train.ModeInfer
)

// tower projects features [n, in] into the shared space [n, Dim], L2-normalised.
func (m *Model) tower(scope *model.Scope, x *graph.Node, hidden int, inputDropout float64, mode graphMode) *graph.Node {
	s := m.Settings
	train.Begin(scope, x.Graph(), mode)
	if s.Standardize {
		x = train.Standardize(scope, x)
	}
	x = train.Dropout(scope, x, inputDropout, mode)
	var out *graph.Node
	if hidden == 0 {
		out = layers.Dense(scope.In("out"), x, true, s.Dim)
	} else {
		h := layers.Dense(scope.In("hidden"), x, true, hidden)
		h = activation.Gelu(h)
		h = train.Dropout(scope, h, s.Dropout, mode)
		out = graph.Add(layers.Dense(scope.In("out"), h, true, s.Dim), layers.Dense(scope.In("shortcut"), x, false, s.Dim))
	}
	return graph.L2Normalize(out, -1)
}

// not negates a predicate.
func not[T any](f func(T) bool) func(T) bool { return func(x T) bool { return !f(x) } }

// distinctPhotos returns the photos of texts, in first-seen order.
func distinctPhotos(imageOfText, texts []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, t := range texts {
		if p := imageOfText[t]; !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// checkFeatures checks rows are non-empty, of one width (dim, if > 0) and finite, and
// returns the width.
func checkFeatures(what string, X [][]float32, dim int) (int, error) {
	if len(X) == 0 {
		return 0, fmt.Errorf("two-tower: no %s", what)
	}
	if dim <= 0 {
		dim = len(X[0])
		if dim == 0 {
			return 0, fmt.Errorf("two-tower: %s row 0 is empty", what)
		}
	}
	for i, row := range X {
		if len(row) != dim {
			return 0, fmt.Errorf("two-tower: %s row %d has %d values, want %d", what, i, len(row), dim)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("two-tower: %s row %d value %d is %v", what, i, j, v)
			}
		}
	}
	return dim, nil
}

// Temperature returns the model's current τ (1/τ clipped at MaxLogitScale).
func (m *Model) Temperature() (float64, error) {
	if m == nil || m.store == nil {
		return math.NaN(), fmt.Errorf("two-tower: Temperature before Train or Load")
	}
	v := m.store.RootScope().In(tempScope).GetVariable("log_scale_delta")
	if v == nil {
		return math.NaN(), fmt.Errorf("two-tower: no temperature variable")
	}
	t, err := v.Value()
	if err != nil {
		return math.NaN(), err
	}
	return 1 / min(math.Exp(math.Log(1/m.Settings.Temperature)+train.Scalar(t)), m.Settings.MaxLogitScale), nil
}

// modelScopes are the variable scopes of the model: the towers and the temperature.
var modelScopes = train.Scopes{imageScope, textScope, tempScope}

// release drops the compiled projections.
func (m *Model) release() { m.execs.Release() }

// ProjectImages maps image features (as given to Train) into the shared space: unit
// vectors of Settings.Dim values.
func (m *Model) ProjectImages(feats [][]float32) ([][]float32, error) {
	return m.project(imageScope, feats, modeInfer)
}

// ProjectText maps text features (as given to Train) into the shared space.
func (m *Model) ProjectText(feats [][]float32) ([][]float32, error) {
	return m.project(textScope, feats, modeInfer)
}

// project runs one tower, compiled for mode (modeMonitor while training, whose weights
// change between calls; modeInfer after).
func (m *Model) project(side string, feats [][]float32, mode graphMode) (out [][]float32, err error) {
	if m == nil || m.store == nil {
		return nil, fmt.Errorf("two-tower: projection before Train or Load")
	}
	what, dim, hidden, dropout := "image features", m.ImageDim, m.Settings.ImageHidden, m.Settings.ImageDropout
	if side == textScope {
		what, dim, hidden, dropout = "text features", m.TextDim, m.Settings.TextHidden, m.Settings.TextDropout
	}
	if len(feats) == 0 {
		return nil, nil
	}
	if _, err := checkFeatures(what, feats, dim); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("two-tower: projecting %s: %v", what, r)
		}
	}()
	exec, err := train.Compiled(&m.execs, execKey{side, mode}, m.store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return m.tower(scope.In("%s", side), x, hidden, dropout, mode)
	})
	if err != nil {
		return nil, fmt.Errorf("two-tower: %w", err)
	}
	flat, err := train.Apply(exec, feats, dim)
	if err != nil {
		return nil, fmt.Errorf("two-tower: projecting %s: %w", what, err)
	}
	d := m.Settings.Dim
	out = make([][]float32, len(feats))
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}
