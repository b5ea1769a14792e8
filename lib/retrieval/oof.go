package retrieval

import (
	"fmt"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/project"
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
	out := make([]float32, len(samples))
	for f := range project.Folds {
		_, rows := dataset.FoldIndices(folds, f)
		drop := map[string]bool{}
		for _, r := range rows {
			drop[samples[r].Image] = true
		}
		m, err := TrainOn(pairs.Without(drop), img, txt, s)
		if err != nil {
			return nil, fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		imgs := make([][]float32, len(rows))
		texts := make([][]float32, len(rows))
		for i, r := range rows {
			imgs[i], texts[i] = img.Vecs[samples[r].Image], txt.Vecs[samples[r].Text]
		}
		vi, err := m.ProjectImages(imgs)
		if err != nil {
			return nil, fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		vt, err := m.ProjectText(texts)
		if err != nil {
			return nil, fmt.Errorf("two-tower out of fold, fold %d: %w", f+1, err)
		}
		for i, r := range rows {
			out[r] = dot(vi[i], vt[i])
		}
		m.release()
	}
	return out, nil
}
