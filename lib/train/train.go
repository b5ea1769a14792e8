// Package train is the one training kit of the project's GoMLX models (the MLP
// regressor of lib/regress and the two-tower model of lib/retrieval): GoMLX's train.Loop
// runs the epochs of a train.Trainer (AdamW), with early stopping on a validation score
// the model supplies, the best epoch's weights kept and restored at the end, the
// optimizer's state dropped, a per-epoch history for the learning curves, a progress bar
// and an optional live curve in GoNB. Beside it: the standardiser and dropout the models'
// graphs use, a cache of compiled graphs, chunked inference and atomic checkpoints.
//
// Training is deterministic on one machine: the weights and dropout masks are drawn from
// the store's seed (NewStore), the batches from the model's own seeded order, and the Go
// backend's parallel kernels (matrix products, the bias gradient) split work by output
// tiles or columns, never along a summation, while its reductions run on one core; so the
// same inputs and seed give the same bits whatever GOMAXPROCS and also when several
// models train at once (Each). Another CPU may give other bits: the backend picks AVX-512,
// AVX2 or plain Go kernels by what the CPU has (GOMLX_GO_SIMD_AVX512=false changes them).
package train

import (
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/janpfeifer/gonb/gonbui"

	"github.com/withsense/withsense/lib/progress"
)

// Batch is one training step's inputs and labels (GoMLX's train.Batch); the trainer
// takes ownership of its tensors.
type Batch = gtrain.Batch

// LossFn is a training loss (GoMLX's train.LossFn).
type LossFn = gtrain.LossFn

// NewTrainer returns a GoMLX trainer of modelFn (a model function GoMLX accepts, e.g.
// func(*model.Scope, *graph.Node) *graph.Node) on store, minimising loss with Adam with
// decoupled weight decay (AdamW).
func NewTrainer[F gtrain.ModelFnCompatible](store *model.Store, modelFn F, loss LossFn, learningRate, weightDecay float64) (*gtrain.Trainer, error) {
	backend, err := Backend()
	if err != nil {
		return nil, err
	}
	opt := optimizer.Adam().LearningRate(learningRate).WeightDecay(weightDecay).Done()
	return gtrain.NewTrainer(backend, store, modelFn, loss, opt, nil, nil), nil
}

// Epoch is what the loop measured of one epoch.
type Epoch struct {
	Epoch     int     // 1-based
	TrainLoss float64 // mean training loss over the epoch's batches
	Seconds   float64 // since the start of the run, at the end of the epoch's training steps
}

// Run is one training: a trainer, its data, its validation and when to stop. E is the
// model's own record of an epoch (its learning-curve point).
type Run[E any] struct {
	Name    string // labels the progress bar and errors
	Trainer *gtrain.Trainer
	// Model names the variable scopes that are the model; the rest of the store is
	// dropped when training ends.
	Model Scopes
	// MaxEpochs is the number of epochs to train at most; Patience > 0 stops training
	// after that many epochs without a better score (0: train every epoch).
	MaxEpochs, Patience int
	// Order returns the rows of epoch (1-based) in batch order; Fill turns BatchSize
	// consecutive rows into a batch. An incomplete last batch is dropped.
	Order     func(epoch int) []int
	BatchSize int
	Fill      func(rows []int) Batch
	// Validate scores the model after an epoch's training steps and returns the model's
	// record of the epoch. A NaN score (no validation data) makes every epoch the best,
	// so the last one is kept. Higher tells whether a higher score is better.
	Validate func(e Epoch) (record E, score float64, err error)
	Higher   bool
	// OnEpoch, if set, is called with every epoch's record.
	OnEpoch func(record E)
	// Curve, if set, draws a learning curve as SVG: it is drawn live in a GoNB notebook
	// when OnEpoch is nil and no other progress bar runs.
	Curve func(history []E, best int) string
}

