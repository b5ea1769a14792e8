package study

import (
	"cmp"
	"fmt"
	"html"
	"path/filepath"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/cachekey"
	"github.com/withsense/withsense/lib/charts"
	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/features"
	"github.com/withsense/withsense/lib/gallery"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/results"
	"github.com/withsense/withsense/lib/textenc"
)

// Notebook 02's tables, charts, galleries and record, one call each over an
// EmbeddingsReport.

// EmbeddingsReport is what notebook 02 measures: every encoder of lib/features on the
// dataset's photos and on the Flickr8k captions of its training photos.
type EmbeddingsReport struct {
	Course *dataset.Course
	Photos []string // every photo, train then test (dataset.Course.AllPhotos)
	// Images are the available image encoders' tables over Photos, features.ImageEncoders
	// order; Paraphrases the paraphrase check of each available text encoder,
	// features.TextEncoders order; Missing the encoders that could not be opened, images
	// first, with the reason.
	Images      []*features.Table
	Paraphrases []*textenc.Paraphrases
	Missing     []features.Unavailable
	// NSFW is nsfwjs' head on each photo; Objects what CenterNet finds in each photo (nil,
	// with ObjectsErr, where CenterNet cannot be opened).
	NSFW       []imageenc.NSFWScores
	Objects    []imageenc.PhotoObjects
	ObjectsErr string
	byName     map[string]int // photo file name → index in Photos
}

// Embeddings embeds every photo with every available image encoder (through the embedding
// cache), runs the paraphrase check of every available text encoder (cached under
// data/cache/study/ by the captions, the encoder's weights and the code) and reads the
// NSFW head's and CenterNet's outputs for every photo.
func Embeddings() (*EmbeddingsReport, error) {
	c, err := dataset.LoadDefault()
	if err != nil {
		return nil, err
	}
	r := &EmbeddingsReport{Course: c, Photos: c.AllPhotos(), byName: map[string]int{}}
	for i, p := range r.Photos {
		r.byName[filepath.Base(p)] = i
	}
	var missing []features.Unavailable
	if r.Images, missing, err = features.Tables(features.ImageEncoders, func(n string) (*features.Table, error) {
		return features.ImageTable(n, r.Photos)
	}); err != nil {
		return nil, err
	}
	r.Missing = missing
	if r.Paraphrases, missing, err = paraphrases(features.TextEncoders); err != nil {
		return nil, err
	}
	r.Missing = append(r.Missing, missing...)
	if r.NSFW, err = imageenc.NSFWFiles(r.Photos); err != nil {
		return nil, err
	}
	if r.Objects, err = imageenc.Objects(r.Photos); err != nil {
		r.Objects, r.ObjectsErr = nil, project.Relative(err.Error())
	}
	return r, nil
}

// paraphrases runs textenc's paraphrase check (DefaultParaphraseOptions, the captions of
// the Flickr8k test split) for each encoder that opens, each cached by its content key.
func paraphrases(names []string) ([]*textenc.Paraphrases, []features.Unavailable, error) {
	caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTest)
	if err != nil {
		return nil, nil, err
	}
	code, err := cachekey.Files("lib/study/embeddings_present.go")
	if err != nil {
		return nil, nil, err
	}
	opt := textenc.DefaultParaphraseOptions()
	var out []*textenc.Paraphrases
	var missing []features.Unavailable
	for _, name := range names {
		enc, err := textenc.Encoders.Open(name)
		if err != nil {
			missing = append(missing, features.Unavailable{Encoder: name, Reason: project.Relative(err.Error())})
			continue
		}
		key, err := cachekey.Key("paraphrases", opt, []string{"lib/textenc"}, name, enc.Weights(), cachekey.Value(caps), code)
		if err != nil {
			return nil, nil, err
		}
		p, err := cached("paraphrases-"+name, key, func() (*textenc.Paraphrases, error) { return textenc.CheckParaphrases(enc, caps, opt) })
		if err != nil {
			return nil, nil, err
		}
		out = append(out, p)
	}
	return out, missing, nil
}

