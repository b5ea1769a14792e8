package retrieval

import (
	"fmt"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/train"
)

// OutOfFold gives every expert-scored sample the cosine of its (photo, caption text) from
// a two-tower model that never saw the photo: for each of the project.Folds folds of
// GroupKFold over the samples' photos (project.Seed, the split lib/evaluate uses), a model
// is trained on pairs without the fold's photos and their captions, and scores the fold's
// samples. The scores align with samples; evaluate.Correlate turns them into τ-c.
//
// A sample's caption may be the caption of a photo of another fold, and so be trained on
// paired with that other photo: the pair being scored is never seen.
func OutOfFold(samples []dataset.Sample, pairs *Pairs, img, txt *features.Table, s Settings) ([]float32, error) {
	return outOfFold(samples, pairs, img, txt, s, foldWorkers)
}

// foldWorkers is how many folds OutOfFold trains at once. One: on the 2-core machine,
// loaded by other work, BenchmarkOutOfFold measured the folds at once 0.64–0.78× as fast
// as one after the other (the same CPU time, more waiting); 0 (one per core) gives the
// same bits (TestOutOfFoldDeterministic) and may pay on an idle machine.
const foldWorkers = 1

// outOfFold is OutOfFold training at most workers folds at a time (0: one per core).
func outOfFold(samples []dataset.Sample, pairs *Pairs, img, txt *features.Table, s Settings, workers int) ([]float32, error) {
	folds, err := dataset.GroupKFold(dataset.Groups(samples), project.Folds, project.Seed)
	if err != nil {
		return nil, fmt.Errorf("two-tower out of fold: %w", err)
	}
	for _, smp := range samples {
		if _, ok := img.Vecs[smp.Image]; !ok {
			return nil, fmt.Errorf("two-tower out of fold: %s: no vector for photo %s", img.Encoder, smp.Image)
		}
		if _, ok := txt.Vecs[smp.Text]; !ok {
			return nil, fmt.Errorf("two-tower out of fold: %s: no vector for caption %s %q", txt.Encoder, smp.QueryID, smp.Text)
		}
	}
	// Each fold writes only its own samples' scores and every fold's model draws from
	// the same seed, so the scores do not depend on how the folds are scheduled.
	out := make([]float32, len(samples))
	err = train.Each(project.Folds, workers, func(f int) error {
		_, rows := dataset.FoldIndices(folds, f)
		drop := map[string]bool{}
		for _, r := range rows {
			drop[samples[r].Image] = true
		}
		m, err := TrainOn(pairs.Without(drop), img, txt, s)
		if err != nil {
			return fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		defer m.release()
		imgs := make([][]float32, len(rows))
		texts := make([][]float32, len(rows))
		for i, r := range rows {
			imgs[i], texts[i] = img.Vecs[samples[r].Image], txt.Vecs[samples[r].Text]
		}
		vi, err := m.ProjectImages(imgs)
		if err != nil {
			return fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		vt, err := m.ProjectText(texts)
		if err != nil {
			return fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		for i, r := range rows {
			out[r] = dot(vi[i], vt[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