// Fit runs the training: epochs of Trainer steps in GoMLX's train.Loop until MaxEpochs
// or Patience, then restores the weights of the best epoch and drops the optimizer's
// state. It returns the epochs' records and the kept (1-based) epoch.
func (r Run[E]) Fit() (history []E, best int, err error) {
	if r.Trainer == nil || r.Order == nil || r.Fill == nil || r.Validate == nil || r.MaxEpochs <= 0 || r.BatchSize <= 0 {
		return nil, 0, fmt.Errorf("%s: a training run needs a trainer, Order, Fill, Validate, MaxEpochs > 0 and BatchSize > 0", r.Name)
	}
	store := r.Trainer.Store()
	defer r.Trainer.ResetComputationGraphs() // free the compiled training graphs
	loop := gtrain.NewLoop(r.Trainer)
	var lossSum float64
	var steps int
	loop.OnStep("epoch loss", 0, func(_ *gtrain.Loop, metrics []*tensors.Tensor) error {
		lossSum += shapes.ConvertTo[float64](metrics[0].Value())
		steps++
		return nil
	})
	data := &dataset{run: r}

	bar := progress.New(r.Name, r.MaxEpochs)
	defer bar.Done()
	onEpoch, done := r.OnEpoch, func(int) {}
	if onEpoch == nil && r.Curve != nil && !bar.Nested() {
		onEpoch, done = liveCurve(r.Curve, &history, &best)
	}
	start := time.Now()
	var snap map[string]*tensors.Tensor
	defer func() {
		for _, t := range snap {
			t.FinalizeAll()
		}
	}()
	bestScore := math.NaN()
	for epoch := 1; epoch <= r.MaxEpochs; epoch++ {
		lossSum, steps, data.epoch = 0, 0, epoch
		metrics, err := loop.RunEpochs(data, 1)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: epoch %d: %w", r.Name, epoch, err)
		}
		for _, t := range metrics {
			t.FinalizeAll()
		}
		e := Epoch{Epoch: epoch, TrainLoss: lossSum / float64(max(steps, 1)), Seconds: time.Since(start).Seconds()}
		rec, score, err := r.Validate(e)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: epoch %d: validation: %w", r.Name, epoch, err)
		}
		history = append(history, rec)
		// Until a real score comes every epoch is the best; a NaN never beats one.
		if math.IsNaN(bestScore) || (r.Higher && score > bestScore) || (!r.Higher && score < bestScore) {
			best, bestScore = epoch, score
			if epoch < r.MaxEpochs && !math.IsNaN(score) {
				if snap, err = r.Model.snapshot(store, snap); err != nil {
					return nil, 0, fmt.Errorf("%s: %w", r.Name, err)
				}
			} else { // the weights in the store are the ones to keep
				for _, t := range snap {
					t.FinalizeAll()
				}
				snap = nil
			}
		}
		bar.Add(1)
		if onEpoch != nil {
			onEpoch(rec)
		}
		if r.Patience > 0 && epoch-best >= r.Patience {
			break
		}
	}
	done(best)
	err = restore(store, snap)
	snap = nil // the store owns the tensors now
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.Name, err)
	}
	if err := r.Model.dropTrainingState(store); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", r.Name, err)
	}
	return history, best, nil
}

// dataset is one epoch of a Run as a GoMLX train.Dataset.
type dataset struct {
	run interface {
		batches(epoch int) iter.Seq2[Batch, error]
	}
	epoch int
}

func (d *dataset) Name() string                  { return "epoch" }
func (d *dataset) Iter() iter.Seq2[Batch, error] { return d.run.batches(d.epoch) }

func (r Run[E]) batches(epoch int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		order := r.Order(epoch)
		size := min(r.BatchSize, len(order))
		if size == 0 {
			yield(Batch{}, fmt.Errorf("epoch %d: no training rows", epoch))
			return
		}
		for start := 0; start+size <= len(order); start += size {
			if !yield(r.Fill(order[start:start+size]), nil) {
				return
			}
		}
	}
}

// liveCurve returns an OnEpoch hook that redraws the learning curve in place in a GoNB
// notebook (at most every half second) and a done func that draws the final curve with
// the kept epoch; outside a notebook, or when progress bars are silenced, neither draws
// (the terminal has the progress bar). history and best are the run's, read at each call.
func liveCurve[E any](curve func([]E, int) string, history *[]E, best *int) (update func(E), done func(int)) {
	if !gonbui.IsNotebook || progress.Quiet {
		return nil, func(int) {}
	}
	id := "learning_curve_" + gonbui.UniqueID()
	var last time.Time
	return func(E) {
			if time.Since(last) < 500*time.Millisecond {
				return
			}
			last = time.Now()
			gonbui.UpdateHTML(id, curve(*history, *best))
		}, func(best int) {
			gonbui.UpdateHTML(id, curve(*history, best))
		}
}