// missingOf returns the unavailable encoders among names.
func missingOf(r *EmbeddingsReport, names []string) []features.Unavailable {
	var out []features.Unavailable
	for _, m := range r.Missing {
		if slices.Contains(names, m.Encoder) {
			out = append(out, m)
		}
	}
	return out
}

// ImageEncodersTable is every image encoder: its dimensions and photos, or why it is
// unavailable.
func ImageEncodersTable(r *EmbeddingsReport) ([]string, [][]string) {
	var rows [][]string
	for _, t := range r.Images {
		rows = append(rows, []string{t.Encoder, fmt.Sprint(t.Dim), fmt.Sprint(len(t.Vecs)), "ready"})
	}
	for _, m := range missingOf(r, features.ImageEncoders) {
		rows = append(rows, []string{m.Encoder, "", "", "unavailable: " + m.Reason})
	}
	return []string{"image encoder", "dims", "photos", "status"}, rows
}

// objectsLine is what CenterNet found in a photo ("dog 0.93, frisbee 0.71"), or says
// that it found nothing (nothing when CenterNet is unavailable).
func objectsLine(r *EmbeddingsReport, i int) []string {
	if r.Objects == nil {
		return nil
	}
	if s := r.Objects[i].String(); s != "" {
		return []string{s}
	}
	return []string{fmt.Sprintf("no object scores %.1f", imageenc.ObjectMinScore)}
}

// NeighboursGallery shows, for each image encoder, a photo (by file name) and its k
// nearest photos by cosine, one row per encoder, each photo captioned with what CenterNet
// finds in it.
func NeighboursGallery(r *EmbeddingsReport, photo string, k int) (string, error) {
	q, ok := r.byName[photo]
	if !ok {
		return "", fmt.Errorf("neighbours of %q: not one of the %d photos", photo, len(r.Photos))
	}
	var items []gallery.Item
	for _, t := range r.Images {
		near, err := t.Nearest(photo, k)
		if err != nil {
			return "", err
		}
		items = append(items, gallery.Item{Path: r.Photos[q], Title: "query (" + t.Encoder + ")", Lines: objectsLine(r, q)})
		for _, n := range near {
			i := r.byName[n.Key]
			items = append(items, gallery.Item{Path: r.Photos[i], Title: fmt.Sprintf("cosine %.3f", n.Cosine), Lines: objectsLine(r, i)})
		}
	}
	return gallery.HTML(items, k+1), nil
}

// MapChart draws every photo on the first two principal components of an image
// encoder's embeddings.
func MapChart(r *EmbeddingsReport, encoder string) (string, error) {
	i := slices.IndexFunc(r.Images, func(t *features.Table) bool { return t.Encoder == encoder })
	if i < 0 {
		return "", fmt.Errorf("map of the collection: image encoder %q not available", encoder)
	}
	keys := make([]string, len(r.Photos))
	for j, p := range r.Photos {
		keys[j] = filepath.Base(p)
	}
	vecs, err := r.Images[i].Rows(keys)
	if err != nil {
		return "", err
	}
	xy, err := features.PCA(vecs, 2)
	if err != nil {
		return "", err
	}
	x, y := make([]float64, len(xy)), make([]float64, len(xy))
	for j, p := range xy {
		x[j], y[j] = p[0], p[1]
	}
	return charts.Scatter("Photos on the first two principal components of "+encoder, "PC 1", "PC 2", x, y, false)
}

// nsfwThresholds are the NSFW chart's categories.
var nsfwThresholds = []float32{0.1, 0.3, 0.5, 0.7, 0.9}

