package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/textenc"
)

// The zero-shot label score: no training, only the `use` sentence encoder and CenterNet's
// 80 COCO classes.
const (
	// LabelText is the text encoder that embeds the query and the class prompts.
	LabelText = textenc.USEName
	// LabelImage is the image encoder whose vectors are the photos' class presence.
	LabelImage = imageenc.CenterNetClassesName
	// LabelPrompt turns a class name into the text `use` embeds for it. TestLabelPrompts
	// compares it with the bare class name on a few hand-written queries.
	LabelPrompt = "a photo of a %s"
	// LabelTemperature is the softmax temperature that turns the query's cosines with the
	// class prompts into weights: `use` cosines of related sentences differ by tenths, so
	// at 0.05 a class 0.1 closer to the query weighs e² ≈ 7 times more.
	LabelTemperature = 0.05
	// A class is named in a photo's explanation when it brings at least labelMinShare of
	// the photo's label score and CenterNet sees it there (normalised presence at least
	// labelMinPresence).
	labelMinShare, labelMinPresence = 0.1, 0.1
)

// LabelScorer scores a photo by the classes CenterNet sees in it that the query speaks
// of: each class c weighs w_c = softmax_c(cos(query, prompt_c) / Temperature) and
// score(photo) = Σ_c w_c · presence_c(photo).
//
// Presence is the index's centernet-classes vector, which the index stores L2-normalised
// (features.ImageTable); that normalisation is not undone (the index keeps no norm to undo
// it with). It divides each photo's scores by the norm of everything CenterNet sees there,
// so presence_c reads as class c's share of the photo's detected content: a photo of a dog
// alone outscores a crowded street that also holds a dog, for "a dog". Blended variants
// z-score the label score, so its overall scale does not matter.
type LabelScorer struct {
	Text        textenc.Encoder
	Classes     []string    // class names, in presence order
	ClassVecs   [][]float32 // the prompts' normalised embeddings, in Classes order
	Presence    [][]float32 // per photo (index order), per class
	Temperature float64
}

// NewLabelScorer embeds COCO's class names (as LabelPrompt) with text and scores the
// photos whose presence vectors are given (index order, imageenc.COCOClasses order).
func NewLabelScorer(text textenc.Encoder, presence [][]float32) (*LabelScorer, error) {
	classes := imageenc.COCOClasses[:]
	for i, p := range presence {
		if len(p) != len(classes) {
			return nil, fmt.Errorf("labels: photo %d has a %d-d presence vector, want one per COCO class (%d)", i, len(p), len(classes))
		}
	}
	vecs, err := embedPrompts(text, LabelPrompt, classes)
	if err != nil {
		return nil, err
	}
	return &LabelScorer{Text: text, Classes: classes, ClassVecs: vecs, Presence: presence, Temperature: LabelTemperature}, nil
}

// embedPrompts embeds fmt.Sprintf(prompt, name) for every class name, normalised.
func embedPrompts(text textenc.Encoder, prompt string, classes []string) ([][]float32, error) {
	texts := make([]string, len(classes))
	for i, c := range classes {
		texts[i] = fmt.Sprintf(prompt, c)
	}
	vecs, err := text.Embed(texts)
	if err != nil {
		return nil, fmt.Errorf("labels: class prompts: %w", err)
	}
	for i := range vecs {
		if vecs[i], err = features.Normalize(vecs[i]); err != nil {
			return nil, fmt.Errorf("labels: prompt %q: %w", texts[i], err)
		}
	}
	return vecs, nil
}

// Name says what scores.
func (l *LabelScorer) Name() string {
	return fmt.Sprintf("labels (%s ↔ %s)", l.Text.Name(), LabelImage)
}

// Weights returns the query's weight on each class (they sum to 1).
func (l *LabelScorer) Weights(query string) ([]float64, error) {
	q, err := embedQuery(l.Text, query)
	if err != nil {
		return nil, err
	}
	if l.Temperature <= 0 {
		return nil, fmt.Errorf("labels: temperature %g, want > 0", l.Temperature)
	}
	w := make([]float64, len(l.ClassVecs))
	top := math.Inf(-1)
	for c, v := range l.ClassVecs {
		w[c] = float64(dot32(q, v)) / l.Temperature
		top = max(top, w[c])
	}
	var sum float64
	for c := range w {
		w[c] = math.Exp(w[c] - top)
		sum += w[c]
	}
	for c := range w {
		w[c] /= sum
	}
	return w, nil
}

// Score returns every photo's label score for the query.
func (l *LabelScorer) Score(query string) ([]float32, error) {
	w, err := l.Weights(query)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(l.Presence))
	for i, p := range l.Presence {
		var s float64
		for c, x := range p {
			s += w[c] * float64(x)
		}
		out[i] = float32(s)
	}
	return out, nil
}

// Why names, for each given photo, the classes that brought most of its label score for
// the query, with the photo's presence of each as the index holds it (normalised, so a
// class's share of what CenterNet sees there: "dog 0.93"), most first: at most MaxWhy,
// each bringing at least a tenth of the score and seen in the photo (presence ≥ 0.1).
func (l *LabelScorer) Why(query string, photos []int) ([][]string, error) {
	w, err := l.Weights(query)
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(photos))
	for i, p := range photos {
		if p < 0 || p >= len(l.Presence) {
			return nil, fmt.Errorf("labels: photo %d is not in the index (%d photos)", p, len(l.Presence))
		}
		pres := l.Presence[p]
		var total float64
		part := make([]float64, len(pres))
		order := make([]int, len(pres))
		for c, x := range pres {
			part[c], order[c] = w[c]*float64(x), c
			total += part[c]
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(part[b], part[a]) })
		for _, c := range order[:min(MaxWhy, len(order))] {
			if total <= 0 || part[c] < labelMinShare*total {
				break
			}
			if pres[c] < labelMinPresence {
				continue
			}
			out[i] = append(out[i], fmt.Sprintf("%s %.2f", l.Classes[c], pres[c]))
		}
	}
	return out, nil
}

// labelPart returns the label scorer inside a scorer: itself, or a part of a Blend.
func labelPart(s Scorer) (*LabelScorer, bool) {
	switch c := s.(type) {
	case *LabelScorer:
		return c, true
	case *Blend:
		if l, ok := labelPart(c.B); ok {
			return l, true
		}
		return labelPart(c.A)
	}
	return nil, false
}

// explainLabels appends to each result's Why the classes its label score comes from
// (LabelScorer.Why: "frisbee 0.71"), where the scorer has a label part (the label scorer
// itself, or a Blend with one); it does nothing for a blocked answer or another scorer.
func (s *Searcher) explainLabels(ans *Answer) error {
	l, ok := labelPart(s.Scorer)
	if !ok || ans.Blocked || len(ans.Results) == 0 {
		return nil
	}
	photos, err := s.resultPhotos(ans)
	if err != nil {
		return err
	}
	why, err := l.Why(ans.Query, photos)
	if err != nil {
		return err
	}
	for i := range ans.Results {
		ans.Results[i].Why = slices.Concat(ans.Results[i].Why, why[i])
	}
	return nil
}

// labelScorer builds the label scorer over an index's centernet-classes vectors.
func labelScorer(ix *Index, texts textOpener) (*LabelScorer, error) {
	presence, err := indexVecs(ix, LabelImage)
	if err != nil {
		return nil, err
	}
	text, err := texts.open(LabelText)
	if err != nil {
		return nil, err
	}
	return NewLabelScorer(text, presence)
}
