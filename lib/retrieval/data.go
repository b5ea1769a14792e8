package retrieval

import (
	"fmt"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
)

// Pairs are (caption, photo) training pairs: Texts[i] describes Photos[ImageOfText[i]].
type Pairs struct {
	Photos      []string // file names, each once
	Texts       []string
	ImageOfText []int
	// CaptionIDs are the Flickr8k ids ("<photo>#<n>") of Texts.
	CaptionIDs []string
}

// TrainingPairs returns the Flickr8k captions (five each) of the course's 1,000 training
// photos: Flickr8k's test split, which is exactly train_images/. It checks every photo is
// a training photo of c and none is a test photo, so nothing of the test set is ever
// trained on.
func TrainingPairs(c *dataset.Course) (*Pairs, error) {
	caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTest)
	if err != nil {
		return nil, err
	}
	return pairsOf(caps, c)
}

func pairsOf(caps []dataset.Caption, c *dataset.Course) (*Pairs, error) {
	train := map[string]bool{}
	for _, im := range c.TrainImages {
		train[im] = true
	}
	test := map[string]bool{}
	for _, im := range c.TestImages {
		test[im] = true
	}
	p := &Pairs{}
	at := map[string]int{}
	for _, cp := range caps {
		if test[cp.Image] {
			return nil, fmt.Errorf("caption %s: photo %s is a course test photo: never train on it", cp.ID, cp.Image)
		}
		if !train[cp.Image] {
			return nil, fmt.Errorf("caption %s: photo %s is not in %s", cp.ID, cp.Image, dataset.TrainImagesDir)
		}
		i, ok := at[cp.Image]
		if !ok {
			i = len(p.Photos)
			at[cp.Image] = i
			p.Photos = append(p.Photos, cp.Image)
		}
		p.Texts = append(p.Texts, cp.Text)
		p.CaptionIDs = append(p.CaptionIDs, cp.ID)
		p.ImageOfText = append(p.ImageOfText, i)
	}
	if len(p.Texts) == 0 {
		return nil, fmt.Errorf("no training captions")
	}
	return p, nil
}

// Features looks up the pairs' photos in img and texts in txt (tables of L2-normalised
// vectors, see lib/features): the first three arguments of Train.
func (p *Pairs) Features(img, txt *features.Table) (imgFeats, textFeats [][]float32, err error) {
	imgFeats = make([][]float32, len(p.Photos))
	for i, name := range p.Photos {
		v, ok := img.Vecs[name]
		if !ok {
			return nil, nil, fmt.Errorf("%s: no vector for photo %s", img.Encoder, name)
		}
		imgFeats[i] = v
	}
	textFeats = make([][]float32, len(p.Texts))
	for i, s := range p.Texts {
		v, ok := txt.Vecs[s]
		if !ok {
			return nil, nil, fmt.Errorf("%s: no vector for caption %s %q", txt.Encoder, p.CaptionIDs[i], s)
		}
		textFeats[i] = v
	}
	return imgFeats, textFeats, nil
}

// Without returns the pairs whose photo is not in drop (photos renumbered).
func (p *Pairs) Without(drop map[string]bool) *Pairs {
	out := &Pairs{}
	at := map[int]int{}
	for i, t := range p.Texts {
		old := p.ImageOfText[i]
		if drop[p.Photos[old]] {
			continue
		}
		j, ok := at[old]
		if !ok {
			j = len(out.Photos)
			at[old] = j
			out.Photos = append(out.Photos, p.Photos[old])
		}
		out.Texts = append(out.Texts, t)
		out.CaptionIDs = append(out.CaptionIDs, p.CaptionIDs[i])
		out.ImageOfText = append(out.ImageOfText, j)
	}
	return out
}

// TrainOn fits a model on the pairs with the features of img and txt and records the
// encoders' names in it.
func TrainOn(p *Pairs, img, txt *features.Table, s Settings) (*Model, error) {
	imgFeats, textFeats, err := p.Features(img, txt)
	if err != nil {
		return nil, err
	}
	m, err := Train(imgFeats, textFeats, p.ImageOfText, s)
	if err != nil {
		return nil, err
	}
	m.ImageEncoder, m.TextEncoder = img.Encoder, txt.Encoder
	m.Name = img.Encoder + "+" + txt.Encoder
	return m, nil
}