// NSFWChart counts, for each of the head's classes, the photos whose probability exceeds
// each threshold.
func NSFWChart(r *EmbeddingsReport) (string, error) {
	counts := imageenc.CountAbove(r.NSFW, nsfwThresholds)
	cats := make([]string, len(nsfwThresholds))
	for i, th := range nsfwThresholds {
		cats[i] = fmt.Sprintf("> %.1f", th)
	}
	var series []charts.Series
	for c, name := range imageenc.NSFWClasses {
		v := make([]float64, len(counts[c]))
		for i, n := range counts[c] {
			v[i] = float64(n)
		}
		series = append(series, charts.Series{Name: name, Values: v})
	}
	return charts.Bars(fmt.Sprintf("Photos whose class probability exceeds a threshold (of %d)", len(r.NSFW)), "photos", cats, series)
}

// NSFWGallery says how many photos a gallery blurs (gallery.Flagged) and shows the n
// photos the head scores highest for "Porn", blurred where gallery.HTML blurs them.
func NSFWGallery(r *EmbeddingsReport, n int) string {
	flagged := 0
	for _, s := range r.NSFW {
		if gallery.Flagged(s) {
			flagged++
		}
	}
	var items []gallery.Item
	for _, i := range imageenc.MostLikely(r.NSFW, 3, n) {
		class, p := r.NSFW[i].Top()
		items = append(items, gallery.Item{Path: r.Photos[i], Title: fmt.Sprintf("Porn %.2f · Sexy %.2f", r.NSFW[i][3], r.NSFW[i][4]),
			Lines: []string{fmt.Sprintf("top class: %s (%.2f)", class, p)}})
	}
	head := fmt.Sprintf(`<p style="font-family:sans-serif">A gallery blurs a photo when "Porn", "Hentai" or "Sexy" scores above %.1f: <b>%d</b> of %d photos. The %d photos with the highest "Porn" probability:</p>`,
		gallery.FlagThreshold, flagged, len(r.NSFW), len(items))
	return head + gallery.HTML(items, 4)
}

// ObjectsGallery shows photos (by file name) captioned with the objects CenterNet finds
// in them, "dog 0.93, frisbee 0.71", or says why CenterNet is unavailable.
func ObjectsGallery(r *EmbeddingsReport, photos []string) (string, error) {
	if r.Objects == nil {
		return centerNetUnavailable(r), nil
	}
	var items []gallery.Item
	for _, name := range photos {
		i, ok := r.byName[name]
		if !ok {
			return "", fmt.Errorf("what CenterNet sees: %q is not one of the %d photos", name, len(r.Photos))
		}
		items = append(items, gallery.Item{Path: r.Photos[i], Title: name, Lines: objectsLine(r, i)})
	}
	return gallery.HTML(items, 4), nil
}

func centerNetUnavailable(r *EmbeddingsReport) string {
	return `<p style="font-family:sans-serif"><i>CenterNet unavailable</i>: ` + html.EscapeString(r.ObjectsErr) + "</p>"
}

// ObjectCount is how many photos CenterNet finds a class in.
type ObjectCount struct {
	Class  string  `json:"class"`
	Photos int     `json:"photos"`
	Best   float64 `json:"mean_best_score"` // mean over those photos of the class's best selected score
}

// objectCounts counts the photos each class is selected in (imageenc.SelectObjects),
// most photos first (ties by class name), and the photos with no object at all.
func objectCounts(objs []imageenc.PhotoObjects) (counts []ObjectCount, none int) {
	byClass := map[string]*ObjectCount{}
	for _, o := range objs {
		if len(o.Found) == 0 {
			none++
		}
		best := map[string]float64{}
		for _, d := range o.Found {
			best[d.Label()] = max(best[d.Label()], float64(d.Score))
		}
		for c, s := range best {
			if byClass[c] == nil {
				byClass[c] = &ObjectCount{Class: c}
			}
			byClass[c].Photos++
			byClass[c].Best += s
		}
	}
	for _, c := range byClass {
		c.Best /= float64(c.Photos)
		counts = append(counts, *c)
	}
	slices.SortFunc(counts, func(a, b ObjectCount) int {
		return cmp.Or(cmp.Compare(b.Photos, a.Photos), cmp.Compare(a.Class, b.Class))
	})
	return counts, none
}

// ObjectsTable is the n classes CenterNet finds in most photos, then the photos where it
// finds nothing (a row saying why, where CenterNet is unavailable).
func ObjectsTable(r *EmbeddingsReport, n int) ([]string, [][]string) {
	header := []string{"COCO class", "photos", "share", "mean best score"}
	if r.Objects == nil {
		return header, [][]string{{"unavailable: " + r.ObjectsErr, "", "", ""}}
	}
	counts, none := objectCounts(r.Objects)
	share := func(k int) string { return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(len(r.Objects))) }
	var rows [][]string
	for _, c := range counts[:min(n, len(counts))] {
		rows = append(rows, []string{c.Class, fmt.Sprint(c.Photos), share(c.Photos), fmt.Sprintf("%.2f", c.Best)})
	}
	return header, append(rows, []string{"(no object)", fmt.Sprint(none), share(none), ""})
}

// ParaphraseLine says what the paraphrase check compared.
func ParaphraseLine(r *EmbeddingsReport) string {
	if len(r.Paraphrases) == 0 {
		return "No text encoder available."
	}
	p := r.Paraphrases[0]
	return fmt.Sprintf("Over %d captions of %d photos: %d same-photo pairs against %d drawn different-photo pairs (seed %d).",
		p.Captions, p.Photos, p.SamePairs, p.DiffPairs, p.Seed)
}

// ParaphraseTable is every text encoder's paraphrase check, or why it is unavailable.
func ParaphraseTable(r *EmbeddingsReport) ([]string, [][]string) {
	var rows [][]string
	for _, p := range r.Paraphrases {
		oov := ""
		if p.Coverage != nil {
			oov = fmt.Sprintf("%.1f%%", 100*p.Coverage.OOVRate())
		}
		rows = append(rows, []string{p.Encoder, fmt.Sprintf("%.3f", p.AUC), fmt.Sprintf("%.3f", p.MeanSame), fmt.Sprintf("%.3f", p.MeanDiff),
			fmt.Sprintf("%.1f%%", 100*p.NearestSamePhoto), fmt.Sprintf("%.1f%%", 100*p.ChanceNearest), oov, "ready"})
	}
	for _, m := range missingOf(r, features.TextEncoders) {
		rows = append(rows, []string{m.Encoder, "", "", "", "", "", "", "unavailable: " + m.Reason})
	}
	return []string{"text encoder", "paraphrase AUC", "mean cosine, same photo", "mean cosine, other photos",
		"nearest caption from the same photo", "by chance", "words not in GloVe", "status"}, rows
}

// OOVLine lists each GloVe encoder's most frequent unknown words.
func OOVLine(r *EmbeddingsReport) string {
	var b strings.Builder
	for _, p := range r.Paraphrases {
		if len(p.TopOOV) == 0 {
			continue
		}
		var w []string
		for _, c := range p.TopOOV[:min(10, len(p.TopOOV))] {
			w = append(w, fmt.Sprintf("%s (%d)", c.Word, c.Count))
		}
		fmt.Fprintf(&b, "* **%s**, most frequent unknown words: %s\n", p.Encoder, strings.Join(w, ", "))
	}
	return b.String()
}

// CaptionNeighbours shows, for each text encoder, the captions nearest to the first
// example caption, marking those of the same photo.
func CaptionNeighbours(r *EmbeddingsReport) string {
	var b strings.Builder
	for _, p := range r.Paraphrases {
		if len(p.Examples) == 0 {
			continue
		}
		ex := p.Examples[0]
		var rows [][]string
		for _, n := range ex.Neighbors {
			same := ""
			if n.SamePhoto {
				same = "✓"
			}
			rows = append(rows, []string{n.Text, fmt.Sprintf("%.3f", n.Cosine), same})
		}
		fmt.Fprintf(&b, `<p style="font-family:sans-serif"><b>%s</b>: captions nearest to <i>%s</i></p>`, html.EscapeString(p.Encoder), html.EscapeString(ex.Query.Text))
		b.WriteString(gallery.Table([]string{"caption", "cosine", "same photo"}, rows))
	}
	return b.String()
}

// imageSummary and textSummary are the embeddings section's rows.
type imageSummary struct {
	Encoder string `json:"encoder"`
	Dim     int    `json:"dim"`
	Photos  int    `json:"photos"`
}

type textSummary struct {
	Encoder          string  `json:"encoder"`
	AUC              float64 `json:"paraphrase_auc"`
	NearestSamePhoto float64 `json:"nearest_same_photo"`
	ChanceNearest    float64 `json:"chance_nearest"`
	OOVRate          float64 `json:"oov_rate,omitempty"`
}

// WriteEmbeddings records the "embeddings" section of results/metrics.json: every
// available encoder's summary, those unavailable, and (where CenterNet ran) the photos
// per detected class.
func WriteEmbeddings(r *EmbeddingsReport) error {
	var names []string
	var is []imageSummary
	for _, t := range r.Images {
		names = append(names, t.Encoder)
		is = append(is, imageSummary{t.Encoder, t.Dim, len(t.Vecs)})
	}
	var ts []textSummary
	for _, p := range r.Paraphrases {
		names = append(names, p.Encoder)
		s := textSummary{Encoder: p.Encoder, AUC: p.AUC, NearestSamePhoto: p.NearestSamePhoto, ChanceNearest: p.ChanceNearest}
		if p.Coverage != nil {
			s.OOVRate = p.Coverage.OOVRate()
		}
		ts = append(ts, s)
	}
	section := map[string]any{"provenance": results.Here(names...), "image": is, "text": ts, "unavailable": r.Missing}
	if r.Objects != nil {
		counts, none := objectCounts(r.Objects)
		section["objects"] = map[string]any{"min_score": imageenc.ObjectMinScore, "photos": len(r.Objects), "none": none, "classes": counts}
	}
	return results.Update("embeddings", section)
}

// EmbeddingsConclusion states what notebook 02 measured: the text encoders in order of
// paraphrase AUC, and how many photos CenterNet finds objects in.
func EmbeddingsConclusion(r *EmbeddingsReport) string {
	var b strings.Builder
	ps := slices.Clone(r.Paraphrases)
	slices.SortStableFunc(ps, func(a, b *textenc.Paraphrases) int { return cmp.Compare(b.AUC, a.AUC) })
	var auc []string
	for _, p := range ps {
		auc = append(auc, fmt.Sprintf("%s %.3f", p.Encoder, p.AUC))
	}
	if len(ps) > 0 {
		fmt.Fprintf(&b, "* Paraphrase AUC, best first (0.5 = chance): %s; the nearest caption is from the same photo for %.1f%% of captions with %s (%.1f%% by chance).\n",
			strings.Join(auc, ", "), 100*ps[0].NearestSamePhoto, ps[0].Encoder, 100*ps[0].ChanceNearest)
	}
	if r.Objects != nil {
		counts, none := objectCounts(r.Objects)
		var top []string
		for _, c := range counts[:min(3, len(counts))] {
			top = append(top, fmt.Sprintf("%s (%d)", c.Class, c.Photos))
		}
		fmt.Fprintf(&b, "* CenterNet finds at least one object scoring %.1f in %d of %d photos; the classes in most photos: %s.\n",
			imageenc.ObjectMinScore, len(r.Objects)-none, len(r.Objects), strings.Join(top, ", "))
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "* *%s* was not measured here: %s\n", m.Encoder, m.Reason)
	}
	return b.String()
}
